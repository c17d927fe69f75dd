"""What the staff round dashboard shows, computed from rows: values, figures, checks, payouts.

Read-only: nothing here writes to the database. The payout preview runs the same money math as
``attribution.rounds.services.create_payouts`` without saving it; the figures come from
``attribution.dashboard.charts`` as JSON ready for ``json_script``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from attribution.dashboard import charts
from attribution.figures import figure_json
from attribution.models import ContributorValue, ValuationRound
from attribution.rounds.outcome import SurrogateFit
from marketplace.models import Contributor
from marketplace.payouts import (
    NegativeValuePolicy,
    PayoutError,
    format_money,
    to_minor_unit,
)


@dataclass(frozen=True)
class ValueRow:
    """One contributor's result in a round, with the label used in charts and tables."""

    key: str
    label: str
    value: float
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    exact_value: float | None
    rank: int
    share: float | None

    @property
    def share_percent(self) -> float | None:
        return None if self.share is None else 100.0 * self.share


@dataclass(frozen=True)
class FigureBlock:
    """A figure for the page: its element id, a caption and its plotly JSON."""

    id: str
    caption: str
    figure: dict[str, Any]


def contributor_labels(contributors: Iterable[Contributor]) -> dict[str, str]:
    """Key → label: the name, or ``name (key)`` where two contributors share a name."""
    contributors = list(contributors)
    counts = Counter(c.name for c in contributors)
    return {
        c.key: c.name if counts[c.name] == 1 and c.name else f"{c.name} ({c.key})"
        for c in contributors
    }


def value_rows(round: ValuationRound) -> list[ValueRow]:
    """The round's values ordered by rank."""
    values = list(
        ContributorValue.objects.filter(round=round).select_related("contributor").order_by("rank")
    )
    labels = contributor_labels(v.contributor for v in values)
    return [
        ValueRow(
            key=v.contributor.key,
            label=labels[v.contributor.key],
            value=v.value,
            stderr=v.stderr,
            ci_low=v.ci_low,
            ci_high=v.ci_high,
            exact_value=v.exact_value,
            rank=v.rank,
            share=v.share,
        )
        for v in values
    ]


CHART_TOP = 40
"""Bar charts show at most this many contributors (the best ranked); the table pages the rest."""
CONVERGENCE_TOP = 10
"""The convergence chart follows the contributors with the largest |value| only (one line each):
the best ranked and, on an audit, the most negative — those whose data brings the harm in."""


def build_figures(round: ValuationRound, rows: list[ValueRow]) -> dict[str, FigureBlock]:
    """A succeeded round's figures by name.

    ``values`` and ``shares`` always; ``fit`` and ``convergence`` when the estimator left those
    diagnostics (the surrogate does). Large rounds chart their top ``CHART_TOP`` contributors
    (``rows`` are in rank order), so a page stays small whatever the number of contributors.
    """
    metric = round.get_metric_display()
    value_title = f"Shapley value ({metric})"
    shown = rows[:CHART_TOP]
    labels = [row.label for row in shown]
    which = "" if len(shown) == len(rows) else f" The {len(shown)} best ranked of {len(rows)}."
    figures = {
        "values": _block(
            "figure-values",
            "Shapley value per contributor, highest first; error bars are 95% confidence "
            f"intervals, diamonds the exact values where they were computed.{which}",
            charts.plot_values(
                labels,
                [row.value for row in shown],
                [row.ci_low for row in shown],
                [row.ci_high for row in shown],
                exact_values=[row.exact_value for row in shown],
                value_title=value_title,
            ),
        ),
        "shares": _block(
            "figure-shares",
            f"Each contributor's part of what the whole data achieved, v(N) − v(∅).{which}",
            charts.plot_shares(labels, [row.share for row in shown]),
        ),
    }
    diagnostics = round.read_diagnostics()
    fit = diagnostics.surrogate
    if fit is not None and fit.observed and fit.predicted:
        figures["fit"] = _fit_block(fit, metric)
    convergence = diagnostics.convergence
    if convergence is not None and convergence.n_coalitions and convergence.values:
        tracked = [row for row in rows if row.key in convergence.values]
        followed = sorted(tracked, key=lambda row: -abs(row.value))[:CONVERGENCE_TOP]
        series = {
            row.label: convergence.values[row.key] for row in sorted(followed, key=lambda r: r.key)
        }
        more = (
            ""
            if len(followed) == len(rows)
            else f" The {len(followed)} with the largest values, positive or negative, are shown."
        )
        figures["convergence"] = _block(
            "figure-convergence",
            "Values refitted on the first 25%, 50%, 75% and all of the evaluated coalitions: "
            f"flat lines mean the values have settled.{more}",
            charts.plot_convergence(convergence.n_coalitions, series, value_title=value_title),
        )
    return figures


def _fit_block(fit: SurrogateFit, metric: str) -> FigureBlock:
    """The surrogate's out-of-fold predictions against the observed utilities."""
    observed, predicted, indices = charts.select_held_out(fit.observed, fit.predicted)
    return _block(
        "figure-fit",
        f"Each point is a coalition held out of the surrogate's training fold ({len(observed)} "
        "in all; ∅ and N are left out): the closer to the dashed line, the better the fit.",
        charts.plot_surrogate_fit(
            observed, predicted, fit.cv_r2, rows=indices, utility_title=metric
        ),
    )


@dataclass(frozen=True)
class EfficiencyCheck:
    """Σφ against v(N) − v(∅), the surrogate's gaps and the distance to exact values."""

    sum_values: float
    total_gain: float | None
    gap: float | None
    reported_gap: float | None
    raw_gap: float | None
    sum_exact: float | None
    max_exact_error: float | None
    n_exact: int
    n_evaluations: int | None
    cv_r2: float | None
    depth: int | None


def check_efficiency(round: ValuationRound, rows: list[ValueRow]) -> EfficiencyCheck:
    """Efficiency axiom check: the values should add up to what the whole data achieved."""
    diagnostics = round.read_diagnostics()
    fit = diagnostics.surrogate
    sum_values = math.fsum(row.value for row in rows)
    total = None
    if round.grand_value is not None and round.baseline is not None:
        total = round.grand_value - round.baseline
    exact = [(row.value, row.exact_value) for row in rows if row.exact_value is not None]
    return EfficiencyCheck(
        sum_values=sum_values,
        total_gain=total,
        gap=None if total is None else sum_values - total,
        reported_gap=diagnostics.efficiency_gap,
        raw_gap=None if fit is None else fit.raw_efficiency_gap,
        sum_exact=math.fsum(e for _, e in exact) if exact else None,
        max_exact_error=max(abs(v - e) for v, e in exact) if exact else None,
        n_exact=len(exact),
        n_evaluations=diagnostics.n_evaluations,
        cv_r2=None if fit is None else fit.cv_r2,
        depth=None if fit is None else fit.depth,
    )


@dataclass(frozen=True)
class PayoutLine:
    """One contributor's amount in a payout preview or batch."""

    key: str
    label: str
    value: float | None
    amount: Decimal
    amount_text: str
    share_percent: float
    clipped: bool = False


@dataclass
class PayoutPreview:
    """What the pool pays each contributor: the existing batch, or a preview that is not saved."""

    currency: str
    policy: str
    pool_text: str
    saved: bool
    lines: list[PayoutLine] = field(default_factory=list)
    total_text: str = ""
    clipped_mass: Decimal | None = None
    clipped_labels: list[str] = field(default_factory=list)
    pool_rounded_from: Decimal | None = None
    error: str = ""
    batch_id: int | None = None
    batch_status: str = ""


def preview_payouts(round: ValuationRound, rows: list[ValueRow]) -> PayoutPreview:
    """The round's payout batch if it has one, else ``round.plan_payouts`` run without saving:
    the very call ``create_payouts`` makes, so the preview shows exactly what it would write.
    """
    if round.payout_batch_id is not None:
        return _saved_payouts(round, rows)
    pool = to_minor_unit(round.pool, round.currency)
    preview = PayoutPreview(
        currency=round.currency,
        policy=round.get_negative_policy_display(),
        pool_text=format_money(pool, round.currency),
        saved=False,
        pool_rounded_from=round.pool if pool != round.pool else None,
    )
    try:
        allocation = round.plan_payouts({row.key: row.value for row in rows})
    except PayoutError as error:
        preview.error = str(error)
        return preview
    labels = {row.key: row.label for row in rows}
    values = {row.key: row.value for row in rows}
    preview.lines = _sorted_lines(
        PayoutLine(
            key=key,
            label=labels[key],
            value=values[key],
            amount=amount,
            amount_text=format_money(amount, round.currency),
            share_percent=float(allocation.shares[key]) * 100.0,
            clipped=key in allocation.clipped,
        )
        for key, amount in allocation.amounts.items()
    )
    total = sum((line.amount for line in preview.lines), Decimal(0))
    preview.total_text = format_money(total, round.currency)
    preview.clipped_mass = allocation.clipped_mass
    preview.clipped_labels = [labels[key] for key in allocation.clipped]
    return preview


def _saved_payouts(round: ValuationRound, rows: list[ValueRow]) -> PayoutPreview:
    """The payout batch already created for the round."""
    batch = round.payout_batch
    assert batch is not None
    labels = {row.key: row.label for row in rows}
    values = {row.key: row.value for row in rows}
    lines = _sorted_lines(
        PayoutLine(
            key=payout.contributor.key,
            label=labels.get(payout.contributor.key, payout.contributor.name),
            value=values.get(payout.contributor.key),
            amount=payout.amount,
            amount_text=format_money(payout.amount, batch.currency),
            share_percent=float(payout.share) * 100.0,
            clipped=(values.get(payout.contributor.key) or 0.0) < 0,
        )
        for payout in batch.payouts.select_related("contributor")
    )
    total = sum((line.amount for line in lines), Decimal(0))
    return PayoutPreview(
        currency=batch.currency,
        policy=_policy_label(batch.negative_policy),
        pool_text=format_money(batch.pool, batch.currency),
        saved=True,
        lines=lines,
        total_text=format_money(total, batch.currency),
        clipped_mass=batch.clipped_mass,
        clipped_labels=[line.label for line in lines if line.clipped],
        batch_id=batch.pk,
        batch_status=batch.get_status_display(),
    )


def _policy_label(policy: str) -> str:
    """The readable name of a negative-value policy (the stored code if it is unknown)."""
    known = {member.value: member.label for member in NegativeValuePolicy}
    return known.get(policy, policy)


def _sorted_lines(lines: Iterable[PayoutLine]) -> list[PayoutLine]:
    """Largest amount first, then by key (stable, whatever the input order)."""
    return sorted(lines, key=lambda line: (-line.amount, line.key))


@dataclass(frozen=True)
class ComparisonRow:
    """One contributor in either of two rounds (None where absent)."""

    label: str
    value_a: float | None
    rank_a: int | None
    value_b: float | None
    rank_b: int | None

    @property
    def difference(self) -> float | None:
        if self.value_a is None or self.value_b is None:
            return None
        return self.value_b - self.value_a


@dataclass(frozen=True)
class Comparison:
    """Two rounds' values per contributor, their rank correlation and a grouped bar chart."""

    rows: list[ComparisonRow]
    n_shared: int
    spearman: float | None
    spearman_note: str
    figure: FigureBlock


def compare(round_a: ValuationRound, round_b: ValuationRound) -> Comparison:
    """Values and ranks of the contributors in either round; Spearman ρ over the shared ones."""
    a = {row.key: row for row in value_rows(round_a)}
    b = {row.key: row for row in value_rows(round_b)}
    labels = contributor_labels(Contributor.objects.filter(key__in=a.keys() | b.keys()))
    order = sorted(
        a.keys() | b.keys(),
        key=lambda k: (a[k].rank if k in a else math.inf, b[k].rank if k in b else math.inf, k),
    )
    rows = [
        ComparisonRow(
            label=labels[k],
            value_a=a[k].value if k in a else None,
            rank_a=a[k].rank if k in a else None,
            value_b=b[k].value if k in b else None,
            rank_b=b[k].rank if k in b else None,
        )
        for k in order
    ]
    shared = [k for k in order if k in a and k in b]
    rho, note = spearman_rho([a[k].value for k in shared], [b[k].value for k in shared])
    name_a, name_b = f"A: #{round_a.pk} {round_a.title}", f"B: #{round_b.pk} {round_b.title}"
    figure = charts.plot_comparison(
        [row.label for row in rows],
        [row.value_a for row in rows],
        [row.value_b for row in rows],
        name_a=name_a,
        name_b=name_b,
    )
    caption = "Values of every contributor in either round; a missing bar: not in that round."
    return Comparison(rows, len(shared), rho, note, _block("figure-compare", caption, figure))


def spearman_rho(a: list[float], b: list[float]) -> tuple[float | None, str]:
    """Spearman rank correlation of paired values, or None with the reason it is undefined."""
    from scipy.stats import spearmanr

    if len(a) < 2:
        return None, "undefined: fewer than two contributors are in both rounds"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input warns; handled below as NaN
        rho = float(spearmanr(a, b).statistic)
    if not math.isfinite(rho):
        return None, "undefined: one round gives all shared contributors the same value"
    return rho, f"over the {len(a)} contributors in both rounds"


def _block(id: str, caption: str, figure: go.Figure) -> FigureBlock:
    """Serialize a figure for ``json_script`` (plain lists keep it readable by any plotly.js),
    with the layout changes ``dashboard.js`` applies on a phone under ``narrow``."""
    return FigureBlock(
        id=id,
        caption=caption,
        figure={**figure_json(figure), "narrow": charts.narrow_layout(figure)},
    )
