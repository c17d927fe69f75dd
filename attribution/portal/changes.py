"""What changed for a contributor since their previous comparable round, in plain words.

Comparable means succeeded, on the same metric and the same model version (a value on another
metric or model is in other units or of another model, so a difference would mean nothing), and
finished before this one. The statement compares payout, share of the pool and rank, and lists
the contributor's data groups that joined or left between the two rounds' starts (a round uses
the data accepted when it starts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q

from attribution.models import ValuationRound
from attribution.portal.credit import CreditLine, credit_line, succeeded_values
from marketplace.models import Contributor, DataGroup
from marketplace.payouts import format_money

MINUS = "\N{MINUS SIGN}"


@dataclass(frozen=True)
class GroupChange:
    """One of the contributor's data groups that joined or left between the two rounds."""

    title: str
    n_records: int
    status: str  # DataGroup.Status, now


@dataclass(frozen=True)
class RoundChanges:
    """This round against the contributor's previous comparable one (None: this is the first)."""

    current: CreditLine
    previous: CreditLine | None
    added: tuple[GroupChange, ...] = ()
    withdrawn: tuple[GroupChange, ...] = ()
    waiting: tuple[GroupChange, ...] = ()

    @property
    def is_first(self) -> bool:
        return self.previous is None

    @property
    def payout_sentence(self) -> str | None:
        """The change in payout, or why it cannot be compared yet; None for a first round."""
        if self.previous is None:
            return None
        was, now = self.previous.payout, self.current.payout
        if was is None and now is None:
            return (
                "Neither round's payouts have been created yet, so there is no payout to compare."
            )
        if was is None:
            return (
                f"Your payout is {now.display}; the previous round's payouts were never created, "  # type: ignore[union-attr]
                "so there is nothing to compare it with."
            )
        if now is None:
            return (
                f"Your payout last time was {was.display}; this round's payouts have not been "
                "created yet."
            )
        if was.currency != now.currency:
            return (
                f"Your payout is {now.display}, against {was.display} last time (in another "
                "currency, so not compared)."
            )
        difference = now.exact - was.exact
        if difference == 0:
            return f"Your payout is the same as last time: {now.display}."
        direction = "up" if difference > 0 else "down"
        return (
            f"Your payout is {direction} {format_money(abs(difference), now.currency)}: "
            f"{now.display}, against {was.display} last time."
        )

    @property
    def share_sentence(self) -> str | None:
        previous, current = self.previous, self.current
        if previous is None:
            return None
        if previous.pool_share is None or current.pool_share is None:
            return "Your share of the pool cannot be compared: one of the rounds shares no pool."
        points = (current.pool_share - previous.pool_share) * 100
        was, now = previous.pool_share_display, current.pool_share_display
        if was == now:
            return f"Your share of the pool is unchanged at {now}."
        change = _signed(points.quantize(Decimal("0.01")))
        return f"Your share of the pool went from {was} to {now} ({change} percentage points)."

    @property
    def rank_sentence(self) -> str | None:
        previous, current = self.previous, self.current
        if previous is None:
            return None
        was = f"{previous.rank} of {previous.n_contributors}"
        now = f"{current.rank} of {current.n_contributors}"
        places = previous.rank - current.rank
        if places == 0:
            return f"Your rank is the same: {now} (it was {was})."
        moved = "up" if places > 0 else "down"
        count = abs(places)
        return f"You moved {moved} {count} place{'s' if count != 1 else ''}: {now}, from {was}."

    @property
    def data_sentences(self) -> list[str]:
        """What happened to the contributor's data between the two rounds' starts."""
        if self.previous is None:
            return []
        sentences = [
            f"“{group.title}” ({_images(group.n_records)}) was accepted between the two rounds, "
            "so it counted in this one and not in the previous one."
            for group in self.added
        ]
        sentences += [
            f"You withdrew “{group.title}” ({_images(group.n_records)}) between the two rounds, "
            "so this round did not use it."
            for group in self.withdrawn
        ]
        sentences += [
            f"“{group.title}” ({_images(group.n_records)}) was uploaded between the two rounds "
            f"but had not been accepted when this round started, so it did not count: "
            f"{_WAITING[group.status]}."
            for group in self.waiting
        ]
        if not sentences:
            sentences.append(
                "Your data did not change between the two rounds: the difference comes from the "
                "other contributors' data and the rounds' own settings and random samples."
            )
        return sentences

    @property
    def previous_round(self) -> ValuationRound | None:
        return None if self.previous is None else self.previous.round


def compare_with_previous(contributor: Contributor, current: CreditLine) -> RoundChanges:
    """The contributor's changes since their previous succeeded round on the same metric and
    model version (three queries for the previous line, one for the data groups)."""
    round = current.round
    earlier = (
        succeeded_values(contributor)
        .filter(
            round__metric=round.metric,
            round__model_version_id=round.model_version_id,
        )
        .exclude(round_id=round.pk)
        .filter(
            Q(round__finished_at__lt=current.finished_at)
            | Q(round__finished_at=current.finished_at, round_id__lt=round.pk)
        )
        .order_by("-round__finished_at", "-round_id")
        .first()
    )
    if earlier is None:
        return RoundChanges(current=current, previous=None)
    previous = credit_line(contributor, earlier)
    since, until = _start(previous.round), _start(round)
    groups = (
        DataGroup.objects.filter(contributor=contributor)
        .filter(Q(decided_at__gt=since, decided_at__lte=until) | Q(created_at__gt=since))
        .annotate(n_records=Count("records"))
        .order_by("created_at", "pk")
    )
    added, withdrawn, waiting = [], [], []
    for group in groups:
        n_records: int = group.n_records  # type: ignore[attr-defined]
        change = GroupChange(group.title, n_records, group.status)
        decided_between = group.decided_at is not None and since < group.decided_at <= until
        if group.status == DataGroup.Status.ACCEPTED and decided_between:
            added.append(change)
        elif group.status == DataGroup.Status.WITHDRAWN and decided_between:
            withdrawn.append(change)
        elif since < group.created_at <= until and group.status != DataGroup.Status.WITHDRAWN:
            waiting.append(change)
    return RoundChanges(
        current=current,
        previous=previous,
        added=tuple(added),
        withdrawn=tuple(withdrawn),
        waiting=tuple(waiting),
    )


#: A group uploaded between the rounds that did not count in this one, by its status now.
_WAITING = {
    DataGroup.Status.PENDING: "it still waits for review",
    DataGroup.Status.ACCEPTED: "it has been accepted since, so it counts from the next round",
    DataGroup.Status.REJECTED: "it was rejected in review",
}


def _start(round: ValuationRound) -> datetime:
    return round.started_at or round.created_at


def _signed(number: Decimal) -> str:
    return f"+{number}" if number > 0 else f"{MINUS}{abs(number)}" if number < 0 else "0"


def _images(count: int) -> str:
    return f"{count:,} image{'s' if count != 1 else ''}"
