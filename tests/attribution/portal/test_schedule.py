"""The next payout date: known only from a configured schedule, never guessed."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import override_settings

from attribution.portal.schedule import next_payout, next_payout_on


@pytest.mark.parametrize(
    ("day", "today", "expected"),
    [
        (15, date(2026, 12, 1), date(2026, 12, 15)),  # later this month
        (15, date(2026, 12, 15), date(2026, 12, 15)),  # today is the day
        (15, date(2026, 12, 16), date(2027, 1, 15)),  # past it: next month, next year
        (28, date(2027, 2, 28), date(2027, 2, 28)),
        (1, date(2027, 1, 31), date(2027, 2, 1)),
    ],
)
def test_the_next_date_is_the_first_scheduled_day_on_or_after_today(
    day: int, today: date, expected: date
) -> None:
    assert next_payout_on(day, today) == expected


@override_settings(PAYOUT_SCHEDULE_DAY=None)
def test_without_a_schedule_there_is_no_date() -> None:
    payout = next_payout(date(2026, 12, 1))
    assert not payout.known
    assert payout.date is None
    assert payout.rule == "no fixed payout day is set: an administrator sends approved payouts"


@pytest.mark.parametrize(
    ("day", "words"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (11, "11th"),
        (12, "12th"),
        (21, "21st"),
        (22, "22nd"),
        (28, "28th"),
    ],
)
def test_a_schedule_gives_the_date_and_the_rule_in_words(day: int, words: str) -> None:
    with override_settings(PAYOUT_SCHEDULE_DAY=day):
        payout = next_payout(date(2026, 12, 1))
    assert payout.known
    assert payout.date == date(2026, 12, day)
    assert payout.rule == f"approved payouts are sent on the {words} of each month"
