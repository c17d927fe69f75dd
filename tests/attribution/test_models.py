"""The round's state transitions on its queryset: conditional updates that report what changed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from attribution.models import ValuationRound
from tests.attribution.factories import make_round, tmp_media  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.django_db

Status = ValuationRound.Status
rounds = ValuationRound.objects


def queued() -> ValuationRound:
    round = make_round(("alice", "bob"))
    rounds.filter(pk=round.pk).update(status=Status.QUEUED)
    return round


def test_only_one_worker_claims_a_queued_round() -> None:
    round = queued()

    assert rounds.claim(round.pk, "a", stale_after_s=60) is True
    assert rounds.claim(round.pk, "b", stale_after_s=60) is False

    round.refresh_from_db()
    assert (round.status, round.worker, round.stage) == (Status.RUNNING, "a", "starting")
    assert list(rounds.running_for("a")) == [round]
    assert not rounds.running_for("b").exists()


def test_a_round_whose_heartbeat_went_stale_can_be_reclaimed() -> None:
    round = queued()
    assert rounds.claim(round.pk, "a", stale_after_s=60)
    rounds.filter(pk=round.pk).update(heartbeat=timezone.now() - timedelta(seconds=61))

    assert rounds.claim(round.pk, "b", stale_after_s=60) is True
    assert rounds.beat(round.pk, "a", stage="late", progress=0.5) is False  # a lost it


def test_heartbeats_and_failures_count_only_for_the_owner() -> None:
    round = queued()
    assert rounds.claim(round.pk, "a", stale_after_s=60)

    assert rounds.beat(round.pk, "a", stage="banks", progress=0.25) is True
    assert rounds.fail(round.pk, "b", "not mine") is False
    assert rounds.fail(round.pk, "a", "RuntimeError: boom") is True

    round.refresh_from_db()
    assert (round.status, round.error, round.stage) == (
        Status.FAILED,
        "RuntimeError: boom",
        "banks",
    )
    assert round.finished_at is not None


def test_cancel_reports_whether_anything_changed() -> None:
    round = queued()

    assert rounds.cancel(round.pk) is True
    assert rounds.cancel(round.pk) is False  # already finished: nothing happened
    assert rounds.beat(round.pk, "a", stage="x", progress=1.0) is False


def test_a_round_reads_its_diagnostics_typed_whatever_was_stored() -> None:
    round = make_round(("alice", "bob"))
    round.diagnostics = {"n_evaluations": 8, "cv_r2": "not a number", "timings": {"a": 1.5}}

    diagnostics = round.read_diagnostics()

    assert diagnostics.n_evaluations == 8
    assert diagnostics.timings == {"a": 1.5}
    assert diagnostics.surrogate is not None
    assert diagnostics.surrogate.cv_r2 is None
