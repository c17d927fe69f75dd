"""Celery tasks: thin wrappers around ``execute_round`` and the distributed round (worker side).

With a real broker and a result backend, ``attribution.execute_round`` fans the round out as a
chord (see ``attribution.rounds.fanout``): one ``attribution.generate_bank`` per batch of
contributors on the ``gpu`` queue, then ``attribution.value_round`` on the ``cpu`` queue. In eager
mode, or without a result backend (a chord needs one to count its finished units), it runs the
whole round itself.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from celery import Celery, chord, shared_task
from celery.backends.base import DisabledBackend

from attribution.rounds.execution import execute_round
from attribution.rounds.fanout import (
    claim_for_dispatch,
    dispatch_owner,
    plan_units,
    run_bank_unit,
    value_claimed_round,
)


@shared_task(name="attribution.execute_round", bind=True, acks_late=True)
def execute_round_task(self: Any, round_id: int) -> bool:
    """Run or dispatch a queued round; a redelivered duplicate finds it claimed.

    Returns True if this call ran or dispatched the round.
    """
    if not fans_out(self.app):
        return execute_round(round_id)
    return dispatch_round(round_id, dispatch_owner(self.request.id or uuid4().hex))


@shared_task(name="attribution.generate_bank", acks_late=True)
def generate_bank_task(round_id: int, unit: str | dict[str, Any], owner: str) -> bool | None:
    """One unit's banks: True generated, False all found in the store, None skipped."""
    return run_bank_unit(round_id, unit, owner)


@shared_task(name="attribution.value_round", acks_late=True)
def value_round_task(unit_results: list[bool | None], round_id: int, owner: str) -> bool:
    """The chord's body: value the round from the stored banks; False if it wrote nothing."""
    return value_claimed_round(round_id, owner)


def fans_out(app: Celery) -> bool:
    """Whether rounds fan out: tasks go to a broker and a result backend can count a chord."""
    return not app.conf.task_always_eager and not isinstance(app.backend, DisabledBackend)


def dispatch_round(round_id: int, owner: str) -> bool:
    """Claim the round for ``owner`` and send its chord; False if it was not ours to run."""
    config = claim_for_dispatch(round_id, owner)
    if config is None:
        return False
    units = [generate_bank_task.s(round_id, unit, owner) for unit in plan_units(config)]
    chord(units)(value_round_task.s(round_id, owner))
    return True
