"""The worker side: claiming a round, running the engine with progress, writing results."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import override_settings
from django.utils import timezone

from attribution.models import ContributorValue, ValuationRound
from attribution.rounds import execution
from attribution.rounds.config import RoundConfig
from attribution.rounds.execution import claim_round, execute_round, write_results
from attribution.rounds.outcome import RoundOutcome
from attribution.rounds.runner import EngineProgress
from attribution.rounds.services import cancel_round, start_round
from tests.attribution.factories import (
    FakeEngine,
    make_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

Status = ValuationRound.Status


def queued_round() -> ValuationRound:
    return start_round(make_round().pk, enqueue=False)


def status_of(round: ValuationRound) -> str:
    round.refresh_from_db()
    return round.status


# ---------------------------------------------------------------- claim


def test_only_the_first_of_two_claims_wins() -> None:
    round = queued_round()

    claims = [claim_round(round.pk, "worker-a"), claim_round(round.pk, "worker-b")]

    round.refresh_from_db()
    assert claims == [True, False]
    assert (round.status, round.worker, round.stage) == (Status.RUNNING, "worker-a", "starting")
    assert round.started_at is not None
    assert round.heartbeat is not None


@pytest.mark.parametrize(
    "status", [Status.DRAFT, Status.SUCCEEDED, Status.FAILED, Status.CANCELLED]
)
def test_rounds_that_are_not_queued_cannot_be_claimed(status: str) -> None:
    round = make_round(status=status)

    assert claim_round(round.pk, "worker-a") is False
    assert status_of(round) == status


@override_settings(ENGINE_STALE_AFTER_S=60)
def test_a_running_round_with_a_stale_heartbeat_can_be_reclaimed() -> None:
    round = queued_round()
    assert claim_round(round.pk, "dead-worker")
    ValuationRound.objects.filter(pk=round.pk).update(
        heartbeat=timezone.now() - timedelta(seconds=61)
    )

    assert claim_round(round.pk, "new-worker") is True

    round.refresh_from_db()
    assert round.worker == "new-worker"
    assert timezone.now() - round.heartbeat < timedelta(seconds=60)


@override_settings(ENGINE_STALE_AFTER_S=60)
def test_a_running_round_with_a_fresh_heartbeat_cannot_be_reclaimed() -> None:
    round = queued_round()
    assert claim_round(round.pk, "live-worker")
    ValuationRound.objects.filter(pk=round.pk).update(
        heartbeat=timezone.now() - timedelta(seconds=30)
    )

    assert claim_round(round.pk, "new-worker") is False

    round.refresh_from_db()
    assert round.worker == "live-worker"


# ---------------------------------------------------------------- execute


def test_a_redelivered_task_runs_the_engine_once() -> None:
    round = queued_round()
    engine = FakeEngine()

    first, second = execute_round(round.pk, engine=engine), execute_round(round.pk, engine=engine)

    assert (first, second) == (True, False)
    assert engine.n_calls == 1
    assert status_of(round) == Status.SUCCEEDED
    assert ContributorValue.objects.filter(round=round).count() == 3
    assert sorted(ContributorValue.objects.values_list("contributor__key", flat=True)) == [
        "alice",
        "bob",
        "carol",
    ]


def test_the_engine_gets_the_frozen_config() -> None:
    round = queued_round()
    engine = FakeEngine()

    execute_round(round.pk, engine=engine)

    round.refresh_from_db()
    assert engine.configs == [RoundConfig.from_json(round.config)]


def test_run_engine_is_the_default_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    round = queued_round()
    engine = FakeEngine()
    monkeypatch.setattr(execution, "run_engine", engine)

    assert execute_round(round.pk) is True
    assert engine.n_calls == 1


def test_an_engine_error_fails_the_round_with_a_readable_message() -> None:
    round = queued_round()

    ran = execute_round(round.pk, engine=FakeEngine(error=ValueError("budget too small")))

    round.refresh_from_db()
    assert ran is True
    assert round.status == Status.FAILED
    assert round.error == "ValueError: budget too small"
    assert round.finished_at is not None
    assert not ContributorValue.objects.filter(round=round).exists()
    assert round.grand_value is None


def test_cancelling_during_the_run_keeps_the_round_cancelled_without_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(execution, "PROGRESS_INTERVAL_S", 0)
    round = queued_round()
    engine = FakeEngine(during=lambda: cancel_round(round.pk))

    ran = execute_round(round.pk, engine=engine)

    round.refresh_from_db()
    assert ran is True
    assert (round.status, round.stage) == (Status.CANCELLED, "cancelled")
    assert not ContributorValue.objects.filter(round=round).exists()
    assert round.grand_value is None


def test_an_engine_that_never_reports_after_a_cancel_still_writes_nothing() -> None:
    round = queued_round()
    engine = FakeEngine(n_steps=0)

    def cancel_then_finish(config: RoundConfig, progress: EngineProgress) -> RoundOutcome:
        cancel_round(round.pk)
        return engine(config, lambda *_: None)

    execute_round(round.pk, engine=cancel_then_finish)

    assert status_of(round) == Status.CANCELLED
    assert not ContributorValue.objects.filter(round=round).exists()


def test_an_engine_error_after_a_cancel_does_not_mark_the_round_failed() -> None:
    round = queued_round()

    def cancel_then_crash(config: RoundConfig, progress: EngineProgress) -> RoundOutcome:
        cancel_round(round.pk)
        raise RuntimeError("worker shutting down")

    execute_round(round.pk, engine=cancel_then_crash)

    round.refresh_from_db()
    assert (round.status, round.error) == (Status.CANCELLED, "")


def test_progress_updates_stage_fraction_and_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execution, "PROGRESS_INTERVAL_S", 0)
    round = queued_round()
    old = timezone.now() - timedelta(minutes=5)
    seen: list[tuple[str, float, bool]] = []

    def engine(config: RoundConfig, progress: EngineProgress) -> RoundOutcome:
        for done in (1, 2):
            ValuationRound.objects.filter(pk=round.pk).update(heartbeat=old)
            progress(f"generating bank {done}", done, 4)
            row = ValuationRound.objects.get(pk=round.pk)
            seen.append((row.stage, row.progress, row.heartbeat > old))
        return FakeEngine(n_steps=0)(config, progress)

    execute_round(round.pk, engine=engine)

    assert seen == [("generating bank 1", 0.25, True), ("generating bank 2", 0.5, True)]
    assert status_of(round) == Status.SUCCEEDED


def test_progress_is_throttled_but_always_reports_completion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter([1000.0, 1000.5, 1001.2, 1001.3])  # seconds, one reading per report
    monkeypatch.setattr(execution, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    monkeypatch.setattr(execution, "PROGRESS_INTERVAL_S", 1.0)
    round = queued_round()
    seen: list[tuple[str, float]] = []

    def engine(config: RoundConfig, progress: EngineProgress) -> RoundOutcome:
        for done in (1, 2, 3, 4):
            progress(f"step {done}", done, 4)
            row = ValuationRound.objects.get(pk=round.pk)
            seen.append((row.stage, row.progress))
        return FakeEngine(n_steps=0)(config, progress)

    execute_round(round.pk, engine=engine)

    assert seen == [
        ("step 1", 0.25),
        ("step 1", 0.25),  # 0.5 s after the last write: skipped
        ("step 3", 0.75),  # 1.2 s after it: written
        ("step 4", 1.0),  # 0.1 s after it, but done == total: always written
    ]


def test_write_results_replaces_earlier_partial_rows() -> None:
    round = queued_round()
    assert claim_round(round.pk, "worker-a")
    alice = round.contributors.get(key="alice")
    ContributorValue.objects.create(round=round, contributor=alice, value=99.0, rank=1)
    outcome = RoundOutcome(
        values={"alice": 0.5, "bob": 2.0, "carol": 1.0},
        stderr=None,
        ci=None,
        exact_values=None,
        baseline=0.1,
        grand_value=3.6,
    )

    write_results(round.pk, outcome)

    rows = ContributorValue.objects.filter(round=round).order_by("rank")
    assert [(v.contributor.key, v.value, v.rank) for v in rows] == [
        ("bob", 2.0, 1),
        ("carol", 1.0, 2),
        ("alice", 0.5, 3),
    ]
    assert all(v.stderr is None and v.ci_low is None and v.exact_value is None for v in rows)
    round.refresh_from_db()
    assert (round.status, round.baseline, round.grand_value) == (Status.SUCCEEDED, 0.1, 3.6)


def test_equal_values_are_ranked_by_key() -> None:
    round = queued_round()

    execute_round(round.pk, engine=FakeEngine(values={"carol": 1.0, "alice": 1.0, "bob": 2.0}))

    ranked = ContributorValue.objects.filter(round=round).order_by("rank")
    assert [v.contributor.key for v in ranked] == ["bob", "alice", "carol"]


def test_write_results_on_a_round_that_is_no_longer_running_keeps_nothing() -> None:
    round = queued_round()
    outcome = FakeEngine(n_steps=0)(RoundConfig.from_json(round.config), lambda *_: None)

    write_results(round.pk, outcome)  # still queued: never claimed

    assert status_of(round) == Status.QUEUED
    assert not ContributorValue.objects.filter(round=round).exists()


def test_an_outcome_that_cannot_be_stored_fails_the_round() -> None:
    round = queued_round()
    engine = FakeEngine(values={"alice": 1.0, "bob": 2.0, "mallory": 3.0})

    execute_round(round.pk, engine=engine)

    round.refresh_from_db()
    assert round.status == Status.FAILED
    assert "mallory" in round.error


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_get_one_claim() -> None:
    import threading

    from django.db import connection

    round = queued_round()
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def claim(worker: str) -> None:
        barrier.wait()
        try:
            results.append(claim_round(round.pk, worker))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, False, False, True]
    assert ValuationRound.objects.get(pk=round.pk).worker in {"w0", "w1", "w2", "w3"}
