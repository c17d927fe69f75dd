"""Use cases on the web side: start, cancel and restart rounds; create payouts.

Each function validates, changes rows in one transaction, and leaves side effects (enqueueing the
Celery task) to ``transaction.on_commit`` so a worker never sees a round that was rolled back.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from attribution.models import ContributorValue, ValuationRound
from attribution.rounds.config import config_hash, freeze_config
from marketplace.models import Payout, PayoutBatch, User
from marketplace.payouts import (
    NegativeValuePolicy,
    allocate_pool,
    minor_unit_exponent,
    to_minor_unit,
)


class RoundStateError(ValueError):
    """The round is not in a state that allows the action; the message says which it is in."""


def start_round(round_id: int, *, user: User | None = None, enqueue: bool = True) -> ValuationRound:
    """Freeze the round's configuration and hash, mark it queued and enqueue it on commit.

    ``enqueue=False`` leaves it queued for an in-process runner (``manage.py run_round``).

    Raises:
        RoundStateError: The round is not a draft.
        RoundConfigError: The configuration cannot run (no contributors, no accepted data, ...).
    """
    with transaction.atomic():
        round = ValuationRound.objects.select_for_update().get(pk=round_id)
        if round.status != ValuationRound.Status.DRAFT:
            raise RoundStateError(f"round {round.pk} is {round.status}; only drafts can start.")
        _queue(round, user=user, enqueue=enqueue)
    return round


def _queue(round: ValuationRound, *, user: User | None, enqueue: bool) -> None:
    """Freeze, mark queued and (on commit) enqueue a round locked by the caller's transaction."""
    from attribution.tasks import execute_round_task

    config = freeze_config(round)
    round.config, round.config_hash = config, config_hash(config)
    round.status = ValuationRound.Status.QUEUED
    round.stage, round.progress, round.error = "queued", 0.0, ""
    round.finished_at, round.worker = None, ""
    if user is not None and round.created_by_id is None:
        round.created_by = user
    round.save()
    if enqueue:
        transaction.on_commit(lambda: execute_round_task.delay(round.pk))


def cancel_round(round_id: int) -> bool:
    """Cancel an unfinished round; True if this call cancelled it.

    A running worker notices at its next progress report and stops without writing results.
    """
    changed = ValuationRound.objects.filter(
        pk=round_id, status__in=ValuationRound.UNFINISHED
    ).update(status=ValuationRound.Status.CANCELLED, finished_at=timezone.now(), stage="cancelled")
    return changed == 1


def restart_round(round_id: int, *, user: User | None = None) -> ValuationRound:
    """Send a failed or cancelled round back to draft and start it again.

    Generation resumes from the artefact store: banks already made are not regenerated.
    """
    with transaction.atomic():
        round = ValuationRound.objects.select_for_update().get(pk=round_id)
        if round.status not in (ValuationRound.Status.FAILED, ValuationRound.Status.CANCELLED):
            raise RoundStateError(
                f"round {round_id} is {round.status}; only failed or cancelled rounds restart."
            )
        _queue(round, user=user, enqueue=True)  # if this raises, the round keeps its old state
    return round


def create_payouts(round_id: int, *, user: User | None = None) -> PayoutBatch:
    """Turn a succeeded round's values into a payout batch; idempotent.

    A second call (a double click, a retried request) returns the batch the first call made.

    Raises:
        RoundStateError: The round has not succeeded.
        PayoutError: The values cannot be paid under the round's negative-value policy.
    """
    with transaction.atomic():
        round = ValuationRound.objects.select_for_update().get(pk=round_id)
        if round.payout_batch_id is not None:
            return PayoutBatch.objects.get(pk=round.payout_batch_id)
        if round.status != ValuationRound.Status.SUCCEEDED:
            raise RoundStateError(f"round {round.pk} is {round.status}; pay out succeeded rounds.")
        values = {
            value.contributor.key: value.value
            for value in ContributorValue.objects.filter(round=round).select_related("contributor")
        }
        exponent = minor_unit_exponent(round.currency)
        allocation = allocate_pool(
            to_minor_unit(round.pool, round.currency),
            values,
            policy=NegativeValuePolicy(round.negative_policy),
            minor_unit_exponent=exponent,
        )
        batch = PayoutBatch.objects.create(
            pool=round.pool,
            currency=round.currency,
            negative_policy=round.negative_policy,
            clipped_mass=allocation.clipped_mass,
        )
        contributors = {c.key: c for c in round.contributors.all()}
        Payout.objects.bulk_create(
            Payout(
                batch=batch,
                contributor=contributors[key],
                amount=amount,
                share=allocation.shares[key],
            )
            for key, amount in allocation.amounts.items()
        )
        round.payout_batch = batch
        round.save(update_fields=["payout_batch"])
    return batch


def approve_payouts(batch_id: int, *, user: User) -> PayoutBatch:
    """Approve a draft batch (staff only; checked by the caller)."""
    PayoutBatch.objects.filter(pk=batch_id, status=PayoutBatch.Status.DRAFT).update(
        status=PayoutBatch.Status.APPROVED, approved_by=user, approved_at=timezone.now()
    )
    return PayoutBatch.objects.get(pk=batch_id)
