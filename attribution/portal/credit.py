"""A contributor's credit: one line per succeeded round, and the full statement of one round.

Everything here is about *one* contributor's numbers. Other contributors' values only leave this
module as ``round_values`` (for the anonymised distribution chart, which bins them) and as the
round's total; names, keys and individual values of others never do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery, Sum

from attribution.models import ContributorValue, ValuationRound
from attribution.portal.charts import format_number
from attribution.portal.explanations import MetricExplanation, explain_metric
from attribution.rounds.outcome import BankNoiseReport
from marketplace.models import Contributor, Payout, PayoutBatch
from marketplace.payouts import NegativeValuePolicy, format_money, format_share, to_minor_unit

#: Column order of the statement CSV.
CSV_COLUMNS = (
    "round",
    "metric",
    "method",
    "budget",
    "value",
    "stderr",
    "ci_low",
    "ci_high",
    "rank",
    "n_contributors",
    "share",
    "share_of_pool",
    "payout",
    "currency",
)


#: Cross-validated R² of the surrogate → what it means for the values, best first.
FIT_VERDICTS = (
    (0.9, "a close fit: the values are reliable up to their confidence intervals"),
    (0.7, "a fair fit: the ranking is sound, small differences between values less so"),
    (0.5, "a loose fit: treat the values as rough and small differences as noise"),
    (float("-inf"), "a poor fit: the values are only a rough guide in this round"),
)


@dataclass(frozen=True)
class PayoutLine:
    """The contributor's amount in a round's payout batch."""

    amount: Decimal
    currency: str
    approved: bool
    pool_share: Decimal
    pool: Decimal

    @property
    def display(self) -> str:
        """E.g. ``"EUR 33.33"``: the amount in the currency's minor unit."""
        return format_money(self.amount, self.currency)

    @property
    def pool_display(self) -> str:
        """The whole pool of the batch, e.g. ``"EUR 100.00"``."""
        return format_money(self.pool, self.currency)

    @property
    def payout_problem(self) -> str:
        """Why the round is never paid out (an audit, or v(N) − v(∅) ≤ 0), or ""."""
        return self.round.payout_problem()

    @property
    def pool_share_display(self) -> str:
        """The contributor's part of the pool after the negative-value policy, e.g. ``"33.33%"``."""
        return format_share(self.pool_share)

    @property
    def exact(self) -> Decimal:
        """The amount quantized to the currency's minor unit (it is stored with 4 places)."""
        return to_minor_unit(self.amount, self.currency)


@dataclass(frozen=True)
class CreditLine:
    """The contributor's result in one succeeded round."""

    round: ValuationRound
    value: float
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    rank: int
    n_contributors: int
    share: float | None
    payout: PayoutLine | None
    positive_total: float | None = None
    n_negative: int = 0

    @property
    def metric(self) -> MetricExplanation:
        return explain_metric(self.round.metric)

    @property
    def finished_at(self) -> datetime:
        return self.round.finished_at or self.round.created_at

    @property
    def value_display(self) -> str:
        return format_number(self.value)

    @property
    def ci(self) -> tuple[float, float] | None:
        """The 95% confidence interval (low, high), or None when the method gives none."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_low, self.ci_high)

    @property
    def has_ci(self) -> bool:
        return self.ci is not None

    @property
    def ci_display(self) -> str:
        """``"1.5 to 2.1"``, or an em dash when the method gives no interval."""
        if self.ci_low is None or self.ci_high is None:
            return "—"
        return f"{format_number(self.ci_low)} to {format_number(self.ci_high)}"

    @property
    def share_display(self) -> str:
        """The share of the round's total value v(N) − v(∅) (the CSV's ``share``)."""
        return "—" if self.share is None else f"{self.share * 100:.1f}%"

    @property
    def pool_share(self) -> Decimal | None:
        """The one share the portal shows: the contributor's share of the round's pool.

        From the payout batch when there is one; before that, what the batch would give under
        the round's policy: max(value, 0) ÷ the sum of the positive values (None under
        ``reject`` when any value is negative, or when nobody's value is positive).
        """
        if self.payout is not None:
            return self.payout.pool_share
        if self.payout_problem:
            return None
        if not self.positive_total or self.positive_total <= 0:
            return None
        if self.round.negative_policy == NegativeValuePolicy.REJECT and self.n_negative:
            return None
        return Decimal(max(self.value, 0.0)) / Decimal(self.positive_total)

    @property
    def payout_problem(self) -> str:
        """Why the round is never paid out (an audit, or v(N) − v(∅) ≤ 0), or ""."""
        return self.round.payout_problem()

    @property
    def pool_share_display(self) -> str:
        """E.g. ``"12.34%"``, or an em dash when the pool cannot be shared."""
        return format_share(self.pool_share)

    @property
    def pool_share_is_final(self) -> bool:
        """True once a payout batch fixed the share; before that it is what a batch would give."""
        return self.payout is not None


@dataclass(frozen=True)
class Statement:
    """Everything the statement page and CSV say about one contributor in one round."""

    line: CreditLine
    n_evaluations: int | None
    total: float | None
    values_sum: float
    efficiency_gap: float | None
    raw_efficiency_gap: float | None
    cv_r2: float | None
    bank_noise: BankNoiseReport | None = None

    @property
    def round(self) -> ValuationRound:
        return self.line.round

    @property
    def total_display(self) -> str:
        return "—" if self.total is None else format_number(self.total)

    @property
    def values_sum_display(self) -> str:
        return format_number(self.values_sum)

    @property
    def difference_display(self) -> str:
        return "—" if self.total is None else format_number(self.values_sum - self.total)

    @property
    def adds_up(self) -> bool:
        """Σ values equals v(N) − v(∅) up to round-off (relative 1e-6)."""
        if self.total is None:
            return False
        return math.isclose(self.values_sum, self.total, rel_tol=1e-6, abs_tol=1e-9)

    @property
    def correction_display(self) -> str:
        """What the surrogate's efficiency correction added to each value: −raw gap ÷ n."""
        if self.raw_efficiency_gap is None or not self.line.n_contributors:
            return "—"
        return format_number(-self.raw_efficiency_gap / self.line.n_contributors)

    @property
    def fit_verdict(self) -> str | None:
        """The surrogate's fit in words, from its cross-validated R² (None without one)."""
        if self.cv_r2 is None:
            return None
        for threshold, words in FIT_VERDICTS:
            if self.cv_r2 >= threshold:
                return words
        return FIT_VERDICTS[-1][1]

    @property
    def bank_sizes_display(self) -> str:
        """The banks' sizes the noise was measured on: ``"64"`` or ``"64 to 640"``."""
        return "—" if self.bank_noise is None else _bank_sizes(self.bank_noise)

    @property
    def precision_sentence(self) -> str | None:
        """How precise every share of the round is, in words (None when not measured)."""
        noise = self.bank_noise
        if noise is None or noise.combined_points is None or self.line.payout_problem:
            return None  # an audit's (or an empty gain's) shares of a pool mean nothing
        achieved = noise.combined_points
        sentence = (
            "The round aimed to put every contributor's share within "
            f"±{self.round.payout_tolerance_display} percentage "
            f"points of the pool (95% confidence); it reached ±{achieved:.2f} points"
        )
        largest = noise.largest_bank or noise.samples_per_contributor
        grew = noise.requested_k is not None and largest is not None and largest > noise.requested_k
        n_contributors = self.line.n_contributors
        if (
            grew
            and noise.grown_contributors is not None
            and (noise.grown_contributors < n_contributors)
        ):
            whom = (
                "the contributor whose share was"
                if noise.grown_contributors == 1
                else f"the {noise.grown_contributors:,} contributors whose shares were"
            )
            sentence += (
                f" after drawing more sample images for {whom} least certain "
                f"({noise.requested_k:,} → up to {largest:,} each)"
            )
        elif grew and _unequal(noise):
            sentence += (
                f" after drawing more sample images for everyone (from {noise.requested_k:,} to "
                f"{noise.samples_per_contributor:,}–{largest:,} each)"
            )
        elif grew:
            sentence += (
                f" after drawing more sample images for everyone ({noise.requested_k:,} → "
                f"{largest:,} each)"
            )
        if noise.met:
            return sentence + ", so it met that aim."
        sentence += ", so it did not meet that aim"
        if noise.bank_points is not None and noise.bank_points >= 0.5 * achieved:
            sentence += (
                ": most of the uncertainty comes from the sample images the model drew for each "
                f"contributor ({_bank_sizes(noise)} each)"
            )
            if _unequal(noise) and noise.required_total is not None:
                sentence += f"; about {noise.required_total:,} images in all would meet it"
            elif noise.required_k is not None:
                sentence += f"; about {noise.required_k:,} each would meet it"
        return sentence + "."

    @property
    def cv_r2_percent(self) -> str:
        return "—" if self.cv_r2 is None else f"{max(self.cv_r2, 0.0) * 100:.0f}%"

    def csv_row(self) -> list[Any]:
        """The statement as one CSV row in ``CSV_COLUMNS`` order (text cells not yet escaped)."""
        line = self.line
        return [
            self.round.title,
            self.round.get_metric_display(),
            self.round.get_estimator_display(),
            self.round.budget,
            repr(line.value),
            _plain(line.stderr),
            _plain(line.ci_low),
            _plain(line.ci_high),
            line.rank,
            line.n_contributors,
            _plain(line.share),
            "" if line.pool_share is None else str(line.pool_share),
            "" if line.payout is None else str(line.payout.exact),
            self.round.currency,
        ]


def succeeded_values(contributor: Contributor) -> Any:
    """The contributor's ContributorValue rows in succeeded rounds, with the round's size.

    The size is a correlated count on the values' round index, and the round's large JSON
    columns (frozen config, diagnostics) stay in the database until a page asks for them: a
    grouped join would group by them and take minutes at 10,000 contributors.
    """
    size = (
        ContributorValue.objects.filter(round=OuterRef("round"))
        .order_by()
        .values("round")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        ContributorValue.objects.filter(
            contributor=contributor, round__status=ValuationRound.Status.SUCCEEDED
        )
        .select_related("round", "round__payout_batch", "round__model_version")
        .defer("round__config", "round__diagnostics")
        .annotate(n_contributors=Subquery(size))
    )


def collect_credit(contributor: Contributor) -> list[CreditLine]:
    """One line per succeeded round the contributor was valued in, newest first."""
    rows = list(succeeded_values(contributor))
    payouts = _payouts(contributor, [row.round.payout_batch_id for row in rows])
    totals = _positive_totals([row.round for row in rows])
    lines = [_line(row, payouts.get(row.round.payout_batch_id), totals) for row in rows]
    return sorted(lines, key=lambda line: (line.finished_at, line.round.pk), reverse=True)


def find_credit(contributor: Contributor, round_id: int) -> CreditLine | None:
    """The contributor's line in one round; None if they are not in it or it has not succeeded."""
    row = succeeded_values(contributor).filter(round_id=round_id).first()
    return None if row is None else credit_line(contributor, row)


def credit_line(contributor: Contributor, row: ContributorValue) -> CreditLine:
    """The line of one row of ``succeeded_values(contributor)`` (two queries)."""
    payouts = _payouts(contributor, [row.round.payout_batch_id])
    return _line(row, payouts.get(row.round.payout_batch_id), _positive_totals([row.round]))


@dataclass(frozen=True)
class EarningsTotal:
    """The contributor's payouts in one currency, across every round."""

    currency: str
    pending: Decimal
    approved: Decimal

    @property
    def lifetime(self) -> Decimal:
        return self.pending + self.approved

    @property
    def pending_display(self) -> str:
        return format_money(to_minor_unit(self.pending, self.currency), self.currency)

    @property
    def approved_display(self) -> str:
        return format_money(to_minor_unit(self.approved, self.currency), self.currency)

    @property
    def lifetime_display(self) -> str:
        return format_money(to_minor_unit(self.lifetime, self.currency), self.currency)


def summarise_earnings(contributor: Contributor) -> list[EarningsTotal]:
    """Pending (draft batches, awaiting approval), approved and lifetime (both) payouts, one
    entry per currency the contributor was ever paid in (usually one), in one query."""
    rows = (
        Payout.objects.filter(contributor=contributor)
        .values("batch__currency", "batch__status")
        .annotate(total=Sum("amount"))
        .order_by("batch__currency")
    )
    sums: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        by_status = sums.setdefault(row["batch__currency"], {})
        by_status[row["batch__status"]] = row["total"] or Decimal(0)
    return [
        EarningsTotal(
            currency=currency,
            pending=by_status.get(PayoutBatch.Status.DRAFT, Decimal(0)),
            approved=by_status.get(PayoutBatch.Status.APPROVED, Decimal(0)),
        )
        for currency, by_status in sums.items()
    ]


def build_statement(line: CreditLine) -> Statement:
    """The line plus the round's totals and diagnostics."""
    round = line.round
    diagnostics = round.read_diagnostics()
    fit = diagnostics.surrogate
    values_sum = ContributorValue.objects.filter(round=round).aggregate(total=Sum("value"))
    total = (
        None
        if round.grand_value is None or round.baseline is None
        else round.grand_value - round.baseline
    )
    return Statement(
        line=line,
        n_evaluations=diagnostics.n_evaluations,
        total=total,
        values_sum=float(values_sum["total"] or 0.0),
        efficiency_gap=diagnostics.efficiency_gap,
        raw_efficiency_gap=None if fit is None else fit.raw_efficiency_gap,
        cv_r2=None if fit is None else fit.cv_r2,
        bank_noise=diagnostics.bank_noise,
    )


def round_values(round: ValuationRound) -> list[float]:
    """Every contributor's value in the round, in no meaningful order (for binning only)."""
    return sorted(ContributorValue.objects.filter(round=round).values_list("value", flat=True))


def _positive_totals(rounds: list[ValuationRound]) -> dict[int, tuple[float, int]]:
    """Round id → (sum of the positive values, number of negative values), in one query."""
    rows = (
        ContributorValue.objects.filter(round__in=[round.pk for round in rounds])
        .order_by()
        .values("round")
        .annotate(
            positive=Sum("value", filter=Q(value__gt=0)),
            negative=Count("pk", filter=Q(value__lt=0)),
        )
    )
    return {row["round"]: (row["positive"] or 0.0, row["negative"]) for row in rows}


def _line(
    row: ContributorValue,
    payout: PayoutLine | None,
    totals: dict[int, tuple[float, int]] | None = None,
) -> CreditLine:
    positive, negative = (totals or {}).get(row.round_id, (None, 0))
    return CreditLine(
        round=row.round,
        value=row.value,
        stderr=row.stderr,
        ci_low=row.ci_low,
        ci_high=row.ci_high,
        rank=row.rank,
        n_contributors=row.n_contributors,  # type: ignore[attr-defined]
        share=row.share,
        payout=payout,
        positive_total=positive,
        n_negative=negative,
    )


def _payouts(contributor: Contributor, batch_ids: list[int | None]) -> dict[int, PayoutLine]:
    """Batch id → the contributor's payout in it."""
    ids = [batch_id for batch_id in batch_ids if batch_id is not None]
    if not ids:
        return {}
    payouts = Payout.objects.filter(contributor=contributor, batch_id__in=ids).select_related(
        "batch"
    )
    return {
        payout.batch_id: PayoutLine(
            amount=payout.amount,
            currency=payout.batch.currency,
            approved=payout.batch.status == PayoutBatch.Status.APPROVED,
            pool_share=payout.share,
            pool=payout.batch.pool,
        )
        for payout in payouts
    }


def _plain(value: float | None) -> str:
    return "" if value is None else repr(value)


def _unequal(noise: BankNoiseReport) -> bool:
    """Whether a targeted growth left the round's banks of different sizes."""
    smallest = noise.samples_per_contributor
    return smallest is not None and (noise.largest_bank or smallest) > smallest


def _bank_sizes(noise: BankNoiseReport) -> str:
    """``"64"``, or ``"64 to 640"`` when a targeted growth left the banks of unequal sizes."""
    smallest = noise.samples_per_contributor or 0
    largest = noise.largest_bank or smallest
    return f"{smallest:,}" if largest <= smallest else f"{smallest:,} to {largest:,}"
