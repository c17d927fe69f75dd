"""The operator's actions on the dashboard: create, start, cancel, restart, pay out, approve.

Each is checked for who may do it (staff only; contributors 403, anonymous visitors to log in),
its CSRF protection, bad input, and the state rules the services enforce (shown as messages,
never an error page).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from attribution.models import ValuationRound
from attribution.rounds.execution import claim_round
from attribution.rounds.services import create_payouts, start_round
from marketplace.models import Contributor, DataGroup, PayoutBatch, User
from tests.attribution.dashboard.test_views import failed_round, running_round
from tests.attribution.factories import (
    KEYS,
    make_contributor,
    make_model_version,
    make_round,
    make_succeeded_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

Status = ValuationRound.Status


@pytest.fixture
def staffer() -> User:
    return User.objects.create_user("staffer", is_staff=True, role=User.Role.STAFF)


@pytest.fixture
def staff_client(client: Client, staffer: User) -> Client:
    client.force_login(staffer)
    return client


@pytest.fixture
def contributor_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("ada", contributor=make_contributor("ada")))
    return client


def texts(response: HttpResponse) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def round_form(version_pk: int, **fields: Any) -> dict[str, Any]:
    data = {
        "title": "Spring round",
        "model_version": version_pk,
        "who": "all",
        "keys": "",
        "metric": "inception_score",
        "estimator": "surrogate",
        "budget": 64,
        "n_samples": 8,
        "n_bootstrap": 0,
        "seed": 7,
        "pool": "1000.00",
        "currency": "EUR",
        "negative_policy": "floor",
    }
    data.update(fields)
    return data


def write_urls(round: ValuationRound, batch: PayoutBatch) -> list[str]:
    return [
        reverse("round-new"),
        reverse("round-edit", args=[round.pk]),
        reverse("round-start", args=[round.pk]),
        reverse("round-cancel", args=[round.pk]),
        reverse("round-restart", args=[round.pk]),
        reverse("round-create-payouts", args=[round.pk]),
        reverse("round-batch-approve", args=[batch.pk]),
    ]


# --- access and CSRF --------------------------------------------------------------------------


def test_contributors_can_do_nothing(contributor_client: Client) -> None:
    round = make_succeeded_round()
    batch = create_payouts(round.pk)
    for url in write_urls(round, batch):
        assert contributor_client.post(url).status_code == 403, url
    for name in ("round-batch", "round-batch-csv"):
        url = reverse(name, args=[batch.pk])
        assert contributor_client.get(url).status_code == 403, url
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.DRAFT


def test_anonymous_posts_are_sent_to_log_in_and_back_to_the_dashboard(client: Client) -> None:
    round = make_succeeded_round()
    batch = create_payouts(round.pk)
    for url in write_urls(round, batch):
        response = client.post(url)
        assert response.status_code == 302, url
        login = reverse("login") + "?next=" + reverse("round-dashboard-list")
        assert response["Location"] == login, url
    response = client.get(reverse("round-batch", args=[batch.pk]))
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_posts_without_the_csrf_token_are_refused(staffer: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staffer)
    draft = make_round()

    response = client.post(reverse("round-start", args=[draft.pk]))

    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_actions_are_posts_only(staff_client: Client) -> None:
    round = make_succeeded_round()
    batch = create_payouts(round.pk)
    for url in write_urls(round, batch)[2:]:
        assert staff_client.get(url).status_code == 405, url


def test_pages_carry_the_csrf_token_in_their_forms(staff_client: Client) -> None:
    draft = make_round()
    html = staff_client.get(reverse("round-dashboard", args=[draft.pk])).content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'action="{reverse("round-start", args=[draft.pk])}"' in html
    assert '<button type="submit" class="button">Start the round</button>' in html


# --- a new round ------------------------------------------------------------------------------


def test_a_new_round_over_every_eligible_contributor(staff_client: Client, staffer: User) -> None:
    version = make_model_version((*KEYS, "dave"))
    for key in KEYS:
        make_contributor(key)
    make_contributor("dave", status=DataGroup.Status.PENDING)  # no accepted data: left out
    make_contributor("erin")  # accepted data, but the model has no class for erin: left out

    response = staff_client.post(reverse("round-new"), round_form(version.pk))

    round = ValuationRound.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("round-dashboard", args=[round.pk])
    assert round.status == Status.DRAFT
    assert sorted(round.contributors.values_list("key", flat=True)) == list(KEYS)
    assert round.created_by == User.objects.get(username="staffer")
    assert (round.title, round.metric, round.budget, round.n_samples, round.seed) == (
        "Spring round",
        "inception_score",
        64,
        8,
        7,
    )
    assert round.pool == Decimal("1000.00")
    assert any("over 3 contributors" in text for text in texts(response))


def test_a_new_round_over_listed_contributors(staff_client: Client) -> None:
    version = make_model_version(KEYS)
    for key in KEYS:
        make_contributor(key)

    form = round_form(version.pk, who="listed", keys="carol, alice\nalice")
    response = staff_client.post(reverse("round-new"), form)

    assert response.status_code == 302
    round = ValuationRound.objects.get()
    assert sorted(round.contributors.values_list("key", flat=True)) == ["alice", "carol"]


def field_errors(response: HttpResponse) -> dict[str, list[str]]:
    return {name: list(errors) for name, errors in response.context["form"].errors.items()}


def test_a_metric_the_model_does_not_offer_is_an_error_on_the_metric_field(
    staff_client: Client,
) -> None:
    version = make_model_version(KEYS)
    for key in KEYS:
        make_contributor(key)

    response = staff_client.post(
        reverse("round-new"), round_form(version.pk, metric="clip_diversity", estimator="kernel")
    )

    assert response.status_code == 200  # shown again, with the errors
    assert ValuationRound.objects.count() == 0
    errors = field_errors(response)
    assert list(errors) == ["metric"]
    assert "does not offer" in errors["metric"][0]
    html = response.content.decode()
    assert 'id="id_metric_error"' in html  # next to its field
    # The choices made are kept.
    assert '<option value="clip_diversity" selected>' in html
    assert '<option value="kernel" selected>' in html
    assert 'value="Spring round"' in html


def test_a_budget_too_small_for_the_estimator_is_an_error_on_the_budget_field(
    staff_client: Client,
) -> None:
    version = make_model_version(KEYS)
    for key in KEYS:
        make_contributor(key)
    draft = ValuationRound(estimator="permutation", budget=6)
    assert draft.budget_problem(3)  # the model's own rule refuses it

    response = staff_client.post(
        reverse("round-new"), round_form(version.pk, estimator="permutation", budget=6)
    )

    assert response.status_code == 200  # shown again, with the errors
    assert field_errors(response) == {"budget": [draft.budget_problem(3)]}


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"pool": "10.005"}, "pool", "at most 2 decimal places"),
        ({"pool": "10.5", "currency": "JPY"}, "pool", "at most 0 decimal places"),
        ({"pool": "-1"}, "pool", "greater than or equal to 0"),
        ({"currency": "euro"}, "currency", ""),
        ({"budget": "2"}, "budget", "greater than or equal to 6"),
        ({"title": ""}, "title", "required"),
        ({"who": "listed", "keys": ""}, "keys", "List the contributors"),
        ({"who": "listed", "keys": "alice nobody"}, "keys", "No contributor has the key: nobody"),
        ({"who": "listed", "keys": "alice"}, "keys", "at least 2 contributors"),
        ({"model_version": "999"}, "model_version", "valid choice"),
        ({"negative_policy": "shift"}, "negative_policy", "valid choice"),
        ({"n_samples": "64", "max_samples": "32"}, "max_samples", "below the round's 64"),
    ],
)
def test_bad_input_is_an_error_next_to_its_field(
    staff_client: Client, fields: dict[str, str], field: str, fragment: str
) -> None:
    version = make_model_version(KEYS)
    for key in KEYS:
        make_contributor(key)

    response = staff_client.post(reverse("round-new"), round_form(version.pk, **fields))

    assert response.status_code == 200  # shown again, with the errors
    assert ValuationRound.objects.count() == 0
    errors = field_errors(response)
    assert field in errors, errors
    assert fragment in " ".join(errors[field])
    assert f'id="id_{field}_error"' in response.content.decode() or field == "who"


def test_no_eligible_contributor_is_an_error_on_the_contributors_choice(
    staff_client: Client,
) -> None:
    version = make_model_version(KEYS)  # nobody has data

    response = staff_client.post(reverse("round-new"), round_form(version.pk))

    assert response.status_code == 200  # shown again, with the errors
    assert "No contributor has accepted data" in field_errors(response)["who"][0]


# --- start, cancel, restart -------------------------------------------------------------------


def test_starting_queues_the_round_and_returns_at_once(
    staff_client: Client, staffer: User, django_capture_on_commit_callbacks: Any
) -> None:
    draft = make_round()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_client.post(reverse("round-start", args=[draft.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("round-dashboard", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.status == Status.QUEUED  # the worker has not run it: the request did not wait
    assert draft.config_hash
    assert len(callbacks) == 1  # the task is enqueued once the transaction commits
    assert texts(response) == ["Started: the round is queued for a worker."]
    page = staff_client.get(response["Location"]).content.decode()
    assert 'id="live-bar"' in page
    assert "Queued: waiting for a worker" in page


def test_starting_a_round_that_is_not_a_draft_is_refused_with_a_message(
    staff_client: Client,
) -> None:
    round = running_round()

    response = staff_client.post(reverse("round-start", args=[round.pk]))

    assert response.status_code == 302
    (message,) = texts(response)
    assert message.startswith("The round was not started:")
    assert "only drafts can start" in message
    round.refresh_from_db()
    assert round.status == Status.RUNNING


def test_starting_a_round_whose_configuration_cannot_run_says_why(staff_client: Client) -> None:
    draft = make_round()
    DataGroup.objects.filter(contributor__key="bob").update(status=DataGroup.Status.REJECTED)

    response = staff_client.post(reverse("round-start", args=[draft.pk]))

    (message,) = texts(response)
    assert "contributor bob has no accepted data" in message
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_cancel_a_running_round_and_then_restart_it(
    staff_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    round = running_round()

    response = staff_client.post(reverse("round-cancel", args=[round.pk]))
    assert texts(response) == ["Cancelled the round; it has no results."]
    round.refresh_from_db()
    assert round.status == Status.CANCELLED

    again = staff_client.post(reverse("round-cancel", args=[round.pk]))
    assert texts(again)[-1] == "Nothing to cancel: the round is cancelled."

    with django_capture_on_commit_callbacks(execute=False):
        restarted = staff_client.post(reverse("round-restart", args=[round.pk]))
    assert texts(restarted)[-1].startswith("Restarted")
    round.refresh_from_db()
    assert round.status == Status.QUEUED


def test_restarting_a_draft_is_refused(staff_client: Client) -> None:
    draft = make_round()

    response = staff_client.post(reverse("round-restart", args=[draft.pk]))

    assert "only failed or cancelled rounds restart" in texts(response)[0]


def test_a_failed_round_page_offers_a_restart(staff_client: Client) -> None:
    round = failed_round()

    html = staff_client.get(reverse("round-dashboard", args=[round.pk])).content.decode()

    assert f'action="{reverse("round-restart", args=[round.pk])}"' in html


def test_missing_rounds_and_batches_are_404(staff_client: Client) -> None:
    for name in ("round-start", "round-cancel", "round-restart", "round-create-payouts"):
        assert staff_client.post(reverse(name, args=[9999])).status_code == 404, name
    assert staff_client.post(reverse("round-batch-approve", args=[9999])).status_code == 404
    assert staff_client.get(reverse("round-batch", args=[9999])).status_code == 404
    assert staff_client.get(reverse("round-batch-csv", args=[9999])).status_code == 404


# --- payouts ----------------------------------------------------------------------------------


def test_create_payouts_makes_a_draft_batch_and_opens_its_review(staff_client: Client) -> None:
    round = make_succeeded_round(pool="100.00")

    response = staff_client.post(reverse("round-create-payouts", args=[round.pk]))

    round.refresh_from_db()
    batch = round.payout_batch
    assert batch is not None
    assert batch.status == PayoutBatch.Status.DRAFT
    assert response["Location"] == reverse("round-batch", args=[batch.pk])
    assert texts(response) == [
        f"Created the draft payout batch {batch.pk}: 3 payouts sharing €100.00. "
        "Review it before approving."
    ]
    again = staff_client.post(reverse("round-create-payouts", args=[round.pk]))
    assert texts(again)[-1] == f"This round was paid out already in batch {batch.pk}."
    assert PayoutBatch.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"metric": "marker_free"}, "is an audit metric"),
        ({"values": {"alice": -1.0, "bob": 0.25, "carol": 0.25}}, "achieved nothing"),
    ],
)
def test_payouts_that_must_not_be_made_are_refused_with_a_message(
    staff_client: Client, fields: dict[str, Any], fragment: str
) -> None:
    round = make_succeeded_round(**fields)

    response = staff_client.post(reverse("round-create-payouts", args=[round.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("round-dashboard", args=[round.pk])
    (message,) = texts(response)
    assert message.startswith("No payouts were created:")
    assert fragment in message
    assert PayoutBatch.objects.count() == 0
    page = staff_client.get(response["Location"]).content.decode()
    assert "No payouts can be made" in page
    assert reverse("round-create-payouts", args=[round.pk]) not in page  # no button to press


def test_payouts_of_an_unfinished_round_are_refused(staff_client: Client) -> None:
    draft = make_round()

    response = staff_client.post(reverse("round-create-payouts", args=[draft.pk]))

    assert "pay out succeeded rounds" in texts(response)[0]
    assert PayoutBatch.objects.count() == 0


# --- review, approve, export ------------------------------------------------------------------


def floored_batch() -> tuple[ValuationRound, PayoutBatch]:
    round = make_succeeded_round({"alice": -0.5, "bob": 1.0, "carol": 3.0}, pool="1234.56")
    return round, create_payouts(round.pk)


def test_the_review_shows_totals_payees_floored_contributors_and_who_approves(
    staff_client: Client, staffer: User
) -> None:
    round, batch = floored_batch()
    ValuationRound.objects.filter(pk=round.pk).update(created_by=staffer)

    response = staff_client.get(reverse("round-batch", args=[batch.pk]))

    review = response.context["review"]
    assert review.total_text == review.pool_text == "€1,234.56"
    assert review.balanced
    assert (review.n_payees, review.n_paid, review.n_zero) == (3, 2, 1)
    assert review.floored == ["Alice"]
    assert review.n_floored == 1
    # The largest payouts: who is paid (Alice, floored to nothing, is listed under floored).
    assert [line.label for line in review.largest] == ["Carol", "Bob"]
    assert [line.amount_text for line in review.largest] == ["€925.92", "€308.64"]
    assert [line.share_text for line in review.largest] == ["75.00%", "25.00%"]
    html = response.content.decode()
    assert "The payouts add up to the pool exactly" in html
    assert "for the round created by staffer" in html
    assert "Will be approved by" in html
    assert "staffer (you)" in html
    assert f'action="{reverse("round-batch-approve", args=[batch.pk])}"' in html
    assert 'type="checkbox" name="confirm"' in html
    assert f'href="{reverse("round-batch-csv", args=[batch.pk])}"' in html
    assert "0.2500000000" not in html  # shares as percentages, never raw decimals


def test_approving_needs_the_explicit_confirmation(staff_client: Client) -> None:
    _, batch = floored_batch()

    response = staff_client.post(reverse("round-batch-approve", args=[batch.pk]), {})

    assert response.status_code == 200  # shown again, with the errors
    assert "Tick the box to confirm." in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.DRAFT


def test_approving_with_confirmation_records_who_and_refuses_a_second_approval(
    staff_client: Client, staffer: User
) -> None:
    _, batch = floored_batch()
    url = reverse("round-batch-approve", args=[batch.pk])

    response = staff_client.post(url, {"confirm": "on"})

    assert response["Location"] == reverse("round-batch", args=[batch.pk])
    assert texts(response)[0].startswith(f"Approved payout batch {batch.pk}: €1,234.56")
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.APPROVED
    assert batch.approved_by == staffer
    approved_at = batch.approved_at

    other = Client()
    other.force_login(User.objects.create_user("second", is_staff=True, role=User.Role.STAFF))
    twice = other.post(url, {"confirm": "on"})

    assert twice.status_code == 302
    assert "was approved already by staffer" in texts(twice)[0]
    batch.refresh_from_db()
    assert (batch.approved_by, batch.approved_at) == (staffer, approved_at)
    page = other.get(reverse("round-batch", args=[batch.pk])).content.decode()
    assert 'name="confirm"' not in page  # nothing left to approve
    assert "Approved by staffer" in page


def test_the_csv_is_named_by_batch_date_and_status_with_status_and_round_columns(
    staff_client: Client,
) -> None:
    round, batch = floored_batch()

    response = staff_client.get(reverse("round-batch-csv", args=[batch.pk]))

    today = timezone.localdate().isoformat()
    disposition = response["Content-Disposition"]
    assert disposition == f'attachment; filename="payouts-batch-{batch.pk}-{today}-draft.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["status"] for row in rows} == {"draft"}
    assert {row["round"] for row in rows} == {round.title}
    assert sum(Decimal(row["amount"]) for row in rows) == Decimal("1234.56")


def test_the_list_page_links_new_round_and_the_batches(staff_client: Client) -> None:
    _, batch = floored_batch()

    html = staff_client.get(reverse("round-dashboard-list")).content.decode()

    assert f'href="{reverse("round-new")}"' in html
    assert f'href="{reverse("round-batch", args=[batch.pk])}"' in html
    assert "€1,234.56" in html


def test_a_succeeded_round_offers_create_payouts_then_links_its_batch(
    staff_client: Client,
) -> None:
    round = make_succeeded_round()
    url = reverse("round-dashboard", args=[round.pk])

    before = staff_client.get(url).content.decode()
    assert f'action="{reverse("round-create-payouts", args=[round.pk])}"' in before

    batch = create_payouts(round.pk)
    after = staff_client.get(url).content.decode()
    assert reverse("round-create-payouts", args=[round.pk]) not in after
    assert f'href="{reverse("round-batch", args=[batch.pk])}"' in after


def test_a_queued_round_claimed_by_a_worker_shows_its_stage(staff_client: Client) -> None:
    draft = make_round()
    start_round(draft.pk, enqueue=False)
    assert claim_round(draft.pk, "w1")

    state = staff_client.get(reverse("round-progress", args=[draft.pk])).json()

    assert state["status"] == "running"
    assert state["stage_label"] == "Starting"
    assert state["overall"] == 0.0
    assert Contributor.objects.count() == 3


# --- editing a draft --------------------------------------------------------------------------


def test_a_draft_is_edited_on_the_dashboard_with_its_contributors_kept(
    staff_client: Client,
) -> None:
    draft = make_round()  # alice, bob, carol: every eligible contributor of its version
    url = reverse("round-edit", args=[draft.pk])

    page = staff_client.get(url)
    assert page.status_code == 200
    assert page.context["form"].initial["who"] == "all"

    form = round_form(draft.model_version_id, title="Renamed", who="listed", keys="bob carol")
    response = staff_client.post(url, form)

    assert response["Location"] == reverse("round-dashboard", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.title == "Renamed"
    assert draft.status == Status.DRAFT
    assert sorted(draft.contributors.values_list("key", flat=True)) == ["bob", "carol"]
    assert ValuationRound.objects.count() == 1
    again = staff_client.get(url)
    initial = again.context["form"].initial
    assert (initial["who"], initial["keys"]) == ("listed", "bob\ncarol")


def test_a_started_round_cannot_be_edited(staff_client: Client) -> None:
    round = running_round()

    response = staff_client.post(reverse("round-edit", args=[round.pk]), {"title": "x"})

    assert response.status_code == 302
    assert texts(response)[-1] == "Only drafts can be changed; this round is running."
    round.refresh_from_db()
    assert round.title == "Round 1"


def test_editing_is_for_staff_only(contributor_client: Client) -> None:
    draft = make_round()
    assert contributor_client.get(reverse("round-edit", args=[draft.pk])).status_code == 403


# --- size -------------------------------------------------------------------------------------


def queries_of(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return len(queries)


def test_the_operator_pages_issue_as_many_queries_at_40_contributors_as_at_3(
    staff_client: Client,
) -> None:
    counts = []
    for keys in (KEYS, tuple(f"k{i:02d}" for i in range(40))):
        values = {key: float(i % 4) - 0.5 for i, key in enumerate(keys)}  # some floored
        round = make_succeeded_round(values, keys=keys)
        batch = create_payouts(round.pk)
        draft = make_round(tuple(f"{key}-d" for key in keys))
        urls = [
            reverse("round-dashboard-list"),
            reverse("round-new"),
            reverse("round-edit", args=[draft.pk]),
            reverse("round-batch", args=[batch.pk]),
        ]
        counts.append([queries_of(staff_client, url) for url in urls])
        ValuationRound.objects.all().delete()
        PayoutBatch.objects.all().delete()
    assert counts[1] == counts[0], counts


def test_a_batch_whose_payouts_do_not_add_up_to_its_pool_is_not_approved(
    staff_client: Client,
) -> None:
    _, batch = floored_batch()
    payout = batch.payouts.order_by("-amount").first()
    assert payout is not None
    type(payout).objects.filter(pk=payout.pk).update(amount=payout.amount + Decimal("0.01"))

    page = staff_client.get(reverse("round-batch", args=[batch.pk])).content.decode()
    assert "The payouts do not add up to the pool: they differ by €0.01" in page

    response = staff_client.post(reverse("round-batch-approve", args=[batch.pk]), {"confirm": "on"})

    assert "its payouts do not add up to its pool" in texts(response)[-1]
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.DRAFT


def test_the_new_round_page_says_when_there_is_no_model_version_to_value(
    staff_client: Client,
) -> None:
    html = staff_client.get(reverse("round-new")).content.decode()

    assert "No model version is registered yet" in html
    assert reverse("admin:marketplace_modelversion_add") in html


@pytest.mark.django_db(transaction=True)  # commits for real: the task is sent in the request
def test_an_unreachable_task_queue_is_a_message_that_says_how_to_run_the_round(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.exceptions import OperationalError

    from attribution.tasks import execute_round_task

    def refuse(round_id: int) -> None:
        raise OperationalError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(execute_round_task, "delay", refuse)
    draft = make_round()

    response = staff_client.post(reverse("round-start", args=[draft.pk]))

    assert response.status_code == 302
    message = texts(response)[-1]
    assert "no worker was told" in message
    assert "Connection refused" in message
    assert f"manage.py run_round {draft.pk}" in message
    draft.refresh_from_db()
    assert draft.status == Status.QUEUED
