"""The REST API for valuation rounds and their values, tested through its URLs.

Staff and partners see every round and value; a contributor sees only the rounds they are valued
in and, in each, only their own value: another contributor's numbers appear in no response.
Creating and starting rounds needs staff, or a partner API key with the ``rounds:write`` scope.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from pytest_django import Settings
from rest_framework.test import APIClient

from attribution.models import ValuationRound
from attribution.rounds import execution
from attribution.rounds.services import create_payouts
from marketplace.models import ApiKey, Contributor, PayoutBatch, User
from tests.attribution.factories import (
    FakeEngine,
    make_contributor,
    make_model_version,
    make_round,
    make_succeeded_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

API = "/api/v1/"
Status = ValuationRound.Status

# Distinctive values: a leak of bob's or carol's numbers would show up as these digits.
VALUES = {"alice": 1.2345678, "bob": 7.6543219, "carol": 3.1415926}


@pytest.fixture(autouse=True)
def _generous_throttles(settings: Settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "10000/minute", "user": "10000/minute"},
    }
    cache.clear()


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine(values=VALUES)
    monkeypatch.setattr(execution, "run_engine", fake)
    return fake


def key_client(user: User, scopes: tuple[str, ...] = ()) -> tuple[APIClient, ApiKey]:
    key, plaintext = ApiKey.create(user, "test key", scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    return client, key


def session_client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("root", role=User.Role.STAFF, is_staff=True)


@pytest.fixture
def partner() -> User:
    return User.objects.create_user("lab", role=User.Role.PARTNER)


def contributor_client(key: str) -> APIClient:
    contributor = Contributor.objects.get(key=key)
    return session_client(User.objects.create_user(f"{key}-user", contributor=contributor))


def body(response: Any) -> Any:
    assert response.status_code < 300, response.content
    return response.json()


def round_payload(**fields: Any) -> dict[str, Any]:
    version = make_model_version(("dora", "emil"))
    for key in ("dora", "emil"):
        if not Contributor.objects.filter(key=key).exists():
            make_contributor(key)
    return {
        "title": "Spring valuation",
        "model_version": version.pk,
        "contributors": ["dora", "emil"],
        "metric": "class_entropy",
        "estimator": "exact",
        "budget": 16,
        "n_samples": 4,
        "pool": "250.00",
        "currency": "EUR",
        **fields,
    }


# --- reading rounds ---------------------------------------------------------------------------


def test_a_round_shows_its_state_results_and_config_hash(staff: User) -> None:
    round = make_succeeded_round(VALUES)
    data = body(session_client(staff).get(f"{API}rounds/{round.pk}/"))
    assert data["status"] == "succeeded"
    assert data["stage"] == "done"
    assert data["progress"] == 1.0
    assert data["metric"] == round.metric
    assert data["estimator"] == round.estimator
    assert data["budget"] == 16
    assert data["pool"] == "100.00"  # exactly the currency's minor units
    assert data["pool_minor"] == 10000
    assert data["currency"] == "EUR"
    assert data["grand_value"] == pytest.approx(sum(VALUES.values()))  # v(N)
    assert data["baseline"] == 0.0  # v(∅)
    assert data["config_hash"] == round.config_hash
    assert len(data["config_hash"]) == 64
    assert data["created_at"]
    assert data["finished_at"]
    assert sorted(data["contributors"]) == ["alice", "bob", "carol"]


def test_staff_and_partners_see_every_round_contributors_only_their_own(
    staff: User, partner: User
) -> None:
    valued = make_round(("alice", "bob"))
    other = make_round(("carol", "dave"), version=make_model_version(("carol", "dave")))
    for client in (session_client(staff), key_client(partner)[0], session_client(partner)):
        listed = body(client.get(API + "rounds/"))["results"]
        assert {r["id"] for r in listed} == {valued.pk, other.pk}
    alice = contributor_client("alice")
    assert [r["id"] for r in body(alice.get(API + "rounds/"))["results"]] == [valued.pk]
    assert alice.get(f"{API}rounds/{other.pk}/").status_code == 404
    assert alice.get(f"{API}rounds/{other.pk}/values/").status_code == 404


def test_a_user_acting_for_no_contributor_sees_no_rounds() -> None:
    make_round()
    nobody = session_client(User.objects.create_user("visitor"))
    assert body(nobody.get(API + "rounds/"))["results"] == []


def test_rounds_filter_by_status_and_metric(staff: User) -> None:
    draft = make_round(("alice", "bob"), metric="neg_fid")
    done = make_succeeded_round(
        keys=("carol", "dave"),
        version=make_model_version(("carol", "dave")),
        metric="class_entropy",
    )
    client = session_client(staff)

    def ids(**query: str) -> list[int]:
        return [r["id"] for r in body(client.get(API + "rounds/", query))["results"]]

    assert ids(status="draft") == [draft.pk]
    assert ids(status="succeeded", metric="class_entropy") == [done.pk]
    assert ids(metric="neg_fid", status="succeeded") == []
    assert client.get(API + "rounds/", {"metric": "loudness"}).status_code == 400


# --- values: the privacy guarantee ------------------------------------------------------------


def test_staff_and_partners_see_every_value(staff: User, partner: User) -> None:
    round = make_succeeded_round(VALUES)
    for client in (session_client(staff), key_client(partner)[0]):
        rows = body(client.get(f"{API}rounds/{round.pk}/values/"))["results"]
        assert [(row["contributor"], row["rank"]) for row in rows] == [
            ("bob", 1),
            ("carol", 2),
            ("alice", 3),
        ]
        assert rows[0]["value"] == VALUES["bob"]
        assert rows[0]["ci_low"] == pytest.approx(VALUES["bob"] - 0.25)


def test_a_contributor_sees_only_their_own_value_row(staff: User) -> None:
    round = make_succeeded_round(VALUES)
    rows = body(contributor_client("alice").get(f"{API}rounds/{round.pk}/values/"))
    assert rows["count"] == 1
    (row,) = rows["results"]
    assert row["contributor"] == "alice"
    assert row["value"] == VALUES["alice"]
    assert row["rank"] == 3


def leaked_numbers(text: str, keys: tuple[str, ...]) -> list[str]:
    """Any value, CI bound or share of ``keys`` found (as the JSON renders floats) in ``text``."""
    total = sum(VALUES.values())
    numbers = []
    for key in keys:
        value = VALUES[key]
        for number in (value, value - 0.25, value + 0.25, value / total):
            numbers.append(json.dumps(number))
            numbers.append(f"{number:.6f}"[:-1])  # a rounded rendering would leak too
    return [number for number in numbers if number in text]


def test_another_contributors_numbers_appear_in_no_response(staff: User) -> None:
    round = make_succeeded_round(VALUES)
    create_payouts(round.pk)
    alice = contributor_client("alice")
    paths = [
        "rounds/",
        f"rounds/{round.pk}/",
        f"rounds/{round.pk}/values/",
        f"rounds/{round.pk}/values/?page_size=200",
        "payouts/",
        "data-groups/",
        "contributors/",
        "contributors/bob/",
        "model-versions/",
    ]
    seen = ""
    for path in paths:
        response = alice.get(API + path)
        assert response.status_code == 200, (path, response.content)
        seen += response.content.decode()
    assert str(VALUES["alice"]) in seen  # the check can see numbers at all
    assert leaked_numbers(seen, ("bob", "carol")) == []
    staff_view = session_client(staff).get(f"{API}rounds/{round.pk}/values/").content.decode()
    assert leaked_numbers(staff_view, ("bob", "carol"))  # and the numbers exist to leak


# --- creating rounds --------------------------------------------------------------------------


def test_a_partner_key_with_rounds_write_creates_a_draft(partner: User) -> None:
    client, _ = key_client(partner, (ApiKey.ROUNDS_WRITE,))
    response = client.post(API + "rounds/", round_payload())
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft"
    assert data["config_hash"] == ""
    assert sorted(data["contributors"]) == ["dora", "emil"]
    round = ValuationRound.objects.get(pk=data["id"])
    assert round.created_by == partner
    assert round.pool == 250
    assert round.metric == "class_entropy"


def test_staff_create_rounds_with_a_session(staff: User) -> None:
    response = session_client(staff).post(API + "rounds/", round_payload(), format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("how", ["session", "key without scope", "contributor"])
def test_others_cannot_create_rounds(how: str, partner: User) -> None:
    payload = round_payload()
    if how == "session":
        client = session_client(partner)
    elif how == "key without scope":
        client, _ = key_client(partner)
    else:
        client = contributor_client("dora")
    response = client.post(API + "rounds/", payload)
    assert response.status_code == 403
    assert "rounds:write" in response.json()["detail"]
    assert not ValuationRound.objects.exists()


def test_a_revoked_rounds_write_key_fails(partner: User) -> None:
    client, key = key_client(partner, (ApiKey.ROUNDS_WRITE,))
    key.revoke()
    assert client.post(API + "rounds/", round_payload()).status_code == 401
    assert not ValuationRound.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budget": 3}, "budget"),
        ({"contributors": ["dora", "nobody"]}, "contributors"),
        ({"contributors": []}, "contributors"),
        ({"contributors": ["dora", "dora"]}, "contributors"),
        ({"model_version": 999999}, "model_version"),
        ({"model_version": 2**70}, "model_version"),
        ({"seed": 2**70}, "seed"),
        ({"pool": "-1"}, "pool"),
        ({"pool": "NaN"}, "pool"),
        ({"currency": "euro"}, "currency"),
        ({"metric": "loudness"}, "metric"),
        ({"title": ""}, "title"),
        ({"n_samples": 0}, "n_samples"),
    ],
)
def test_invalid_rounds_are_a_400_naming_the_field(change: dict, field: str, staff: User) -> None:
    response = session_client(staff).post(API + "rounds/", round_payload(**change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not ValuationRound.objects.exists()


# --- starting rounds --------------------------------------------------------------------------


def test_starting_a_draft_runs_it_and_its_values_appear(
    engine: FakeEngine, partner: User, django_capture_on_commit_callbacks: Any
) -> None:
    client, _ = key_client(partner, (ApiKey.ROUNDS_WRITE,))
    round = make_round()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{API}rounds/{round.pk}/start/")
    assert response.status_code == 202, response.content
    assert len(response.json()["config_hash"]) == 64
    assert engine.n_calls == 1
    data = body(client.get(f"{API}rounds/{round.pk}/"))
    assert data["status"] == "succeeded"
    values = body(client.get(f"{API}rounds/{round.pk}/values/"))["results"]
    assert {row["contributor"]: row["value"] for row in values} == VALUES


def test_starting_a_round_twice_is_a_409(
    engine: FakeEngine, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    round = make_round()
    client = session_client(staff)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{API}rounds/{round.pk}/start/").status_code == 202
    again = client.post(f"{API}rounds/{round.pk}/start/")
    assert again.status_code == 409
    assert "only drafts can start" in again.json()["detail"]
    assert engine.n_calls == 1


def test_a_round_that_cannot_run_is_a_400_with_the_reason(staff: User) -> None:
    empty = Contributor.objects.create(key="empty", name="Empty")
    round = make_round(("alice", "empty"), contributors=[make_contributor("alice"), empty])
    response = session_client(staff).post(f"{API}rounds/{round.pk}/start/")
    assert response.status_code == 400
    assert "empty has no accepted data" in response.json()["detail"]
    round.refresh_from_db()
    assert round.status == Status.DRAFT


def test_start_needs_the_scope_and_a_visible_round(partner: User, staff: User) -> None:
    round = make_round()
    client, _ = key_client(partner)
    assert client.post(f"{API}rounds/{round.pk}/start/").status_code == 403
    assert contributor_client("alice").post(f"{API}rounds/{round.pk}/start/").status_code == 403
    assert session_client(staff).post(f"{API}rounds/999999/start/").status_code == 404
    round.refresh_from_db()
    assert round.status == Status.DRAFT


def test_start_only_accepts_post(staff: User) -> None:
    round = make_round()
    response = session_client(staff).get(f"{API}rounds/{round.pk}/start/")
    assert response.status_code == 405
    assert not PayoutBatch.objects.exists()


@pytest.mark.parametrize("key", ["\x00a", "x" * 500, 7])
def test_a_contributor_key_no_contributor_could_have_is_a_400(staff: User, key: Any) -> None:
    response = session_client(staff).post(
        API + "rounds/", round_payload(contributors=[key]), format="json"
    )

    assert response.status_code == 400
    assert "contributors" in response.json()
