"""The dashboard's plotly figures: trace types, order, error bars, titles and axis titles."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from attribution.dashboard import charts


def as_json(figure: go.Figure) -> dict:
    """The figure as the page receives it."""
    return json.loads(figure.to_json())


def assert_labelled(figure: dict, *, title: str, x_title: str, y_title: str) -> None:
    layout = figure["layout"]
    assert title in layout["title"]["text"]
    assert layout["xaxis"]["title"]["text"] == x_title
    assert layout["yaxis"]["title"]["text"] == y_title
    assert all(trace.get("hovertemplate") or trace.get("hoverinfo") for trace in figure["data"])


def test_values_are_bars_sorted_high_to_low_with_asymmetric_error_bars() -> None:
    figure = as_json(
        charts.plot_values(
            ["Bob", "Alice", "Carol"],
            [1.0, 3.0, 2.0],
            [0.5, 2.0, 1.9],
            [1.25, 4.5, 2.1],
            value_title="Shapley value (Inception Score)",
        )
    )

    (bar,) = figure["data"]
    assert bar["type"] == "bar"
    assert bar["orientation"] == "h"  # long names stay readable
    assert bar["y"] == ["Alice", "Carol", "Bob"]
    assert figure["layout"]["yaxis"]["autorange"] == "reversed"  # highest at the top
    assert bar["x"] == [3.0, 2.0, 1.0]
    assert bar["error_x"]["symmetric"] is False
    assert bar["error_x"]["array"] == pytest.approx([1.5, 0.1, 0.25], abs=1e-12)
    assert bar["error_x"]["arrayminus"] == pytest.approx([1.0, 0.1, 0.5], abs=1e-12)
    assert_labelled(
        figure,
        title="95% confidence intervals",
        x_title="Shapley value (Inception Score)",
        y_title="Contributor",
    )


def test_bar_charts_grow_with_the_number_of_contributors() -> None:
    few = as_json(charts.plot_values(["a", "b"], [1.0, 2.0], [None] * 2, [None] * 2))
    labels = [f"contributor {i}" for i in range(40)]
    many = as_json(charts.plot_values(labels, [1.0] * 40, [None] * 40, [None] * 40))

    assert few["layout"]["height"] == charts.HEIGHT_PX
    assert many["layout"]["height"] > 40 * 20


def test_values_without_intervals_have_no_error_bars_and_say_so() -> None:
    figure = as_json(charts.plot_values(["a", "b"], [1.0, 2.0], [None, None], [None, None]))

    assert "error_x" not in figure["data"][0]
    assert "no confidence intervals" in figure["layout"]["title"]["text"]


def test_exact_values_are_drawn_as_markers_in_the_same_order() -> None:
    figure = as_json(
        charts.plot_values(
            ["a", "b"], [1.0, 2.0], [0.9, 1.9], [1.1, 2.1], exact_values=[1.05, 1.95]
        )
    )

    bar, exact = figure["data"]
    assert exact["type"] == "scatter"
    assert exact["mode"] == "markers"
    assert exact["y"] == bar["y"] == ["b", "a"]
    assert exact["x"] == [1.95, 1.05]


def test_shares_are_percent_bars() -> None:
    figure = as_json(charts.plot_shares(["a", "b", "c"], [0.25, 0.75, None]))

    (bar,) = figure["data"]
    assert bar["type"] == "bar"
    assert bar["y"] == ["b", "a", "c"]
    assert bar["x"] == [0.75, 0.25, None]
    assert figure["layout"]["xaxis"]["tickformat"] == ".0%"
    assert_labelled(
        figure,
        title="Share of v(N) − v(∅)",
        x_title="Share of the total gain",
        y_title="Contributor",
    )


def test_held_out_selection_skips_empty_and_grand_coalitions_and_missing_predictions() -> None:
    observed = [0.0, 10.0, 3.0, 4.0, 5.0, 6.0]
    predicted = [None, None, 3.5, None, 4.5, float("nan")]

    assert charts.select_held_out(observed, predicted) == ([3.0, 5.0], [3.5, 4.5], [2, 4])


def test_surrogate_fit_is_a_scatter_with_the_identity_line_and_r2_in_the_title() -> None:
    figure = as_json(
        charts.plot_surrogate_fit([1.0, 2.0, 3.0], [1.5, 1.0, 3.5], 0.8766, rows=[2, 3, 4])
    )

    points, identity = figure["data"]
    assert points["type"] == identity["type"] == "scatter"
    assert points["mode"] == "markers"
    assert points["x"] == [1.0, 2.0, 3.0]
    assert points["y"] == [1.5, 1.0, 3.5]
    assert identity["mode"] == "lines"
    assert identity["x"] == identity["y"] == [1.0, 3.5]
    assert "R² = 0.877" in figure["layout"]["title"]["text"]
    assert_labelled(
        figure,
        title="held-out coalitions",
        x_title="Observed utility",
        y_title="Predicted utility (out of fold)",
    )


def test_surrogate_fit_without_r2_or_points_still_renders() -> None:
    figure = as_json(charts.plot_surrogate_fit([], [], None))

    assert len(figure["data"]) == 1
    assert "R² = n/a" in figure["layout"]["title"]["text"]


def test_convergence_has_one_line_per_contributor() -> None:
    figure = as_json(
        charts.plot_convergence([10, 20, 30], {"Alice": [1.0, 1.1, 1.2], "Bob": [0.5, 0.4, 0.45]})
    )

    assert [trace["name"] for trace in figure["data"]] == ["Alice", "Bob"]
    for trace in figure["data"]:
        assert trace["type"] == "scatter"
        assert trace["mode"] == "lines+markers"
        assert trace["x"] == [10, 20, 30]
    assert_labelled(
        figure,
        title="Convergence",
        x_title="Coalitions evaluated",
        y_title="Shapley value",
    )


def test_comparison_is_grouped_bars_with_gaps_for_absent_contributors() -> None:
    figure = as_json(
        charts.plot_comparison(
            ["a", "b", "c"], [1.0, 2.0, None], [1.5, None, 0.5], name_a="A: #1", name_b="B: #2"
        )
    )

    first, second = figure["data"]
    assert first["type"] == second["type"] == "bar"
    assert (first["name"], second["name"]) == ("A: #1", "B: #2")
    assert first["y"] == second["y"] == ["a", "b", "c"]
    assert first["x"] == [1.0, 2.0, None]
    assert second["x"] == [1.5, None, 0.5]
    assert figure["layout"]["barmode"] == "group"
    assert_labelled(figure, title="both rounds", x_title="Shapley value", y_title="Contributor")


def convergence(n: int) -> dict:
    """A convergence figure of ``n`` lines; contributor i ends at value i."""
    series = {f"C{i:02d}": [float(i) - 1.0, float(i) - 0.5, float(i)] for i in range(n)}
    return as_json(charts.plot_convergence([10, 20, 40], series))


@pytest.mark.parametrize("n", [3, 10, 11, 20, 24])
def test_every_convergence_line_has_its_own_colour_up_to_24_lines(n: int) -> None:
    figure = convergence(n)

    colors = [trace["line"]["color"] for trace in figure["data"]]
    assert len(colors) == n
    assert len(set(colors)) == n  # no colour repeats
    assert all(trace["marker"]["color"] == trace["line"]["color"] for trace in figure["data"])
    assert charts.OTHER_COLOR not in colors


def test_past_24_lines_the_highest_keep_colours_and_the_rest_are_grey_under_one_entry() -> None:
    figure = convergence(30)

    traces = figure["data"]
    coloured = [t for t in traces if t["line"]["color"] != charts.OTHER_COLOR]
    grey = [t for t in traces if t["line"]["color"] == charts.OTHER_COLOR]
    assert len(coloured) == charts.HIGHLIGHTED
    assert len({t["line"]["color"] for t in coloured}) == charts.HIGHLIGHTED
    # The coloured lines are the contributors with the highest final values (C29 … C20).
    assert [t["text"][0] for t in coloured] == [f"C{i:02d}" for i in range(29, 19, -1)]
    assert len(grey) == 30 - charts.HIGHLIGHTED
    shown = [t for t in grey if t.get("showlegend", True)]
    assert len(shown) == 1
    assert shown[0]["name"] == "20 other contributors"
    assert all(t["legendgroup"] == "others" for t in grey)
    assert all("%{text}" in t["hovertemplate"] for t in traces)  # hover names the contributor


def test_the_narrow_layout_wraps_the_title_and_moves_the_legend_under_the_plot() -> None:
    figure = charts.plot_convergence([10, 20], {f"C{i}": [1.0, 2.0] for i in range(10)})

    narrow = charts.narrow_layout(figure)

    lines = narrow["title"]["text"].split("<br>")
    assert len(lines) > 1
    assert all(len(line) <= charts.NARROW_TITLE_CHARS for line in lines)
    assert " ".join(lines) == figure.layout.title.text
    assert narrow["legend"]["orientation"] == "h"
    assert narrow["legend"]["yref"] == "container"  # at the foot of the whole figure
    assert narrow["legend"]["yanchor"] == "bottom"
    assert narrow["legend"]["y"] == 0
    assert narrow["margin"]["b"] >= 10 * charts.LEGEND_ROW_PX  # room for it under the axis
    assert narrow["height"] >= figure.layout.height + 10 * charts.LEGEND_ROW_PX
    assert narrow["margin"]["l"] < figure.layout.margin.l
    assert narrow["margin"]["r"] < 20


def test_the_narrow_layout_of_a_one_trace_chart_has_no_legend_to_move() -> None:
    figure = charts.plot_shares(["Alice", "Bob"], [0.25, 0.75])

    narrow = charts.narrow_layout(figure)

    assert "legend" not in narrow
    assert "height" not in narrow  # the bar chart's own height stays


def test_the_narrow_layout_wraps_axis_titles_and_drops_the_contributor_axis_title() -> None:
    figure = charts.plot_values(
        ["Alice", "Bob"],
        [1.0, 2.0],
        [None, None],
        [None, None],
        value_title="Shapley value (Label fidelity)",
    )

    narrow = charts.narrow_layout(figure)

    assert narrow["xaxis"]["title"]["text"] == "Shapley value (Label<br>fidelity)"
    assert narrow["yaxis"]["title"]["text"] == ""  # the ticks name the contributors
    assert narrow["yaxis"]["tickvals"] == ["Bob", "Alice"]
    assert narrow["yaxis"]["ticktext"] == ["Bob", "Alice"]  # short names stay whole
    long = charts.narrow_layout(charts.plot_shares(["Contributor 16 (a copy of scans)"], [1.0]))
    assert long["yaxis"]["ticktext"] == ["Contributor 16 (a…"]
    assert long["yaxis"]["tickvals"] == ["Contributor 16 (a copy of scans)"]
    fit = charts.narrow_layout(charts.plot_surrogate_fit([1.0], [1.0], 0.9, utility_title="IS"))
    assert fit["yaxis"]["title"]["text"] == "Predicted IS (out of<br>fold)"
