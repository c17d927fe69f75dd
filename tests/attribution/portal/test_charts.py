"""The portal's figures: labelled traces from plain numbers, and no other contributor's value."""

from __future__ import annotations

import json
import math

import plotly.graph_objects as go
import pytest

from attribution.portal.charts import (
    ACCENT,
    HistoryPoint,
    bin_values,
    distribution_figure,
    history_figure,
    nice_step,
)

OTHERS = [0.5772156649, 1.2345678901, -0.3183098862, 2.7182818285]
OWN = 1.6180339887


def test_history_plots_pool_shares_as_labelled_points_one_trace_per_metric() -> None:
    figure = history_figure(
        [
            HistoryPoint("January round", "2026-01-05T10:00:00+00:00", "Inception Score", 0.25),
            HistoryPoint("February round", "2026-02-09T11:30:00+00:00", "FID", 0.4, "€12.34"),
            HistoryPoint("March round", "2026-03-02T09:00:00+00:00", "Inception Score", 0.3),
        ]
    )

    inception, fid = figure.data
    assert isinstance(inception, go.Scatter)
    assert (inception.name, fid.name) == ("Inception Score", "FID")
    assert inception.mode == "lines+markers"  # a line joins rounds on the same metric only
    assert fid.mode == "markers"
    assert list(inception.y) == pytest.approx([25.0, 30.0])
    assert list(inception.x) == ["January round<br>2026-01-05", "March round<br>2026-03-02"]
    assert figure.layout.xaxis.type == "category"  # no millisecond ticks for one day's rounds
    assert list(figure.layout.xaxis.categoryarray) == [
        "January round<br>2026-01-05",
        "February round<br>2026-02-09",
        "March round<br>2026-03-02",
    ]
    assert figure.layout.yaxis.title.text == "Share of the pool (%)"
    assert "Metric: FID" in fid.hovertext[0]
    assert "Share of the pool: 40.00%" in fid.hovertext[0]
    assert "Payout: €12.34" in fid.hovertext[0]


def test_history_leaves_out_rounds_without_a_share_and_escapes_titles() -> None:
    figure = history_figure(
        [
            HistoryPoint("zero total", "2026-01-05", "nats", None),
            HistoryPoint("<script>alert(1)</script>", "2026-02-09", "nats", 0.1),
            HistoryPoint("<script>alert(1)</script>", "2026-02-09", "nats", 0.2),
        ]
    )

    (trace,) = figure.data
    assert list(trace.y) == pytest.approx([10.0, 20.0])
    assert "<script>" not in trace.hovertext[0]
    assert "&lt;script&gt;" in trace.hovertext[0]
    assert len(set(trace.x)) == 2  # same title, same day: still two points


def test_distribution_has_anonymous_bars_and_a_highlighted_own_value_with_its_ci() -> None:
    figure = distribution_figure(
        [*OTHERS, OWN], own_value=OWN, own_ci=(1.2, 2.1), unit="Inception Score points"
    )

    bars, own = figure.data
    assert isinstance(bars, go.Bar)
    assert bars.name == "All contributors (anonymous)"
    assert sum(bars.y) == 5
    assert isinstance(own, go.Scatter)
    assert list(own.x) == [OWN]
    assert own.error_x.array[0] == pytest.approx(2.1 - OWN)
    assert own.error_x.arrayminus[0] == pytest.approx(OWN - 1.2)
    assert ACCENT in bars.marker.color  # the contributor's own bin is coloured
    assert figure.layout.title.text == "Your value among all 5 contributors"
    assert figure.layout.xaxis.title.text == "Shapley value (Inception Score points)"
    assert figure.layout.yaxis.title.text == "Contributors (count)"


def test_distribution_carries_no_other_contributors_value() -> None:
    figure = distribution_figure([*OTHERS, OWN], own_value=OWN, own_ci=None, unit="nats")

    payload = figure.to_json()
    for other in OTHERS:
        for text in (repr(other), f"{other:.4g}", f"{other:.3f}"):
            assert text not in payload
    assert json.loads(payload)["data"][1]["x"] == [OWN]


def test_distribution_without_a_ci_has_no_error_bar() -> None:
    figure = distribution_figure([1.0, 2.0], own_value=2.0, unit="nats")

    assert figure.data[1].error_x.array is None
    assert figure.data[1].name == "Your value"


def test_a_single_contributor_gets_one_bin() -> None:
    figure = distribution_figure([0.37], own_value=0.37, own_ci=(0.3, 0.44), unit="nats")

    assert list(figure.data[0].y) == [1]
    assert figure.layout.title.text == "Your value (you are the round's only contributor)"


@pytest.mark.parametrize(
    "values",
    [
        [0.0, 0.0, 0.0],
        [5.0],
        [-1e-9, 3e-9],
        [-120.5, 3.25, 40.0, 41.0, 400.0],
        [0.1 * k for k in range(100)],
    ],
)
def test_bins_cover_every_value_on_round_edges(values: list[float]) -> None:
    bins = bin_values(values)

    assert sum(bins.counts) == len(values)
    assert len(bins.edges) == len(bins.counts) + 1
    assert bins.edges[0] <= min(values)
    assert max(values) <= bins.edges[-1]
    for edge in bins.edges:
        assert math.isclose(edge / bins.step, round(edge / bins.step), abs_tol=1e-6)


def test_bins_refuse_nothing_and_nan() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        bin_values([])
    with pytest.raises(ValueError, match="finite"):
        bin_values([1.0, float("nan")])


@pytest.mark.parametrize(
    ("raw", "step"), [(0.3, 0.5), (1.0, 1.0), (1.1, 2.0), (2.2, 2.5), (7.0, 10.0), (0.012, 0.02)]
)
def test_nice_step_rounds_up_to_1_2_2_5_or_5(raw: float, step: float) -> None:
    assert nice_step(raw) == pytest.approx(step)
