"""The valuation-round admin, through its URLs: pages load, actions start, cancel, restart, pay."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from attribution import admin as attribution_admin
from attribution.models import ValuationRound
from attribution.rounds import execution
from attribution.rounds.services import start_round
from marketplace.models import PayoutBatch, User
from tests.attribution.factories import (
    FakeEngine,
    make_round,
    make_succeeded_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

Status = ValuationRound.Status
CHANGELIST = "admin:attribution_valuationround_changelist"

ATTRIBUTION_MODELS = sorted(
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label == "attribution"
)


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root", "root@example.com", password=None)


@pytest.fixture
def staff_client(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(execution, "run_engine", fake)
    return fake


def post_action(client: Client, action: str, rounds: list[ValuationRound]) -> HttpResponse:
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [r.pk for r in rounds]}
    )


def messages_of(response: HttpResponse) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_round_admin_is_registered() -> None:
    assert ATTRIBUTION_MODELS == [("attribution", "valuationround")]


@pytest.mark.parametrize(("app_label", "model_name"), ATTRIBUTION_MODELS)
def test_changelist_and_add_pages_load(
    staff_client: Client, app_label: str, model_name: str
) -> None:
    make_succeeded_round()

    changelist = staff_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    add = staff_client.get(reverse(f"admin:{app_label}_{model_name}_add"))

    assert changelist.status_code == 200
    assert add.status_code == 200


def test_the_change_page_shows_the_ranked_values(staff_client: Client) -> None:
    round = make_succeeded_round()

    response = staff_client.get(reverse("admin:attribution_valuationround_change", args=[round.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert round.config_hash in page
    assert "Carol" in page


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client) -> None:
    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_start_action_runs_the_round_to_success(
    staff_client: Client, superuser: User, engine: FakeEngine, django_capture_on_commit_callbacks
) -> None:
    round = make_round()

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(staff_client, "start", [round])

    round.refresh_from_db()
    assert response.status_code == 302
    assert engine.n_calls == 1
    assert round.status == Status.SUCCEEDED
    assert round.created_by == superuser
    assert round.values.count() == 3
    [message] = messages_of(response)
    assert message.startswith("Round 1: queued; a worker runs it.")
    assert f'href="{reverse("round-dashboard", args=[round.pk])}"' in message


def test_start_action_reports_a_round_that_cannot_start(
    staff_client: Client, engine: FakeEngine, django_capture_on_commit_callbacks
) -> None:
    round = make_round(("alice",))

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(staff_client, "start", [round])

    round.refresh_from_db()
    assert round.status == Status.DRAFT
    assert engine.n_calls == 0
    [message] = messages_of(response)
    assert message.startswith("Round 1: a round needs at least 2 contributors")


def test_cancel_action_cancels_a_queued_round(staff_client: Client) -> None:
    round = start_round(make_round().pk, enqueue=False)

    response = post_action(staff_client, "cancel", [round])

    round.refresh_from_db()
    assert round.status == Status.CANCELLED
    assert messages_of(response) == ["Round 1: cancelled"]


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED])
def test_cancel_action_says_a_finished_round_had_nothing_to_cancel(
    staff_client: Client, status: str
) -> None:
    round = make_succeeded_round()
    ValuationRound.objects.filter(pk=round.pk).update(status=status)

    response = post_action(staff_client, "cancel", [round])

    round.refresh_from_db()
    assert round.status == status
    assert messages_of(response) == [f"Round 1: nothing to cancel: it is {status}"]


def test_restart_action_reruns_a_failed_round(
    staff_client: Client, engine: FakeEngine, django_capture_on_commit_callbacks
) -> None:
    round = start_round(make_round().pk, enqueue=False)
    ValuationRound.objects.filter(pk=round.pk).update(status=Status.FAILED, error="X: y")

    with django_capture_on_commit_callbacks(execute=True):
        post_action(staff_client, "restart", [round])

    round.refresh_from_db()
    assert (round.status, round.error) == (Status.SUCCEEDED, "")
    assert engine.n_calls == 1


def test_create_payouts_action_makes_one_batch_however_often_it_is_used(
    staff_client: Client,
) -> None:
    round = make_succeeded_round()

    first = post_action(staff_client, "create_payouts", [round])
    second = post_action(staff_client, "create_payouts", [round])

    round.refresh_from_db()
    batch = round.payout_batch
    assert messages_of(first) == [
        f"Round 1: created draft payout batch {batch.pk} with 3 payout(s)"
    ]
    # (the first message is still in the session: the test client follows no redirect)
    assert (
        messages_of(second)[-1] == f"Round 1: already paid out in batch {batch.pk}; nothing created"
    )
    assert PayoutBatch.objects.count() == 1
    assert round.payout_batch is not None
    assert sum(p.amount for p in round.payout_batch.payouts.all()) == round.pool


def test_create_payouts_action_reports_rounds_that_have_not_succeeded(
    staff_client: Client,
) -> None:
    draft = make_round()

    response = post_action(staff_client, "create_payouts", [draft])

    [message] = messages_of(response)
    assert "pay out succeeded rounds" in message
    assert PayoutBatch.objects.count() == 0


def test_restart_action_says_it_queued_the_round_again(staff_client: Client) -> None:
    round = start_round(make_round().pk, enqueue=False)
    ValuationRound.objects.filter(pk=round.pk).update(status=Status.CANCELLED)

    response = post_action(staff_client, "restart", [round])

    [message] = messages_of(response)
    assert message.startswith("Round 1: queued again")


# --- a started round is a record ------------------------------------------------------------


def test_a_succeeded_round_cannot_be_edited_or_deleted(staff_client: Client) -> None:
    round = make_succeeded_round()
    before = (round.metric, round.pool, sorted(c.key for c in round.contributors.all()))
    change_url = reverse("admin:attribution_valuationround_change", args=[round.pk])

    page = staff_client.get(change_url)
    staff_client.post(
        change_url,
        {"title": "Renamed", "metric": "neg_fid", "pool": "1", "contributors": [], "_save": "1"},
    )
    delete = staff_client.post(
        reverse("admin:attribution_valuationround_delete", args=[round.pk]), {"post": "yes"}
    )
    changelist = staff_client.get(reverse(CHANGELIST))

    round.refresh_from_db()
    assert not page.context["adminform"].form.fields  # every field is shown read-only
    assert 'name="_save"' not in page.content.decode()  # and there is nothing to save
    assert (round.metric, round.pool, sorted(c.key for c in round.contributors.all())) == before
    assert round.title == "Round 1"
    assert delete.status_code == 403
    assert ValuationRound.objects.filter(pk=round.pk).exists()
    assert "delete_selected" not in changelist.content.decode()


def test_a_draft_stays_editable_and_deletable(staff_client: Client) -> None:
    round = make_round()
    page = staff_client.get(reverse("admin:attribution_valuationround_change", args=[round.pk]))
    delete = staff_client.post(
        reverse("admin:attribution_valuationround_delete", args=[round.pk]), {"post": "yes"}
    )

    assert "metric" in page.context["adminform"].form.fields
    assert 'name="_save"' in page.content.decode()
    assert delete.status_code == 302
    assert not ValuationRound.objects.filter(pk=round.pk).exists()


# --- readable rows: names, money, shares, diagnostics folded ----------------------------------


def test_a_finished_round_shows_money_shares_and_progress_formatted(staff_client: Client) -> None:
    round = make_succeeded_round(pool="1060.36")  # values 1, 2, 3 of 6: shares 1/6, 1/3, 1/2

    page = staff_client.get(reverse("admin:attribution_valuationround_change", args=[round.pk]))
    listing = staff_client.get(reverse(CHANGELIST))

    text = page.content.decode()
    assert "€1,060.36" in text
    assert "1060.3600" not in text
    assert "16.67%" in text
    assert "50.00%" in text
    assert "0.16666" not in text
    assert "Carol: rank 1" in text  # value rows are named (no "ContributorValue object")
    assert "object (" not in text
    assert "€1,060.36" in listing.content.decode()
    assert '<td class="field-progress_display">100%</td>' in listing.content.decode()


def test_a_value_row_is_named_by_contributor_rank_and_round() -> None:
    round = make_succeeded_round()
    value = round.values.select_related("contributor").get(rank=1)
    assert str(value) == f"Carol: rank 1, value 3 in round {round.pk}"


def test_diagnostics_and_configuration_are_summarised_with_the_json_folded(
    staff_client: Client,
) -> None:
    round = make_succeeded_round()

    page = staff_client.get(reverse("admin:attribution_valuationround_change", args=[round.pk]))

    text = page.content.decode()
    assert "3 coalitions evaluated" in text  # the summary
    assert "<summary>Raw JSON of the diagnostics</summary>" in text
    assert "<summary>Raw JSON of the configuration</summary>" in text
    assert text.index("3 coalitions evaluated") < text.index("Raw JSON of the diagnostics")


def test_json_too_large_for_the_page_is_not_put_on_it(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    round = make_succeeded_round()
    monkeypatch.setattr(attribution_admin, "MAX_FOLDED_JSON", 10)

    page = staff_client.get(reverse("admin:attribution_valuationround_change", args=[round.pk]))

    text = page.content.decode()
    assert "Raw JSON of" not in text
    assert "The raw JSON of the diagnostics" in text
    assert "too large to show here" in text
    assert round.config_hash[:16] in text  # the summary stays


def test_a_failed_round_is_read_only_too(staff_client: Client, engine: FakeEngine) -> None:
    engine.error = RuntimeError("the GPU went away")
    round = start_round(make_round().pk, enqueue=False)
    execution.execute_round(round.pk, engine=engine)
    round.refresh_from_db()
    assert round.status == Status.FAILED

    page = staff_client.get(reverse("admin:attribution_valuationround_change", args=[round.pk]))

    assert not page.context["adminform"].form.fields
    assert "the GPU went away" in page.content.decode()
