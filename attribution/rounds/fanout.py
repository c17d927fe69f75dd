"""A round fanned out over Celery workers: one bank unit per contributor, then the valuation.

``attribution.tasks`` wires these functions into a chord::

    execute_round(round_id)                     dispatch: claim the round, send the chord (gpu)
      ├─ generate_bank(round_id, unit, owner)   one per batch of contributors (``plan_units``):
      │                                         fill the artefact store (gpu)
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
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from attribution.models import ValuationRound
from attribution.rounds.config import RoundConfig, RoundConfigError
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

UNIT_SAMPLES = 4096
"""About how many samples one bank unit generates: units are sized by work, not one message per
contributor, so a 10,000-contributor round sends hundreds of messages, not ten thousand."""


def dispatch_owner(task_id: str) -> str:
    """Who owns a distributed round: its dispatching task, the same on every redelivery."""
    return f"dispatch:{task_id}"


def claim_for_dispatch(round_id: int, owner: str) -> RoundConfig | None:
    """Claim a queued round for ``owner``; its configuration to fan out, or None to skip.

    A round already running for ``owner`` (this dispatch was redelivered) is fanned out again:
    its units find their banks in the store.
    """
    if not claim_round(round_id, owner):
        if claimed_config(round_id, owner) is None:
            logger.info("round %s is not queued (claimed, cancelled or done); skipping", round_id)
            return None
        logger.info("round %s: redelivered dispatch, sending its units again", round_id)
    return claimed_config(round_id, owner)  # None if cancelled between the claim and this read


def plan_units(config: RoundConfig, samples_per_unit: int = UNIT_SAMPLES) -> list[dict[str, Any]]:
    """The round's bank units: consecutive batches of contributors of about
    ``samples_per_unit`` samples each, each unit carrying only its own contributors' part of the
    configuration (so no unit reads the whole frozen configuration, however large the round)."""
    per_unit = max(1, samples_per_unit // max(1, config.n_samples))
    keys = config.keys
    return [
        config.restricted(keys[start : start + per_unit]).to_json()
        for start in range(0, len(keys), per_unit)
    ]


def run_bank_unit(round_id: int, unit: str | Mapping[str, Any], owner: str) -> bool | None:
    """Generate the banks of one unit of a round running for ``owner``.

    ``unit`` is a unit from ``plan_units`` (its contributors' configuration), or one contributor
    key (the messages of earlier releases), for which the round's configuration is read.

    Returns True if a bank was generated, False if the store had every one, None if the round is
    no longer running for ``owner`` or this unit failed it. A failure is recorded on the round
    and not raised: the chord then proceeds, and the valuation finds the round failed.
    """
    config = _unit_config(round_id, unit, owner)
    if config is None:
        logger.info("round %s is not running for %s; unit skipped", round_id, owner)
        return None
    progress = _unit_progress(progress_writer(round_id, owner))
    generated = False
    for key in config.keys:
        try:
            generated = configured_bank_runner()(worker_config(config), key, progress) or generated
        except RoundCancelledError:
            logger.info("round %s stopped while generating bank %s", round_id, key)
            return None
        except Exception as error:
            logger.exception("round %s: bank %s failed", round_id, key)
            fail_round(round_id, owner, error)
            return None
        logger.info("round %s: bank %s done", round_id, key)
    return generated


def _unit_config(round_id: int, unit: str | Mapping[str, Any], owner: str) -> RoundConfig | None:
    """The unit's configuration if the round still runs for ``owner``, else None."""
    if isinstance(unit, str):
        config = claimed_config(round_id, owner)
        return None if config is None else config.restricted([unit])
    if not ValuationRound.objects.running_for(owner).filter(pk=round_id).exists():
        return None
    try:
        return RoundConfig.from_json(unit)
    except RoundConfigError as error:
        fail_round(round_id, owner, error)
        return None


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
