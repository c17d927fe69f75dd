"""When the contributor's approved money is next sent, if the product knows.

The product knows a date only when the operator configured one: ``PAYOUT_SCHEDULE_DAY`` (the
day of each month on which approved payouts are sent; see README, "The portal and the API").
Payout batches record when they were approved, not when the money left, so without that setting
there is no date to show and the portal says so instead of guessing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class NextPayout:
    """The next payout date (None: not scheduled) and the rule it follows, in words."""

    date: date | None
    rule: str

    @property
    def known(self) -> bool:
        return self.date is not None


def next_payout_on(day: int, today: date) -> date:
    """The first date on or after ``today`` that falls on ``day`` of its month (1-28)."""
    if today.day <= day:
        return today.replace(day=day)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return date(year, month, day)


def next_payout(today: date | None = None) -> NextPayout:
    """The next payout date under the configured schedule, or "not scheduled yet"."""
    day = getattr(settings, "PAYOUT_SCHEDULE_DAY", None)
    if day is None:
        return NextPayout(
            date=None,
            rule="no fixed payout day is set: an administrator sends approved payouts",
        )
    when = next_payout_on(day, today or timezone.localdate())
    return NextPayout(
        date=when, rule=f"approved payouts are sent on the {_ordinal(day)} of each month"
    )


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"
