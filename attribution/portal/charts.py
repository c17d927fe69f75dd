"""Plotly figures of the contributor portal, built from plain numbers.

Each function is pure: numbers and labels in, a ``plotly.graph_objects.Figure`` out; no Django,
no database. Views serialise a figure with ``fig.to_json()`` and the page draws it with the
vendored plotly.js (``static/js/charts.js``).

The distribution chart must not leak other contributors' values, so it bins them here: the figure
holds only bin edges (multiples of a round step such as 0.25, never a contributor's value) and the
number of contributors in each bin.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

ACCENT = "#2f6f5e"
MUTED = "#9aa5b1"
TEMPLATE = "plotly_white"
MAX_BINS = 12
_NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Bins:
    """A histogram: ``counts[i]`` values lie in [edges[i], edges[i + 1]) (the last bin is closed).

    Attributes:
        edges: Bin edges, ascending, one more than ``counts``; multiples of ``step``.
        counts: Number of values per bin.
        step: Bin width.
    """

    edges: list[float]
    counts: list[int]
    step: float


def format_number(value: float) -> str:
    """Four significant digits, the precision the portal shows values with (e.g. ``"-0.01234"``)."""
    return f"{value:.4g}"


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is at least ``raw`` (> 0)."""
    exponent = math.floor(math.log10(raw))
    scale = 10.0**exponent
    fraction = raw / scale
    nice = next(step for step in _NICE_STEPS if step >= fraction * (1 - 1e-12))
    return float(f"{nice * scale:.12g}")


def bin_values(values: Sequence[float], *, max_bins: int = MAX_BINS) -> Bins:
    """Bin values on round edges: about ⌈log2 n⌉ + 1 bins (Sturges), at most ``max_bins``.

    Args:
        values: At least one finite number.
        max_bins: Upper bound on the number of bins aimed for.

    Raises:
        ValueError: If ``values`` is empty or holds a NaN or an infinity.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0 or not np.all(np.isfinite(data)):
        raise ValueError("bin_values needs at least one value, all finite")
    low, high = float(data.min()), float(data.max())
    target = min(max_bins, math.ceil(math.log2(data.size)) + 1)
    span = high - low
    step = nice_step(span / target if span > 0 else (abs(low) / 2 or 1.0))
    start = math.floor(low / step) * step
    n_bins = max(1, math.ceil((high - start) / step))
    edges = [float(f"{start + index * step:.12g}") for index in range(n_bins + 1)]
    while edges[-1] < high:  # rounding put the top edge just below the largest value
        edges.append(float(f"{edges[-1] + step:.12g}"))
    counts, _ = np.histogram(data, bins=edges)
    return Bins(edges=edges, counts=[int(count) for count in counts], step=step)


#: Colours of the history chart's metrics (colour-blind safe, ≥ 3:1 on white).
METRIC_COLOURS = ("#2f6f5e", "#8a4fbe", "#c0392b", "#1f6fb2", "#b26a00", "#4b5563")


@dataclass(frozen=True)
class HistoryPoint:
    """One round on the history chart.

    Attributes:
        title: The round's title (plain text; escaped here).
        date: When it finished, ISO 8601 (``"2026-05-01"`` or a full timestamp).
        metric: The metric's name, e.g. ``"Inception Score"``; rounds are grouped by it.
        pool_share: The contributor's share of the round's pool as a fraction (0.25 = 25%), or
            None where the pool could not be shared; such rounds are left out.
        payout: The payout as displayed (``"€12.34"``), or None before a payout batch.
    """

    title: str
    date: str
    metric: str
    pool_share: float | None
    payout: str | None = None


def history_figure(points: Sequence[HistoryPoint]) -> go.Figure:
    """A contributor's share of the pool, round after round: one labelled point per round.

    Rounds are categories on the x axis (title and date under each point), oldest first, so a
    single day's rounds never become millisecond ticks; each metric is its own trace and colour,
    and a line joins only rounds on the same metric.
    """
    shown = [point for point in points if point.pool_share is not None]
    labels = _unique([f"{html.escape(p.title)}<br>{html.escape(p.date[:10])}" for p in shown])
    figure = go.Figure()
    metrics = list(dict.fromkeys(point.metric for point in shown))
    for index, metric in enumerate(metrics):
        mine = [(label, p) for label, p in zip(labels, shown, strict=True) if p.metric == metric]
        colour = METRIC_COLOURS[index % len(METRIC_COLOURS)]
        figure.add_trace(
            go.Scatter(
                x=[label for label, _ in mine],
                y=[(p.pool_share or 0.0) * 100.0 for _, p in mine],
                hovertext=[_history_hover(p) for _, p in mine],
                hovertemplate="%{hovertext}<extra></extra>",
                mode="lines+markers" if len(mine) > 1 else "markers",
                name=html.escape(metric),
                line={"color": colour},
                marker={"size": 11, "color": colour},
            )
        )
    figure.update_layout(
        template=TEMPLATE,
        title={"text": "Your share of the pool, round by round"},
        xaxis={
            "title": {"text": "Round (finished)"},
            "type": "category",
            "categoryorder": "array",
            "categoryarray": labels,
        },
        yaxis={
            "title": {"text": "Share of the pool (%)"},
            "rangemode": "tozero",
            "ticksuffix": "%",
        },
        showlegend=True,
        legend={"orientation": "h", "y": -0.35, "title": {"text": "Metric"}},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return figure


def _unique(labels: list[str]) -> list[str]:
    """Make category labels unique (two rounds with one title on one day stay two points)."""
    seen: dict[str, int] = {}
    result = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        result.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return result


def _history_hover(point: HistoryPoint) -> str:
    share = (point.pool_share or 0.0) * 100
    payout = f"<br>Payout: {html.escape(point.payout)}" if point.payout else ""
    return (
        f"<b>{html.escape(point.title)}</b><br>Finished {html.escape(point.date[:10])}<br>"
        f"Metric: {html.escape(point.metric)}<br>Share of the pool: {share:.2f}%{payout}"
    )


def distribution_figure(
    values: Sequence[float],
    *,
    own_value: float,
    own_ci: tuple[float, float] | None = None,
    unit: str,
) -> go.Figure:
    """A contributor's value against every contributor's value in the round, anonymised.

    Everyone's values become a histogram (counts per bin; see ``bin_values``); the contributor's
    own bin is coloured, and their exact value is a marker above the bars with their 95%
    confidence interval as a horizontal error bar.

    Args:
        values: Every contributor's value in the round, the contributor's own included.
        own_value: The contributor's value.
        own_ci: Their 95% confidence interval (low, high), or None if the method gives none.
        unit: The unit of the values (e.g. ``"Inception Score points"``).
    """
    bins = bin_values(values)
    own_bin = _bin_index(bins, own_value)
    ranges = [
        [format_number(low), format_number(high)]
        for low, high in zip(bins.edges[:-1], bins.edges[1:], strict=True)
    ]
    bars = go.Bar(
        x=[low + bins.step / 2 for low in bins.edges[:-1]],
        y=bins.counts,
        width=bins.step * 0.95,
        customdata=ranges,
        hovertemplate="%{y} contributor(s) with a value from %{customdata[0]} "
        "to %{customdata[1]}<extra></extra>",
        marker={"color": [ACCENT if i == own_bin else MUTED for i in range(len(bins.counts))]},
        name="All contributors (anonymous)",
    )
    top = max(bins.counts) + 0.6
    own_hover = f"Your value: {format_number(own_value)} {html.escape(unit)}"
    error_x = None
    if own_ci is not None:
        low, high = own_ci
        own_hover += f"<br>95% CI: {format_number(low)} to {format_number(high)}"
        error_x = {
            "type": "data",
            "symmetric": False,
            "array": [max(high - own_value, 0.0)],
            "arrayminus": [max(own_value - low, 0.0)],
            "color": ACCENT,
            "thickness": 2,
            "width": 6,
        }
    own = go.Scatter(
        x=[own_value],
        y=[top],
        mode="markers+text",
        text=["You"],
        textposition="top center",
        marker={"color": ACCENT, "size": 12, "symbol": "diamond"},
        error_x=error_x,
        hovertext=[own_hover],
        hovertemplate="%{hovertext}<extra></extra>",
        name="Your value (95% CI)" if own_ci is not None else "Your value",
    )
    figure = go.Figure([bars, own])
    if bins.edges[0] <= 0.0 <= bins.edges[-1]:
        figure.add_vline(x=0.0, line={"color": "#616e7c", "dash": "dot", "width": 1})
    figure.update_layout(
        template=TEMPLATE,
        title={"text": _distribution_title(len(values))},
        xaxis={"title": {"text": f"Shapley value ({unit})"}},
        yaxis={
            "title": {"text": "Contributors (count)"},
            "rangemode": "tozero",
            "range": [0, top + 0.9],
            "dtick": max(1, math.ceil(max(bins.counts) / 6)),
        },
        legend={"orientation": "h", "y": -0.25},
        bargap=0.05,
        margin={"l": 70, "r": 20, "t": 60, "b": 90},
    )
    return figure


def _distribution_title(n_contributors: int) -> str:
    if n_contributors == 1:
        return "Your value (you are the round's only contributor)"
    return f"Your value among all {n_contributors} contributors"


def _bin_index(bins: Bins, value: float) -> int:
    """The bin holding ``value`` (the last bin is closed on the right, as in ``np.histogram``)."""
    index = int(np.searchsorted(bins.edges, value, side="right")) - 1
    return min(max(index, 0), len(bins.counts) - 1)
