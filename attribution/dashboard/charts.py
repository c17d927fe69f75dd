"""Plotly figures of the staff round dashboard: plain numbers in, a ``plotly`` Figure out.

Every function is pure (no Django, no database) so it can be tested on its own. Inputs are plain
Python lists, never numpy arrays: ``Figure.to_json`` would encode arrays as base64 typed arrays,
which older plotly.js builds cannot read and which a page test cannot count. Every figure has a
title, axis titles and hover text, and uses the same quiet template.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

TEMPLATE = "plotly_white"
HEIGHT_PX = 420
ROW_PX = 26
LEGEND_ROW_PX = 20
VALUE_COLOR = "#2f6f5e"
EXACT_COLOR = "#c2410c"
SECOND_COLOR = "#8a6fb0"
DEFAULT_COLORS = qualitative.Plotly
MANY_COLORS = qualitative.Dark24
OTHER_COLOR = "#b8c0c8"
HIGHLIGHTED = len(DEFAULT_COLORS)
"""Beyond ``len(MANY_COLORS)`` lines, the ``HIGHLIGHTED`` highest keep a colour; the rest: grey."""
NARROW_WIDTH_PX = 600
"""Below this drawing width (a phone), ``dashboard.js`` applies a figure's ``narrow`` layout."""
NARROW_TITLE_CHARS = 34
NARROW_AXIS_CHARS = 24
NARROW_TICK_CHARS = 18


def plot_values(
    labels: Sequence[str],
    values: Sequence[float],
    ci_low: Sequence[float | None],
    ci_high: Sequence[float | None],
    *,
    exact_values: Sequence[float | None] | None = None,
    value_title: str = "Shapley value",
) -> go.Figure:
    """Shapley values as horizontal bars, highest at the top, with 95% CIs as error bars.

    Horizontal, so that long contributor names stay readable however many there are.

    Args:
        labels: One label per contributor (unique: they are the categories of the y axis).
        values: Shapley value per contributor, in the metric's units.
        ci_low: Lower end of the 95% interval per contributor (None when there is none).
        ci_high: Upper end of the 95% interval per contributor (None when there is none).
        exact_values: Exact Shapley values per contributor, drawn as markers when given.
        value_title: Title of the value axis (names the metric).
    """
    order = sorted(range(len(values)), key=lambda i: (-values[i], labels[i]))
    names = [labels[i] for i in order]
    heights = [float(values[i]) for i in order]
    low = [ci_low[i] for i in order]
    high = [ci_high[i] for i in order]
    has_ci = any(lo is not None and hi is not None for lo, hi in zip(low, high, strict=True))
    bar = go.Bar(
        x=heights,
        y=names,
        orientation="h",
        name="Estimated value",
        marker_color=VALUE_COLOR,
        customdata=[[_interval_text(lo, hi)] for lo, hi in zip(low, high, strict=True)],
        hovertemplate="<b>%{y}</b><br>value %{x:.4g}<br>95% CI %{customdata[0]}<extra></extra>",
    )
    if has_ci:
        bar.error_x = go.bar.ErrorX(
            type="data",
            symmetric=False,
            array=[
                0.0 if hi is None else float(hi) - v for hi, v in zip(high, heights, strict=True)
            ],
            arrayminus=[
                0.0 if lo is None else v - float(lo) for lo, v in zip(low, heights, strict=True)
            ],
            color="#3e4c59",
            thickness=1.5,
        )
    figure = go.Figure(bar)
    if exact_values is not None and any(exact_values[i] is not None for i in order):
        figure.add_trace(
            go.Scatter(
                x=[exact_values[i] for i in order],
                y=names,
                mode="markers",
                name="Exact value",
                marker={"symbol": "diamond", "size": 10, "color": EXACT_COLOR},
                hovertemplate="<b>%{y}</b><br>exact value %{x:.4g}<extra></extra>",
            )
        )
    title = "Shapley value per contributor" + (
        " with 95% confidence intervals" if has_ci else " (no confidence intervals)"
    )
    _layout(figure, title=title, x_title=value_title, y_title="Contributor")
    return _categories_down(figure, len(names))


def plot_shares(labels: Sequence[str], shares: Sequence[float | None]) -> go.Figure:
    """Each contributor's share of what the whole data achieved, v(N) − v(∅), as bars.

    Args:
        labels: One label per contributor.
        shares: value / (v(N) − v(∅)) per contributor, as fractions (0.25 is 25%); None (no
            share: the whole data achieved nothing) is drawn as an empty bar.
    """
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] or 0.0), labels[i]))
    figure = go.Figure(
        go.Bar(
            x=[shares[i] for i in order],
            y=[labels[i] for i in order],
            orientation="h",
            name="Share",
            marker_color=VALUE_COLOR,
            hovertemplate="<b>%{y}</b><br>share %{x:.2%}<extra></extra>",
        )
    )
    _layout(
        figure,
        title="Share of v(N) − v(∅) per contributor",
        x_title="Share of the total gain",
        y_title="Contributor",
    )
    figure.update_xaxes(tickformat=".0%")
    return _categories_down(figure, len(order))


def select_held_out(
    observed: Sequence[float | None], predicted: Sequence[float | None]
) -> tuple[list[float], list[float], list[int]]:
    """Pairs (observed, out-of-fold prediction) of the coalitions the surrogate was tested on.

    Rows 0 and 1 are ∅ and N (always in the training set, never predicted out of fold) and rows
    without a prediction are skipped.

    Returns:
        Observed utilities, predicted utilities and the row index of each pair.
    """
    rows = [
        row
        for row in range(2, min(len(observed), len(predicted)))
        if predicted[row] is not None
        and observed[row] is not None
        and math.isfinite(float(predicted[row]))  # type: ignore[arg-type]
    ]
    return (
        [float(observed[row]) for row in rows],  # type: ignore[arg-type]
        [float(predicted[row]) for row in rows],  # type: ignore[arg-type]
        rows,
    )


def plot_surrogate_fit(
    observed: Sequence[float],
    predicted: Sequence[float],
    r2: float | None,
    *,
    rows: Sequence[int] | None = None,
    utility_title: str = "utility",
) -> go.Figure:
    """Out-of-fold predictions against observed utilities of held-out coalitions, with y = x.

    Args:
        observed: Observed utility per held-out coalition (see ``select_held_out``).
        predicted: The surrogate's out-of-fold prediction for the same coalitions.
        r2: Cross-validated R² of the surrogate, shown in the title (None if unknown).
        rows: Row index of each coalition in the round's table, shown on hover.
        utility_title: Name of the utility (the metric), used in the axis titles.
    """
    rows = list(rows) if rows is not None else list(range(len(observed)))
    figure = go.Figure(
        go.Scatter(
            x=list(observed),
            y=list(predicted),
            mode="markers",
            name="Held-out coalition",
            marker={"color": VALUE_COLOR, "size": 7, "opacity": 0.75},
            customdata=rows,
            hovertemplate=(
                "coalition #%{customdata}<br>observed %{x:.4g}<br>predicted %{y:.4g}<extra></extra>"
            ),
        )
    )
    if observed:
        low = min(min(observed), min(predicted))
        high = max(max(observed), max(predicted))
        figure.add_trace(
            go.Scatter(
                x=[low, high],
                y=[low, high],
                mode="lines",
                name="y = x (perfect fit)",
                line={"color": "#9aa5b1", "dash": "dash"},
                hoverinfo="skip",
            )
        )
    r2_text = "n/a" if r2 is None or not math.isfinite(r2) else f"{r2:.3f}"
    return _layout(
        figure,
        title=f"Surrogate fit on held-out coalitions (out-of-fold R² = {r2_text})",
        x_title=f"Observed {utility_title}",
        y_title=f"Predicted {utility_title} (out of fold)",
    )


def line_colors(n: int) -> list[str | None]:
    """One colour per line, never the same twice: a ten-colour palette up to 10 lines, a
    24-colour one up to 24; beyond that None (the caller draws those lines grey)."""
    if n <= len(DEFAULT_COLORS):
        return list(DEFAULT_COLORS[:n])
    if n <= len(MANY_COLORS):
        return list(MANY_COLORS[:n])
    return [*DEFAULT_COLORS[:HIGHLIGHTED], *([None] * (n - HIGHLIGHTED))]


def plot_convergence(
    n_coalitions: Sequence[int],
    values: Mapping[str, Sequence[float]],
    *,
    value_title: str = "Shapley value",
) -> go.Figure:
    """Each contributor's value refitted on growing prefixes of the evaluated coalitions.

    Every line has its own colour up to 24 lines; with more, the ``HIGHLIGHTED`` contributors
    with the highest final value keep theirs and the others are thin grey lines under one legend
    entry ("other contributors"), so no two coloured lines look alike.

    Args:
        n_coalitions: Number of coalitions of each refit (x axis), ascending.
        values: Contributor label → value at each of those counts (same length).
        value_title: Title of the value axis (names the metric).
    """
    labels = list(values)
    colors = line_colors(len(labels))
    if None in colors:  # many lines: the highest final values keep the colours
        order = sorted(labels, key=lambda label: -float(values[label][-1]) if values[label] else 0)
        labels = order
    n_others = colors.count(None)
    figure = go.Figure()
    for label, color in zip(labels, colors, strict=True):
        trace = go.Scatter(
            x=list(n_coalitions),
            y=[float(v) for v in values[label]],
            mode="lines+markers",
            name=label,
            text=[label] * len(values[label]),
            hovertemplate="<b>%{text}</b><br>%{x} coalitions<br>value %{y:.4g}<extra></extra>",
            line={"color": color or OTHER_COLOR, "width": 2 if color else 1},
            marker={"color": color or OTHER_COLOR, "size": 6 if color else 4},
        )
        if color is None:  # one legend entry stands for every grey line
            first = label == labels[HIGHLIGHTED]
            trace.update(legendgroup="others", showlegend=first)
            if first:
                trace.name = f"{n_others:,} other contributors"
        figure.add_trace(trace)
    _layout(
        figure,
        title="Convergence of the values with the number of coalitions",
        x_title="Coalitions evaluated",
        y_title=value_title,
    )
    # One legend entry per line: a column on the right, as tall as the entries need.
    shown = min(len(labels), HIGHLIGHTED + 1) if None in colors else len(labels)
    figure.update_layout(
        legend={"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top"},
        height=max(HEIGHT_PX, 160 + LEGEND_ROW_PX * shown),
    )
    return figure


def plot_comparison(
    labels: Sequence[str],
    values_a: Sequence[float | None],
    values_b: Sequence[float | None],
    *,
    name_a: str,
    name_b: str,
    value_title: str = "Shapley value",
) -> go.Figure:
    """Two rounds' values side by side per contributor (grouped bars; None = not in that round).

    Args:
        labels: Contributors in either round, top to bottom.
        values_a: Value in round A per contributor, None if the contributor was not in it.
        values_b: Value in round B per contributor, None if the contributor was not in it.
        name_a: Legend name of round A.
        name_b: Legend name of round B (must differ from ``name_a``).
        value_title: Title of the value axis.
    """
    figure = go.Figure(
        [
            go.Bar(
                x=list(series),
                y=list(labels),
                orientation="h",
                name=name,
                marker_color=color,
                hovertemplate="<b>%{y}</b><br>%{fullData.name}<br>value %{x:.4g}<extra></extra>",
            )
            for name, series, color in (
                (name_a, values_a, VALUE_COLOR),
                (name_b, values_b, SECOND_COLOR),
            )
        ]
    )
    _layout(
        figure,
        title="Values per contributor in both rounds",
        x_title=value_title,
        y_title="Contributor",
    )
    figure.update_layout(barmode="group")
    return _categories_down(figure, len(labels), row_px=ROW_PX * 2)


def narrow_layout(figure: go.Figure) -> dict[str, Any]:
    """Layout changes for a phone (a drawing narrower than ``NARROW_WIDTH_PX``): the title
    wrapped onto short lines, small margins, and any legend moved under the plot, one entry a
    row, with the figure made taller by as much, so nothing is cut off or squeezed sideways."""
    layout = figure.layout
    title = _wrap(str(layout.title.text or ""), NARROW_TITLE_CHARS)
    title_lines = title.count("<br>") + 1
    entries = sum(1 for trace in figure.data if trace.showlegend is not False)
    legend = len(figure.data) > 1 and entries > 0
    height = int(layout.height or HEIGHT_PX)
    x_title = _wrap(str(layout.xaxis.title.text or ""), NARROW_AXIS_CHARS)
    y_title = str(layout.yaxis.title.text or "")
    rows_are_contributors = y_title == "Contributor"
    y_title = "" if rows_are_contributors else _wrap(y_title, NARROW_AXIS_CHARS)
    bottom = 40 + 14 * x_title.count("<br>")
    narrow: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}},
        "margin": {"l": 8, "r": 8, "t": 30 + 20 * title_lines, "b": bottom},
        "font": {"size": 11},
        "xaxis": {"title": {"text": x_title, "font": {"size": 11}}, "tickfont": {"size": 10}},
        # Rows that are contributors are named on their ticks: that axis title only takes room.
        "yaxis": {
            "title": {"text": y_title},
            "tickfont": {"size": 10},
        },
    }
    if rows_are_contributors and figure.data and figure.data[0].y is not None:
        # Long names would take most of a phone's width: the ticks show them shortened (hover
        # and the table below show them whole).
        names = [str(name) for name in figure.data[0].y]
        narrow["yaxis"].update(
            tickmode="array",
            tickvals=names,
            ticktext=[_shorten(n, NARROW_TICK_CHARS) for n in names],
        )
    if legend:  # at the foot of the figure, under the axis title, one row per entry at most
        rows = LEGEND_ROW_PX * entries
        narrow["legend"] = {
            "orientation": "h",
            "x": 0.0,
            "xanchor": "left",
            "yref": "container",
            "y": 0.0,
            "yanchor": "bottom",
        }
        narrow["margin"]["b"] = bottom + rows + 10
        narrow["height"] = height + rows + 10
    return narrow


def _shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _wrap(text: str, width: int) -> str:
    """``text`` broken onto lines of at most ``width`` characters (plotly's ``<br>``)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def _categories_down(figure: go.Figure, n_rows: int, *, row_px: int = 0) -> go.Figure:
    """First category at the top, and a height that gives every row room for its label."""
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_layout(height=max(HEIGHT_PX, 160 + n_rows * (row_px or ROW_PX)))
    return figure


def _layout(figure: go.Figure, *, title: str, x_title: str, y_title: str) -> go.Figure:
    """Apply the shared template, title and axis titles."""
    figure.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=HEIGHT_PX,
        margin={"l": 70, "r": 20, "t": 90, "b": 60},
        legend={"orientation": "h", "x": 0.0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"},
        hoverlabel={"align": "left"},
    )
    figure.update_xaxes(title_text=x_title)
    figure.update_yaxes(title_text=y_title, zeroline=True)
    return figure


def _interval_text(low: float | None, high: float | None) -> str:
    """'[low, high]' for hover text, or 'n/a' without an interval."""
    if low is None or high is None:
        return "n/a"
    return f"[{low:.4g}, {high:.4g}]"
