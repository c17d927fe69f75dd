"""A round's overall progress over all its stages, the stage in words and the time left."""

from __future__ import annotations

import pytest

from attribution.dashboard.progress import (
    FEATURES,
    GENERATE,
    VALUE,
    describe_duration,
    eta_seconds,
    overall_progress,
)


def test_the_stage_weights_cover_the_whole_round() -> None:
    assert pytest.approx(1.0) == GENERATE + FEATURES + VALUE


def test_the_first_contributors_images_done_is_not_the_whole_round() -> None:
    # The worker writes 1.0 when the first of 20 contributors' images are all generated; the
    # round is then a twentieth of the way through generation.
    state = overall_progress("generate c00", 1.0, position=0, n_contributors=20)

    assert state.fraction == pytest.approx(GENERATE / 20)
    assert state.label == "Generating images for contributor 1 of 20"


def test_overall_progress_never_goes_back_through_a_whole_round() -> None:
    n = 4
    trace = [("queued", 0.0, None), ("starting", 0.0, None)]
    for index in range(n):
        trace += [(f"generate k{index}", f, index) for f in (0.0, 0.5, 1.0)]
        trace.append(("banks", (index + 1) / n, None))
    trace += [("features", i / n, None) for i in range(1, n + 1)]
    trace += [("bank bootstrap", b / 5, None) for b in range(1, 6)]
    trace += [("metrics", 1.0, None), ("done", 1.0, None)]

    fractions = [
        overall_progress(stage, f, position=position, n_contributors=n).fraction
        for stage, f, position in trace
    ]

    assert all(f is not None for f in fractions)
    assert fractions == sorted(fractions)  # monotone
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    generated = overall_progress("banks", 1.0, position=None, n_contributors=n).fraction
    assert generated == pytest.approx(GENERATE)


def test_stages_in_words() -> None:
    def label(stage: str, fraction: float = 0.0, position: int | None = None) -> str:
        return overall_progress(stage, fraction, position=position, n_contributors=20).label

    assert label("queued") == "Queued: waiting for a worker"
    assert label("banks", 0.25) == "Generated the images of 5 of 20 contributors"
    assert label("features", 0.5) == "Reading features of 10 of 20 banks"
    # Features done: the estimator is running and says nothing until it ends.
    assert label("features", 1.0) == "Valuing the contributors"
    assert label("generate c07", 0.1, 7) == "Generating images for contributor 8 of 20"
    assert label("bank bootstrap", 0.4) == "Measuring the bank noise (40% of the resamples)"


def test_an_unknown_stage_is_shown_as_it_is_with_no_made_up_fraction() -> None:
    state = overall_progress("heldout", 0.3, position=None, n_contributors=5)

    assert state.fraction is None
    assert state.label == "heldout"


def test_a_position_past_the_end_is_clamped_to_the_last_contributor() -> None:
    state = overall_progress("generate zz", 0.5, position=9, n_contributors=3)

    assert state.fraction == pytest.approx(GENERATE * 2.5 / 3)


def test_time_left_extrapolates_the_elapsed_time() -> None:
    assert eta_seconds(30.0, 0.25) == pytest.approx(90.0)
    assert eta_seconds(30.0, 0.001) is None  # too early to tell
    assert eta_seconds(30.0, 1.0) is None  # done
    assert eta_seconds(None, 0.5) is None
    assert eta_seconds(30.0, None) is None


def test_durations_in_words() -> None:
    assert describe_duration(None) == ""
    assert describe_duration(42.4) == "42 s"
    assert describe_duration(150) == "2 min"
    assert describe_duration(3900) == "1 h 05 min"


def test_growth_stages_are_told_in_words_with_no_fraction_that_would_go_back() -> None:
    generating = overall_progress("grow generate c03", 0.5, position=2, n_contributors=20)
    valuing = overall_progress("grow metrics", 1.0, position=None, n_contributors=20)

    assert generating.fraction is None
    assert valuing.fraction is None
    assert generating.label == (
        "Growing the banks to meet the payout tolerance: Generating images for contributor 3 of 20"
    )
    assert valuing.label.endswith("Valuing the contributors")
