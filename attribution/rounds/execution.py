"""The worker side of a round: claim it, run the engine with live progress, write all results.

``execute_round`` is safe to call twice for the same round (a redelivered Celery task, two workers
racing): the claim is one conditional UPDATE, so exactly one caller runs the engine, and results
are written in one transaction that replaces any earlier partial write.

``attribution.rounds.fanout`` builds a round spread over several workers from the same pieces
(``claim_round``, ``run_claimed_round``, ``write_results``), with the dispatching task as owner.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from attribution.models import ContributorValue, ValuationRound
from attribution.rounds.config import RoundConfig, RoundConfigError
from attribution.rounds.outcome import RoundOutcome
from attribution.rounds.runner import RoundEngine, run_engine
from marketplace.models import Contributor

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 1.0
"""Progress writes are throttled to about one per second per round."""


class RoundCancelledError(Exception):
    """Raised inside the engine's progress callback when the round was cancelled meanwhile."""


def worker_name() -> str:
    """Who is running: host and process id, recorded on the claimed round."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_round(round_id: int, worker: str) -> bool:
    """Move a queued round to running for ``worker``; False if someone else already did.

    A running round whose heartbeat is older than ``ENGINE_STALE_AFTER_S`` (its worker died) can be
    claimed again; the artefact store lets the new run skip the work already done.
    """
    return ValuationRound.objects.claim(
        round_id, worker, stale_after_s=settings.ENGINE_STALE_AFTER_S
    )


def execute_round(round_id: int, *, engine: RoundEngine | None = None) -> bool:
    """Run a queued round to completion; True if this call ran it.

    Failures are recorded on the round with a readable message; the exception is not re-raised
    (a failed valuation is a result, not a crashed worker).
    """
    worker = worker_name()
    if not claim_round(round_id, worker):
        logger.info("round %s was not queued (already claimed or cancelled); skipping", round_id)
        return False
    config = claimed_config(round_id, worker)
    if config is not None:
        run_claimed_round(round_id, worker, config, engine or configured_engine())
    return True


def run_claimed_round(round_id: int, worker: str, config: RoundConfig, engine: RoundEngine) -> None:
    """Run ``engine`` on a round ``worker`` has claimed and write its results, or its failure."""
    try:
        outcome = engine(config, progress_writer(round_id, worker))
        write_results(round_id, outcome, worker=worker)
    except RoundCancelledError:
        logger.info("round %s was cancelled while running", round_id)
    except Exception as error:
        logger.exception("round %s failed", round_id)
        fail_round(round_id, worker, error)


def fail_round(round_id: int, worker: str, error: BaseException) -> None:
    """Record ``error`` on the round, unless it is no longer running for ``worker``."""
    ValuationRound.objects.fail(round_id, worker, f"{type(error).__name__}: {error}")


def claimed_config(round_id: int, worker: str) -> RoundConfig | None:
    """The frozen config of a round running for ``worker``; None if it is not (any longer).

    A stored configuration this release cannot read fails the round with the reason.
    """
    data = (
        ValuationRound.objects.running_for(worker)
        .filter(pk=round_id)
        .values_list("config", flat=True)
        .first()
    )
    if data is None:
        return None
    try:
        return RoundConfig.from_json(data)
    except RoundConfigError as error:
        fail_round(round_id, worker, error)
        return None


def configured_engine() -> RoundEngine:
    """``settings.ENGINE_RUNNER`` (a dotted path) if set, else the real engine."""
    runner: RoundEngine = (
        import_string(settings.ENGINE_RUNNER) if settings.ENGINE_RUNNER else run_engine
    )
    return runner


def write_results(round_id: int, outcome: RoundOutcome, *, worker: str | None = None) -> None:
    """Store every contributor's value and the round's diagnostics in one transaction.

    Nothing is written if the round was cancelled meanwhile, or (given ``worker``) if another
    worker reclaimed it as stale.
    """
    with transaction.atomic():
        round = ValuationRound.objects.select_for_update().get(pk=round_id)
        if round.status != ValuationRound.Status.RUNNING:
            return  # cancelled while the engine ran: keep nothing
        if worker is not None and round.worker != worker:
            return  # presumed dead and reclaimed: the new owner writes
        contributors = {c.key: c for c in Contributor.objects.filter(key__in=outcome.values)}
        ranked = sorted(outcome.values, key=lambda key: (-outcome.values[key], key))
        total = outcome.grand_value - outcome.baseline
        ContributorValue.objects.filter(round=round).delete()
        ContributorValue.objects.bulk_create(
            ContributorValue(
                round=round,
                contributor=contributors[key],
                value=outcome.values[key],
                stderr=None if outcome.stderr is None else outcome.stderr[key],
                ci_low=None if outcome.ci is None else outcome.ci[key][0],
                ci_high=None if outcome.ci is None else outcome.ci[key][1],
                exact_value=None if outcome.exact_values is None else outcome.exact_values[key],
                rank=rank,
                share=outcome.values[key] / total if total else None,
            )
            for rank, key in enumerate(ranked, start=1)
        )
        round.succeed(
            baseline=outcome.baseline,
            grand_value=outcome.grand_value,
            diagnostics=outcome.diagnostics.to_json(),
        )


def progress_writer(round_id: int, worker: str) -> Any:
    """A ``progress(stage, done, total)`` callback that updates the round row (throttled).

    Raises ``RoundCancelledError`` once the round is no longer running for this worker.
    """
    last: float | None = None

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if last is not None and now - last < PROGRESS_INTERVAL_S and done < total:
            return
        last = now
        fraction = 1.0 if total <= 0 else min(done, total) / total
        if not ValuationRound.objects.beat(round_id, worker, stage=stage, progress=fraction):
            raise RoundCancelledError(round_id)

    return progress
