"""What an operator checks before approving a payout batch: one read-only summary of the batch.

The totals are summed in exact decimals from the saved payouts (not recomputed from values), so
the screen shows what approving would release; ``balanced`` says whether they add up to the pool
to the currency's smallest coin, as ``create_payouts`` guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from attribution.dashboard.reports import contributor_labels
from attribution.models import ContributorValue, ValuationRound
from marketplace.models import Contributor, Payout, PayoutBatch
from marketplace.payouts import NegativeValuePolicy, format_money, format_share, to_minor_unit

LARGEST_SHOWN = 10
FLOORED_SHOWN = 30


@dataclass(frozen=True)
class ReviewLine:
    """One payout of the batch as the review lists it."""

    key: str
    label: str
    amount_text: str
    share_text: str


@dataclass
class BatchReview:
    """A payout batch summed up for the person about to approve it."""

    batch: PayoutBatch
    round: ValuationRound | None
    pool_text: str
    total_text: str
    balanced: bool
    difference_text: str
    n_payees: int
    n_paid: int
    n_zero: int
    floored: list[str]
    n_floored: int
    largest: list[ReviewLine]
    policy: str
    created_by: Any
    approver: Any
    approved: bool
    notes: list[str] = field(default_factory=list)


def review_batch(batch: PayoutBatch, *, approver: Any) -> BatchReview:
    """Totals, payees, floored contributors and the largest payouts of ``batch``.

    ``approver`` is who would approve it now (the signed-in operator).
    """
    round = ValuationRound.objects.filter(payout_batch=batch).defer("config", "diagnostics").first()
    payouts = Payout.objects.filter(batch=batch)
    totals = payouts.aggregate(total=Sum("amount"), n=Count("pk"))
    total = totals["total"] or Decimal(0)
    pool = to_minor_unit(batch.pool, batch.currency)
    n_paid = payouts.filter(amount__gt=0).count()
    floored_shown: list[str] = []
    n_floored = 0
    if round is not None:
        negative = ContributorValue.objects.filter(round=round, value__lt=0)
        n_floored = negative.count()
        floored_shown = list(
            negative.order_by("value", "contributor__key").values_list(
                "contributor__key", flat=True
            )[:FLOORED_SHOWN]
        )
    largest = list(
        payouts.filter(amount__gt=0)
        .select_related("contributor")
        .order_by("-amount", "contributor__key")[:LARGEST_SHOWN]
    )
    named = {p.contributor.key: p.contributor for p in largest}
    named.update((c.key, c) for c in Contributor.objects.filter(key__in=floored_shown))
    labels = contributor_labels(named.values())
    policy = NegativeValuePolicy(batch.negative_policy) if _known(batch.negative_policy) else None
    difference = total - pool
    return BatchReview(
        batch=batch,
        round=round,
        pool_text=format_money(pool, batch.currency),
        total_text=format_money(total, batch.currency),
        balanced=difference == 0,
        difference_text=format_money(difference, batch.currency),
        n_payees=totals["n"],
        n_paid=n_paid,
        n_zero=totals["n"] - n_paid,
        floored=[labels.get(key, key) for key in floored_shown],
        n_floored=n_floored,
        largest=[
            ReviewLine(
                key=p.contributor.key,
                label=labels.get(p.contributor.key, p.contributor.name),
                amount_text=format_money(p.amount, batch.currency),
                share_text=format_share(p.share),
            )
            for p in largest
        ],
        policy=policy.label if policy else batch.negative_policy,
        created_by=round.created_by if round is not None else None,
        approver=batch.approved_by if batch.status == PayoutBatch.Status.APPROVED else approver,
        approved=batch.status == PayoutBatch.Status.APPROVED,
    )


def balanced(batch: PayoutBatch) -> bool:
    """Whether the batch's payouts add up to its pool exactly, to the currency's smallest coin."""
    total = Payout.objects.filter(batch=batch).aggregate(total=Sum("amount"))["total"]
    return (total or Decimal(0)) == to_minor_unit(batch.pool, batch.currency)


def _known(policy: str) -> bool:
    return policy in {member.value for member in NegativeValuePolicy}
