"""Celery tasks: thin wrappers around ``execute_round`` (worker side)."""

from __future__ import annotations

from celery import shared_task

from attribution.execution import execute_round


@shared_task(name="attribution.execute_round", acks_late=True)
def execute_round_task(round_id: int) -> bool:
    """Run a queued valuation round; a redelivered duplicate finds it claimed and does nothing."""
    return execute_round(round_id)
