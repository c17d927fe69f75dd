"""The REST API for people, data, payouts and API keys, tested through its URLs.

Authorization matrix: anonymous requests are refused (401) everywhere except the public schema
and docs; a contributor sees only their own data groups and payouts; partners see neither;
staff see everything. Objects one may not see answer 404.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from pytest_django import Settings
from rest_framework.test import APIClient

from marketplace.models import (
    ApiKey,
    Contributor,
    DataGroup,
    DataRecord,
    ModelVersion,
    Payout,
    PayoutBatch,
    User,
)
from tests.marketplace.uploads.upload_corpus import csv_bytes, png, zip_archive

pytestmark = pytest.mark.django_db

API = "/api/v1/"
GENEROUS_RATES = {"anon": "10000/minute", "user": "10000/minute"}


@pytest.fixture(autouse=True)
def _isolated(settings: Settings, tmp_path: Path) -> None:
    """Uploads go to a per-test folder; throttling never interferes unless a test asks."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": GENEROUS_RATES,
    }
    cache.clear()  # throttle histories live in the default cache


@pytest.fixture
def ada() -> Contributor:
    return Contributor.objects.create(key="ada", name="Ada", kind=Contributor.Kind.PERSON)


@pytest.fixture
def bob() -> Contributor:
    return Contributor.objects.create(key="bob", name="Bob Ltd", kind="organisation")


def make_user(username: str, **fields: object) -> User:
    return User.objects.create_user(username, email=f"{username}@example.com", **fields)


def session_client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def key_client(user: User, scopes: tuple[str, ...] = ()) -> APIClient:
    _, plaintext = ApiKey.create(user, "test key", scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    return client


@pytest.fixture
def ada_client(ada: Contributor) -> APIClient:
    return session_client(make_user("ada", contributor=ada))


@pytest.fixture
def staff_client() -> APIClient:
    return session_client(make_user("root", role=User.Role.STAFF, is_staff=True))


@pytest.fixture
def partner() -> User:
    return make_user("lab", role=User.Role.PARTNER)


def add_group(contributor: Contributor, title: str, status: str = DataGroup.Status.ACCEPTED):
    return DataGroup.objects.create(contributor=contributor, title=title, status=status)


def add_payouts(amounts: dict[Contributor, str]) -> PayoutBatch:
    batch = PayoutBatch.objects.create(pool=Decimal(100), currency="EUR", negative_policy="floor")
    for contributor, amount in amounts.items():
        Payout.objects.create(
            batch=batch, contributor=contributor, amount=Decimal(amount), share=Decimal("0.5")
        )
    return batch


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- authentication and the authorization matrix ----------------------------------------------

PROTECTED = [
    ("get", "contributors/"),
    ("get", "contributors/ada/"),
    ("get", "data-groups/"),
    ("post", "data-groups/"),
    ("get", "data-groups/1/"),
    ("get", "model-versions/"),
    ("get", "model-versions/1/"),
    ("get", "payouts/"),
    ("get", "payouts/1/"),
    ("get", "rounds/"),
    ("post", "rounds/"),
    ("get", "rounds/1/"),
    ("post", "rounds/1/start/"),
    ("get", "rounds/1/values/"),
    ("get", "api-keys/"),
    ("post", "api-keys/"),
    ("delete", "api-keys/abcd1234/"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_anonymous_requests_are_refused_with_401(method: str, path: str, ada: Contributor) -> None:
    response = getattr(APIClient(), method)(API + path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api", Api-Key realm="api"'
    assert "Authorization: Bearer <prefix>.<secret>" in response.json()["detail"]


def test_the_schema_and_the_docs_are_public_and_the_docs_work_offline() -> None:
    client = APIClient()
    schema = client.get(API + "schema/", {"format": "json"})
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Creditshare API"
    for page in ("docs/",):
        html = client.get(API + page)
        assert html.status_code == 200
        text = html.content.decode()
        assert "drf_spectacular_sidecar" in text
        assert "cdn.jsdelivr" not in text
        assert "unpkg" not in text


def test_the_swagger_ui_assets_are_served_locally() -> None:
    response = APIClient().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
    assert response.status_code == 200


def test_a_valid_api_key_authenticates_and_records_its_use(ada: Contributor) -> None:
    user = make_user("ada", contributor=ada)
    key, plaintext = ApiKey.create(user, "script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    assert client.get(API + "contributors/").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize("keyword", ["Bearer", "bearer", "Api-Key", "api-key"])
def test_the_key_is_accepted_after_bearer_or_api_key(keyword: str, ada: Contributor) -> None:
    _, plaintext = ApiKey.create(make_user("ada", contributor=ada), "script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {plaintext}")
    assert client.get(API + "contributors/").status_code == 200


@pytest.mark.parametrize("header", ["{plaintext}", "Token {plaintext}", "Basic YWRhOnB3"])
def test_another_header_form_answers_401_naming_the_expected_one(
    header: str, ada: Contributor
) -> None:
    _, plaintext = ApiKey.create(make_user("ada", contributor=ada), "script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(plaintext=plaintext))
    response = client.get(API + "contributors/")
    assert response.status_code == 401
    assert "'Authorization: Bearer <prefix>.<secret>'" in response.json()["detail"]


def test_the_key_is_stored_only_as_a_prefix_and_a_hash(ada: Contributor) -> None:
    key, plaintext = ApiKey.create(make_user("ada", contributor=ada), "script")
    prefix, secret = plaintext.split(".")
    assert key.prefix == prefix
    assert len(prefix) == ApiKey.PREFIX_LENGTH
    stored = ApiKey.objects.values().get(pk=key.pk)
    assert secret not in str(stored)
    assert key.matches(secret)
    assert not key.matches(secret + "x")


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key nonsense",
        "Api-Key zzzzzzzz.not-the-secret",
        "Api-Key {prefix}.wrong-secret",
        "Api-Key {prefix}",
        "Api-Key {plaintext} extra",
        "Api-Key",
        "Bearer {prefix}.wrong-secret",
        "Bearer",
    ],
)
def test_bad_api_keys_answer_401(header: str, ada: Contributor) -> None:
    key, plaintext = ApiKey.create(make_user("ada", contributor=ada), "script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(prefix=key.prefix, plaintext=plaintext))
    response = client.get(API + "contributors/")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_revoked_key_answers_401(ada: Contributor) -> None:
    key, plaintext = ApiKey.create(make_user("ada", contributor=ada), "script")
    key.revoke()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    response = client.get(API + "contributors/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_the_key_of_a_deactivated_user_answers_401(ada: Contributor) -> None:
    user = make_user("ada", contributor=ada)
    client = key_client(user)
    user.is_active = False
    user.save()
    assert client.get(API + "contributors/").status_code == 401


# --- contributors and model versions ----------------------------------------------------------


def test_contributors_show_only_their_public_fields(
    ada: Contributor, bob: Contributor, partner: User
) -> None:
    make_user("ada", contributor=ada)
    response = key_client(partner).get(API + "contributors/")
    assert results(response) == [
        {"key": "ada", "name": "Ada", "kind": "person"},
        {"key": "bob", "name": "Bob Ltd", "kind": "organisation"},
    ]
    assert b"@example.com" not in response.content
    detail = key_client(partner).get(API + "contributors/bob/")
    assert detail.json() == {"key": "bob", "name": "Bob Ltd", "kind": "organisation"}
    assert key_client(partner).get(API + "contributors/nobody/").status_code == 404


def test_model_versions_are_listed_without_local_paths(partner: User) -> None:
    ModelVersion.objects.create(
        name="sd-lora", kind="text_to_image", conditions="prompt", path="/srv/models/secret"
    )
    listed = results(key_client(partner).get(API + "model-versions/"))
    assert [version["name"] for version in listed] == ["sd-lora"]
    assert "path" not in listed[0]
    assert "/srv/models" not in str(listed)


# --- data groups ------------------------------------------------------------------------------


def test_a_contributor_sees_only_their_own_data_groups(
    ada: Contributor, bob: Contributor, ada_client: APIClient
) -> None:
    own = add_group(ada, "ada's scans")
    other = add_group(bob, "bob's secret scans")
    listed = results(ada_client.get(API + "data-groups/"))
    assert [group["id"] for group in listed] == [own.pk]
    assert listed[0]["contributor"] == "ada"
    assert ada_client.get(f"{API}data-groups/{own.pk}/").status_code == 200
    refused = ada_client.get(f"{API}data-groups/{other.pk}/")
    assert refused.status_code == 404
    assert b"secret" not in refused.content


def test_staff_see_every_data_group_and_partners_none(
    ada: Contributor, bob: Contributor, staff_client: APIClient, partner: User
) -> None:
    groups = [add_group(ada, "a"), add_group(bob, "b")]
    assert {g["id"] for g in results(staff_client.get(API + "data-groups/"))} == {
        g.pk for g in groups
    }
    assert results(key_client(partner).get(API + "data-groups/")) == []
    assert key_client(partner).get(f"{API}data-groups/{groups[0].pk}/").status_code == 404


def test_data_groups_filter_by_status(ada: Contributor, ada_client: APIClient) -> None:
    add_group(ada, "kept", DataGroup.Status.ACCEPTED)
    add_group(ada, "waiting", DataGroup.Status.PENDING)
    listed = results(ada_client.get(API + "data-groups/", {"status": "pending"}))
    assert [group["title"] for group in listed] == ["waiting"]
    invalid = ada_client.get(API + "data-groups/", {"status": "bogus"})
    assert invalid.status_code == 400
    assert "status" in invalid.json()


def test_uploading_images_through_the_api_creates_a_pending_group(
    ada: Contributor, ada_client: APIClient
) -> None:
    response = ada_client.post(
        API + "data-groups/",
        {
            "title": "digits",
            "consent": "true",
            "label": "7",
            "images": [
                SimpleUploadedFile("a.png", png(1), "image/png"),
                SimpleUploadedFile("b.png", png(2), "image/png"),
            ],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "digits"
    assert body["status"] == "pending"
    assert body["n_records"] == 2
    assert body["contributor"] == "ada"
    group = DataGroup.objects.get(pk=body["id"])
    assert group.contributor == ada
    assert sorted(group.records.values_list("label", flat=True)) == ["7", "7"]


def test_uploading_a_zip_with_labels_through_the_api(
    ada: Contributor, ada_client: APIClient
) -> None:
    archive = zip_archive(
        [
            ("one.png", png(1)),
            ("two.png", png(2)),
            ("labels.csv", csv_bytes("file,label", [("one.png", "1"), ("two.png", "2")])),
        ]
    )
    response = ada_client.post(
        API + "data-groups/",
        {
            "title": "zipped",
            "consent": "true",
            "archive": SimpleUploadedFile("d.zip", archive, "application/zip"),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    labels = DataRecord.objects.filter(group_id=response.json()["id"]).values_list("label")
    assert sorted(label for (label,) in labels) == ["1", "2"]


def test_a_bad_file_is_refused_with_its_problem_and_nothing_is_saved(
    ada: Contributor, ada_client: APIClient, tmp_path: Path
) -> None:
    response = ada_client.post(
        API + "data-groups/",
        {
            "title": "mixed",
            "consent": "true",
            "images": [
                SimpleUploadedFile("good.png", png(1), "image/png"),
                SimpleUploadedFile("notes.png", b"just text", "image/png"),
                SimpleUploadedFile("copy.png", png(1), "image/png"),
            ],
        },
        format="multipart",
    )
    assert response.status_code == 400
    # The header check refuses notes.png, so nothing is decoded: copy.png's duplicate (a decoded
    # pixel hash) is not looked for.
    assert response.json()["problems"] == [
        "notes.png: not an image (the content is not PNG, JPEG or WebP)"
    ]
    assert not DataGroup.objects.exists()
    assert not DataRecord.objects.exists()
    media = tmp_path / "media"
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))


def an_image() -> SimpleUploadedFile:
    return SimpleUploadedFile("a.png", png(1), "image/png")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"title": "x", "consent": "false", "images": an_image}, "consent: Consent is required"),
        ({"consent": "true", "images": an_image}, "title: This field is required."),
        ({"title": "x", "consent": "true"}, "Send images or one zip archive."),
        ({"title": "x", "consent": "true", "images": "text"}, "images[0]: The submitted data"),
        (
            {"title": "x", "consent": "true", "images": an_image, "archive": an_image},
            "Send either images or one zip archive, not both.",
        ),
    ],
)
def test_an_incomplete_upload_is_a_400_listing_the_problem(
    fields: dict, problem: str, ada_client: APIClient
) -> None:
    fields = {name: value() if callable(value) else value for name, value in fields.items()}
    response = ada_client.post(API + "data-groups/", fields, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert any(line.startswith(problem) for line in body["problems"]), body
    assert body["errors"]
    assert not DataGroup.objects.exists()


def test_an_upload_as_json_is_an_unsupported_media_type(ada_client: APIClient) -> None:
    response = ada_client.post(API + "data-groups/", {"title": "x", "consent": True})
    assert response.status_code == 415
    assert "detail" in response.json()


def test_only_accounts_acting_for_a_contributor_can_upload(
    partner: User, staff_client: APIClient
) -> None:
    upload = {"title": "x", "consent": "true", "images": [SimpleUploadedFile("a.png", png(1))]}
    for client in (key_client(partner), staff_client):
        response = client.post(API + "data-groups/", upload, format="multipart")
        assert response.status_code == 403
    assert not DataGroup.objects.exists()


def test_a_contributor_script_token_can_upload(ada: Contributor) -> None:
    client = key_client(make_user("ada", contributor=ada))
    response = client.post(
        API + "data-groups/",
        {"title": "x", "consent": "true", "images": [SimpleUploadedFile("a.png", png(3))]},
        format="multipart",
    )
    assert response.status_code == 201, response.content


# --- payouts ----------------------------------------------------------------------------------


def test_a_contributor_sees_only_their_own_payouts(
    ada: Contributor, bob: Contributor, ada_client: APIClient, staff_client: APIClient
) -> None:
    batch = add_payouts({ada: "12.3400", bob: "87.6543"})
    listed = results(ada_client.get(API + "payouts/"))
    assert [(p["contributor"], p["amount"]) for p in listed] == [("ada", "12.34")]
    assert listed[0]["amount_minor"] == 1234
    assert listed[0]["currency"] == "EUR"
    assert listed[0]["status"] == "draft"
    bobs = Payout.objects.get(contributor=bob)
    assert ada_client.get(f"{API}payouts/{bobs.pk}/").status_code == 404
    everything = results(staff_client.get(API + "payouts/", {"batch": batch.pk}))
    assert {p["contributor"] for p in everything} == {"ada", "bob"}
    assert b"87.65" not in ada_client.get(API + "payouts/").content


def test_partners_see_no_payouts(ada: Contributor, partner: User) -> None:
    add_payouts({ada: "1.0000"})
    assert results(key_client(partner).get(API + "payouts/")) == []


# --- API keys ---------------------------------------------------------------------------------


def test_a_user_mints_a_key_that_is_shown_once_and_works(
    ada: Contributor, ada_client: APIClient
) -> None:
    response = ada_client.post(API + "api-keys/", {"name": "laptop"})
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith(body["prefix"] + ".")
    assert body["scopes"] == []
    assert body["owner"] == "ada"
    listed = results(ada_client.get(API + "api-keys/"))
    assert [key["prefix"] for key in listed] == [body["prefix"]]
    assert "key" not in listed[0]
    assert body["key"] not in str(listed)
    scripted = APIClient()
    scripted.credentials(HTTP_AUTHORIZATION=f"Api-Key {body['key']}")
    assert scripted.get(API + "data-groups/").status_code == 200


def test_only_staff_may_grant_the_rounds_write_scope(
    partner: User, staff_client: APIClient
) -> None:
    refused = session_client(partner).post(
        API + "api-keys/", {"name": "ci", "scopes": ["rounds:write"]}
    )
    assert refused.status_code == 403
    assert not ApiKey.objects.filter(owner=partner).exists()
    granted = staff_client.post(API + "api-keys/", {"name": "ops", "scopes": ["rounds:write"]})
    assert granted.status_code == 201
    assert granted.json()["scopes"] == ["rounds:write"]
    unknown = staff_client.post(API + "api-keys/", {"name": "x", "scopes": ["admin:all"]})
    assert unknown.status_code == 400


def test_revoking_a_key_stops_it_at_once(ada: Contributor, ada_client: APIClient) -> None:
    plaintext = ada_client.post(API + "api-keys/", {"name": "old"}).json()["key"]
    prefix = plaintext.split(".")[0]
    assert ada_client.delete(f"{API}api-keys/{prefix}/").status_code == 204
    assert ada_client.delete(f"{API}api-keys/{prefix}/").status_code == 204  # idempotent
    scripted = APIClient()
    scripted.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    assert scripted.get(API + "contributors/").status_code == 401
    assert ApiKey.objects.get(prefix=prefix).revoked_at is not None


def test_nobody_revokes_someone_elses_key(ada: Contributor, partner: User) -> None:
    key, _ = ApiKey.create(partner, "lab")
    ada_client = session_client(make_user("ada", contributor=ada))
    assert ada_client.delete(f"{API}api-keys/{key.prefix}/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_create_api_key_command_prints_the_key_once(partner: User) -> None:
    out = StringIO()
    call_command("create_api_key", "lab", "nightly", "--scope", "rounds:write", stdout=out)
    plaintext = next(word for word in out.getvalue().split() if "." in word and len(word) > 20)
    key = ApiKey.objects.get(owner=partner)
    assert plaintext.startswith(key.prefix + ".")
    assert key.scopes == ["rounds:write"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    assert client.get(API + "rounds/").status_code == 200
    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_key", "nobody", "x", stdout=StringIO())
    with pytest.raises(CommandError, match="name"):
        call_command("create_api_key", "lab", " ", stdout=StringIO())


# --- pagination, errors and throttling --------------------------------------------------------


def test_lists_are_paginated_by_50_up_to_200(partner: User) -> None:
    Contributor.objects.bulk_create(
        Contributor(key=f"c{index:03d}", name=f"C{index}") for index in range(205)
    )
    client = key_client(partner)
    first = client.get(API + "contributors/").json()
    assert first["count"] == 205
    assert len(first["results"]) == 50
    assert first["next"].endswith("?page=2")
    assert first["previous"] is None
    last = client.get(API + "contributors/", {"page": 5}).json()
    assert [c["key"] for c in last["results"]] == ["c200", "c201", "c202", "c203", "c204"]
    assert len(client.get(API + "contributors/", {"page_size": 1000}).json()["results"]) == 200
    assert client.get(API + "contributors/", {"page": 99}).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "no-such-endpoint/", 404),
        ("get", "data-groups/999999/", 404),
        ("get", "data-groups/abc/", 404),
        ("delete", "contributors/", 405),
        ("put", "data-groups/1/", 405),
        ("get", "contributors/?page=abc", 404),
    ],
)
def test_errors_are_json(method: str, path: str, status: int, staff_client: APIClient) -> None:
    response = getattr(staff_client, method)(API + path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_malformed_json_is_a_400(staff_client: APIClient) -> None:
    response = staff_client.post(
        API + "api-keys/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


def test_too_many_requests_are_throttled_with_429(settings: Settings, partner: User) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "3/minute"},
    }
    client = key_client(partner)
    statuses = [client.get(API + "contributors/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = client.get(API + "contributors/")
    assert throttled.status_code == 429
    assert "Retry-After" in throttled
    assert "detail" in throttled.json()
    anonymous = [APIClient().get(API + "schema/").status_code for _ in range(3)]
    assert anonymous == [200, 200, 429]
