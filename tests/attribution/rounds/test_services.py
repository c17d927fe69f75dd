"""Round use cases: start, cancel, restart, and payouts from a succeeded round."""

from __future__ import annotations

from decimal import Decimal

import pytest

from attribution.models import ContributorValue, ValuationRound
from attribution.rounds import execution
from attribution.rounds.config import RoundConfig, RoundConfigError, config_hash
from attribution.rounds.outcome import Diagnostics
from attribution.rounds.services import (
    RoundStateError,
    approve_payouts,
    cancel_round,
    create_payouts,
    restart_round,
    start_round,
)
from marketplace.models import DataGroup, Payout, PayoutBatch, User
from marketplace.payouts import NegativeValuePolicy, PayoutError
from tests.attribution.factories import (
    FakeEngine,
    make_round,
    make_succeeded_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

Status = ValuationRound.Status


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The fake engine, installed where the Celery task's ``execute_round`` finds it."""
    fake = FakeEngine()
    monkeypatch.setattr(execution, "run_engine", fake)
    return fake


# ---------------------------------------------------------------- start


def test_start_freezes_the_config_and_its_hash_and_queues_the_round(engine: FakeEngine) -> None:
    round = make_round()

    started = start_round(round.pk, enqueue=False)

    round.refresh_from_db()
    assert round.status == Status.QUEUED
    assert (round.stage, round.progress, round.error) == ("queued", 0.0, "")
    assert RoundConfig.from_json(round.config).keys == ["alice", "bob", "carol"]
    assert round.config_hash == config_hash(round.config)
    assert started.config_hash == round.config_hash
    assert engine.n_calls == 0  # enqueue=False: nobody runs it yet


def test_start_records_the_user_who_started_it() -> None:
    user = User.objects.create_user("staffer", role=User.Role.STAFF)
    round = make_round()

    start_round(round.pk, user=user, enqueue=False)

    round.refresh_from_db()
    assert round.created_by == user


def test_start_runs_the_task_on_commit_and_ranks_contributors_by_value(
    engine: FakeEngine, django_capture_on_commit_callbacks
) -> None:
    round = make_round()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        start_round(round.pk)
        assert engine.n_calls == 0  # not before the transaction commits

    round.refresh_from_db()
    assert len(callbacks) == 1
    assert engine.n_calls == 1
    assert engine.configs[0] == RoundConfig.from_json(round.config)
    assert round.status == Status.SUCCEEDED
    assert (round.stage, round.progress) == ("done", 1.0)
    assert round.grand_value == 6.0
    assert round.read_diagnostics() == Diagnostics(n_evaluations=3, timings={"fake": 0.0})
    assert round.finished_at is not None
    rows = list(round.values.select_related("contributor"))
    assert [(v.rank, v.contributor.key, v.value) for v in rows] == [
        (1, "carol", 3.0),
        (2, "bob", 2.0),
        (3, "alice", 1.0),
    ]
    assert (rows[0].stderr, rows[0].ci_low, rows[0].ci_high) == (0.125, 2.75, 3.25)


def test_start_does_not_enqueue_when_the_transaction_rolls_back(
    engine: FakeEngine, django_capture_on_commit_callbacks
) -> None:
    round = make_round(("alice",))

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RoundConfigError),
    ):
        start_round(round.pk)

    round.refresh_from_db()
    assert callbacks == []
    assert engine.n_calls == 0
    assert round.status == Status.DRAFT
    assert round.config is None


@pytest.mark.parametrize(
    "status", [Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.CANCELLED]
)
def test_only_a_draft_can_start(status: str) -> None:
    round = make_round(status=status)

    with pytest.raises(RoundStateError, match=f"is {status}; only drafts can start"):
        start_round(round.pk, enqueue=False)


# ---------------------------------------------------------------- cancel and restart


@pytest.mark.parametrize("status", [Status.DRAFT, Status.QUEUED, Status.RUNNING])
def test_cancel_stops_an_unfinished_round(status: str) -> None:
    round = make_round(status=status)

    assert cancel_round(round.pk) is True

    round.refresh_from_db()
    assert round.status == Status.CANCELLED
    assert round.stage == "cancelled"
    assert round.finished_at is not None


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED])
def test_cancel_leaves_a_finished_round_alone(status: str) -> None:
    round = make_round(status=status)

    assert cancel_round(round.pk) is False

    round.refresh_from_db()
    assert round.status == status


def test_a_cancelled_queued_round_is_never_run(engine: FakeEngine) -> None:
    round = make_round()
    start_round(round.pk, enqueue=False)
    cancel_round(round.pk)

    assert execution.execute_round(round.pk) is False
    assert engine.n_calls == 0


@pytest.mark.parametrize("status", [Status.FAILED, Status.CANCELLED])
def test_restart_runs_a_failed_or_cancelled_round_again(
    status: str, engine: FakeEngine, django_capture_on_commit_callbacks
) -> None:
    round = make_round()
    start_round(round.pk, enqueue=False)
    ValuationRound.objects.filter(pk=round.pk).update(
        status=status, error="RuntimeError: out of memory", worker="host:1"
    )

    with django_capture_on_commit_callbacks(execute=True):
        restart_round(round.pk)

    round.refresh_from_db()
    assert engine.n_calls == 1
    assert round.status == Status.SUCCEEDED
    assert round.error == ""
    assert round.values.count() == 3


@pytest.mark.parametrize("status", [Status.DRAFT, Status.QUEUED, Status.RUNNING, Status.SUCCEEDED])
def test_restart_refuses_rounds_that_did_not_fail_or_get_cancelled(status: str) -> None:
    round = make_round(status=status)

    with pytest.raises(RoundStateError, match=f"is {status}; only failed or cancelled"):
        restart_round(round.pk)

    round.refresh_from_db()
    assert round.status == status


def test_restart_that_cannot_start_leaves_the_round_failed() -> None:
    round = make_round()
    start_round(round.pk, enqueue=False)
    ValuationRound.objects.filter(pk=round.pk).update(status=Status.FAILED, error="Boom: x")
    DataGroup.objects.filter(contributor__key="carol").update(status=DataGroup.Status.REJECTED)

    with pytest.raises(RoundConfigError):
        restart_round(round.pk)

    round.refresh_from_db()
    assert (round.status, round.error) == (Status.FAILED, "Boom: x")


# ---------------------------------------------------------------- payouts


def test_payouts_share_the_pool_exactly_in_proportion_to_values() -> None:
    round = make_succeeded_round(pool=Decimal("100.00"))  # values 1, 2, 3

    batch = create_payouts(round.pk)

    amounts = {p.contributor.key: p.amount for p in batch.payouts.select_related("contributor")}
    assert amounts == {
        "alice": Decimal("16.67"),
        "bob": Decimal("33.33"),
        "carol": Decimal("50.00"),
    }
    assert sum(amounts.values()) == Decimal("100.00")
    assert (batch.pool, batch.currency, batch.negative_policy) == (Decimal(100), "EUR", "floor")
    assert batch.status == PayoutBatch.Status.DRAFT
    round.refresh_from_db()
    assert round.payout_batch == batch


def test_payouts_under_floor_pay_negative_values_nothing_and_report_the_clipped_mass() -> None:
    round = make_succeeded_round({"alice": -0.5, "bob": 1.0, "carol": 3.0}, pool="10.00")

    batch = create_payouts(round.pk)

    amounts = {p.contributor.key: p.amount for p in batch.payouts.select_related("contributor")}
    assert amounts == {"alice": Decimal(0), "bob": Decimal("2.50"), "carol": Decimal("7.50")}
    assert batch.clipped_mass == Decimal("-0.5")


def test_creating_payouts_twice_returns_the_same_batch_without_new_rows() -> None:
    round = make_succeeded_round()

    first = create_payouts(round.pk)
    second = create_payouts(round.pk)

    assert second.pk == first.pk
    assert PayoutBatch.objects.count() == 1
    assert Payout.objects.count() == 3


@pytest.mark.parametrize(
    "status", [Status.DRAFT, Status.QUEUED, Status.RUNNING, Status.FAILED, Status.CANCELLED]
)
def test_payouts_are_refused_for_a_round_that_has_not_succeeded(status: str) -> None:
    round = make_round(status=status)

    with pytest.raises(RoundStateError, match="pay out succeeded rounds"):
        create_payouts(round.pk)

    assert PayoutBatch.objects.count() == 0


def test_reject_policy_with_a_negative_value_creates_nothing() -> None:
    round = make_succeeded_round(
        {"alice": -0.5, "bob": 1.0, "carol": 3.0},
        negative_policy=NegativeValuePolicy.REJECT.value,
    )

    with pytest.raises(PayoutError, match="'alice'"):
        create_payouts(round.pk)

    round.refresh_from_db()
    assert round.payout_batch is None
    assert PayoutBatch.objects.count() == 0
    assert Payout.objects.count() == 0


def test_payouts_without_any_positive_value_create_nothing() -> None:
    round = make_succeeded_round({"alice": 0.0, "bob": -1.0, "carol": 0.0})

    with pytest.raises(PayoutError, match="no value to share"):
        create_payouts(round.pk)

    assert PayoutBatch.objects.count() == 0


def test_payouts_in_a_currency_without_minor_units_are_whole() -> None:
    round = make_succeeded_round(
        {"alice": 1.0, "bob": 1.0, "carol": 1.0}, pool="100", currency="JPY"
    )

    batch = create_payouts(round.pk)

    amounts = sorted(p.amount for p in batch.payouts.all())
    assert amounts == [Decimal(33), Decimal(33), Decimal(34)]


def test_approving_a_batch_records_who_and_when() -> None:
    staffer = User.objects.create_user("staffer", role=User.Role.STAFF)
    batch = create_payouts(make_succeeded_round().pk)

    approved = approve_payouts(batch.pk, user=staffer)

    assert approved.status == PayoutBatch.Status.APPROVED
    assert approved.approved_by == staffer
    assert approved.approved_at is not None


def test_approving_an_approved_batch_keeps_the_first_approval() -> None:
    first, second = (
        User.objects.create_user(name, role=User.Role.STAFF) for name in ("first", "second")
    )
    batch = create_payouts(make_succeeded_round().pk)
    approved_at = approve_payouts(batch.pk, user=first).approved_at

    again = approve_payouts(batch.pk, user=second)

    assert (again.approved_by, again.approved_at) == (first, approved_at)


def test_values_are_kept_when_payouts_are_refused() -> None:
    round = make_succeeded_round(
        {"alice": -1.0, "bob": 1.0, "carol": 2.0},
        negative_policy=NegativeValuePolicy.REJECT.value,
    )

    with pytest.raises(PayoutError):
        create_payouts(round.pk)

    assert ContributorValue.objects.filter(round=round).count() == 3
