"""A round fanned out over Celery workers: one bank unit per contributor, then the valuation.

``attribution.tasks`` wires these functions into a chord::

    execute_round(round_id)                     dispatch: claim the round, send the chord (gpu)
      ├─ generate_bank(round_id, key, owner)    one per contributor: fill the artefact store (gpu)
      └─ value_round(round_id, owner)           run the whole engine, which now finds every
                                                bank in the store, and write the results (cpu)

The claim stays the one conditional UPDATE of ``claim_round``; its owner is the dispatching task
(``dispatch_owner``), so a redelivered dispatch recognises its own claim and sends the units again.
Every later step first checks that the round is still running for that owner, so a cancelled,
failed or reclaimed round stops at its next unit, and a duplicate valuation after success finds
the round succeeded and writes nothing.

A unit is idempotent: the bank's store key is the engine's own (model description, conditions,
number of samples, contributor seed), so a redelivered or repeated unit finds its bank and returns
at once. The artefact store (``ENGINE_CACHE_DIR``) must be shared by every worker of a round.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

from attribution.rounds.config import RoundConfig
from attribution.rounds.execution import (
    RoundCancelledError,
    claim_round,
    claimed_config,
    configured_engine,
    fail_round,
    progress_writer,
    run_claimed_round,
)
from attribution.rounds.runner import BankRunner, EngineProgress, generate_contributor_bank

logger = logging.getLogger(__name__)


def dispatch_owner(task_id: str) -> str:
    """Who owns a distributed round: its dispatching task, the same on every redelivery."""
    return f"dispatch:{task_id}"


def claim_for_dispatch(round_id: int, owner: str) -> list[str] | None:
    """Claim a queued round for ``owner``; the contributor keys to fan out, or None to skip.

    A round already running for ``owner`` (this dispatch was redelivered) is fanned out again:
    its units find their banks in the store.
    """
    if not claim_round(round_id, owner):
        if claimed_config(round_id, owner) is None:
            logger.info("round %s is not queued (claimed, cancelled or done); skipping", round_id)
            return None
        logger.info("round %s: redelivered dispatch, sending its units again", round_id)
    config = claimed_config(round_id, owner)
    if config is None:
        return None  # cancelled between the claim and this read
    return config.keys


def run_bank_unit(round_id: int, key: str, owner: str) -> bool | None:
    """Generate contributor ``key``'s bank for a round running for ``owner``.

    Returns True if the bank was generated, False if the store had it, None if the round is no
    longer running for ``owner`` or this unit failed it. A failure is recorded on the round and
    not raised: the chord then proceeds, and the valuation finds the round failed.
    """
    config = claimed_config(round_id, owner)
    if config is None:
        logger.info("round %s is not running for %s; bank %s skipped", round_id, owner, key)
        return None
    try:
        generated = configured_bank_runner()(
            worker_config(config), key, _unit_progress(progress_writer(round_id, owner))
        )
    except RoundCancelledError:
        logger.info("round %s stopped while generating bank %s", round_id, key)
        return None
    except Exception as error:
        logger.exception("round %s: bank %s failed", round_id, key)
        fail_round(round_id, owner, error)
        return None
    logger.info("round %s: bank %s %s", round_id, key, "generated" if generated else "found")
    return generated


def value_claimed_round(round_id: int, owner: str) -> bool:
    """The CPU stage: run the whole engine on the stored banks and write the results.

    Returns False, writing nothing, if the round is not running for ``owner`` (a duplicate after
    success, a cancel, a failed unit).
    """
    config = claimed_config(round_id, owner)
    if config is None:
        logger.info("round %s is not running for %s; nothing to value", round_id, owner)
        return False
    run_claimed_round(round_id, owner, worker_config(config), configured_engine())
    return True


def worker_config(config: RoundConfig) -> RoundConfig:
    """The frozen config on this worker's own ``ENGINE_DEVICE``.

    GPU and CPU workers of one round compute on different devices; the device is not part of
    what is computed (it is outside the config hash and the bank keys).
    """
    return config.on_device(settings.ENGINE_DEVICE)


def configured_bank_runner() -> BankRunner:
    """``settings.ENGINE_BANK_RUNNER`` (a dotted path) if set, else the real bank generator."""
    runner: BankRunner = (
        import_string(settings.ENGINE_BANK_RUNNER)
        if settings.ENGINE_BANK_RUNNER
        else generate_contributor_bank
    )
    return runner


def _unit_progress(progress: EngineProgress) -> EngineProgress:
    """Forward a unit's generation steps, not its own "banks 1/1" (the round has n banks)."""

    def forward(stage: str, done: int, total: int) -> None:
        if stage != "banks":
            progress(stage, done, total)

    return forward
