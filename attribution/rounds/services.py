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
    round.queue(config.to_json(), config_hash(config), user=user)
    if enqueue:
        transaction.on_commit(lambda: execute_round_task.delay(round.pk))


def cancel_round(round_id: int) -> bool:
    """Cancel an unfinished round; True if this call cancelled it.

    A running worker notices at its next progress report and stops without writing results.
    """
    return ValuationRound.objects.cancel(round_id)


def restart_round(round_id: int, *, user: User | None = None) -> ValuationRound:
    """Send a failed or cancelled round back to draft and start it again.

    Generation resumes from the artefact store: banks already made are not regenerated.
    """
    with transaction.atomic():
        round = ValuationRound.objects.select_for_update().get(pk=round_id)
        if round.status not in ValuationRound.RESTARTABLE:
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
        values = dict(
            ContributorValue.objects.filter(round=round).values_list("contributor__key", "value")
        )
        allocation = round.plan_payouts(values)
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
