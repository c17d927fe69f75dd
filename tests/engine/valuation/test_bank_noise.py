"""Bank noise: the bootstrap over each contributor's samples, and intervals that include it."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine import EngineInputError, ExactShapley
from attribution.engine.metrics import MeanScore, compute_bank_statistics
from attribution.engine.valuation import BankSamples, bootstrap_bank_noise, proxy_valuer

MEANS = np.array([0.2, 0.5, 0.9, 1.4, 2.0])
SIZES = [10, 20, 30, 40, 50]
METRIC = MeanScore("quality")


def draw_banks(k: int, rng: np.random.Generator) -> BankSamples:
    """K samples per contributor of a unit-variance score around each contributor's mean."""
    return BankSamples(scores={"quality": [rng.normal(m, 1.0, k) for m in MEANS]})


def infinite_bank_values() -> np.ndarray:
    """The values the banks estimate: the proxy game on the true means."""
    statistics = compute_bank_statistics(scores={"quality": [[m] for m in MEANS]})
    return proxy_valuer(SIZES, METRIC, 0.0, ExactShapley)(statistics)[0]


def test_statistics_are_those_of_compute_bank_statistics() -> None:
    rng = np.random.default_rng(0)
    probabilities = [rng.dirichlet(np.ones(3), size=k) for k in (4, 6)]
    features = [rng.normal(size=(k, 2)) for k in (4, 6)]
    samples = BankSamples(probabilities=probabilities, features=features)
    ours = samples.statistics()
    theirs = compute_bank_statistics(probabilities=probabilities, features=features)
    np.testing.assert_allclose(ours.probability_mean, theirs.probability_mean)
    np.testing.assert_allclose(ours.feature_rows, theirs.feature_rows)
    np.testing.assert_array_equal(samples.n_samples, [4, 6])
    rows = [np.array([0, 0, 1]), np.array([5])]
    picked = samples.statistics(rows)
    np.testing.assert_allclose(picked.feature_mean[1], features[1][5])
    np.testing.assert_array_equal(picked.n_samples, [3, 1])


def test_fields_that_disagree_on_the_banks_are_refused() -> None:
    with pytest.raises(EngineInputError, match="disagrees"):
        BankSamples(scores={"a": [np.zeros(3), np.zeros(4)], "b": [np.zeros(3), np.zeros(5)]})
    with pytest.raises(EngineInputError):
        BankSamples()


def test_bank_noise_falls_as_one_over_root_k() -> None:
    valuer = proxy_valuer(SIZES, METRIC, 0.0, ExactShapley)
    rng = np.random.default_rng(1)
    small = bootstrap_bank_noise(draw_banks(100, rng), valuer, n_bootstrap=200, seed=2)
    large = bootstrap_bank_noise(draw_banks(1600, rng), valuer, n_bootstrap=200, seed=3)
    ratio = small.value_sd / large.value_sd
    assert np.all((ratio > 3.0) & (ratio < 5.3))  # √16 = 4, with bootstrap noise of 200 draws


def test_combined_intervals_cover_the_infinite_bank_value_and_a_rerun() -> None:
    valuer = proxy_valuer(SIZES, METRIC, 0.0, ExactShapley)
    truth = infinite_bank_values()
    rng = np.random.default_rng(4)
    covered_value, covered_rerun, previous = [], [], None
    for round_index in range(40):
        samples = draw_banks(50, rng)
        values = valuer(samples.statistics())[0]
        noise = bootstrap_bank_noise(samples, valuer, n_bootstrap=40, seed=round_index)
        value_interval = noise.interval(values, level=0.95)
        covered_value.append((value_interval[:, 0] <= truth) & (truth <= value_interval[:, 1]))
        if previous is not None:
            covered_rerun.append((previous[:, 0] <= values) & (values <= previous[:, 1]))
        previous = noise.interval(values, level=0.95, kind="rerun")
    assert 0.88 <= np.mean(covered_value) <= 1.0
    assert 0.88 <= np.mean(covered_rerun) <= 1.0


def test_estimation_error_widens_the_interval() -> None:
    valuer = proxy_valuer(SIZES, METRIC, 0.0, ExactShapley)
    noise = bootstrap_bank_noise(draw_banks(30, np.random.default_rng(5)), valuer, 10, seed=0)
    center = np.zeros(5)
    bank_only = noise.interval(center)
    estimation = np.full(5, 10.0)
    both = noise.interval(center, estimation)
    assert np.all(both[:, 1] - both[:, 0] > bank_only[:, 1] - bank_only[:, 0])
    np.testing.assert_allclose(
        noise.combined_stderr(estimation), np.sqrt(100.0 + noise.value_sd**2)
    )
    share_sd = noise.share_sd
    assert share_sd.shape == (5,)
    assert np.all(share_sd > 0)
    with pytest.raises(EngineInputError):
        noise.interval(center, kind="other")  # type: ignore[arg-type]
    with pytest.raises(EngineInputError):
        noise.combined_stderr(np.zeros(3))


def test_n_bootstrap_below_two_is_refused() -> None:
    valuer = proxy_valuer(SIZES, METRIC, 0.0, ExactShapley)
    with pytest.raises(EngineInputError):
        bootstrap_bank_noise(draw_banks(5, np.random.default_rng(0)), valuer, n_bootstrap=1)


def test_grown_bank_samples_are_each_contributors_rows_followed_by_the_new_ones() -> None:
    first = BankSamples(
        features=[np.zeros((2, 3)), np.ones((1, 3))], scores={"s": [np.zeros(2), np.ones(1)]}
    )
    more = BankSamples(
        features=[np.full((1, 3), 5.0), np.full((2, 3), 7.0)],
        scores={"s": [np.full(1, 5.0), np.full(2, 7.0)]},
    )

    grown = first.followed_by(more)

    assert grown.n_samples.tolist() == [3, 3]
    np.testing.assert_array_equal(np.asarray(grown.scores["s"][0]), [0.0, 0.0, 5.0])
    np.testing.assert_array_equal(np.asarray(grown.features[1])[:, 0], [1.0, 7.0, 7.0])
    assert grown.probabilities is None
    with pytest.raises(EngineInputError, match="same fields"):
        first.followed_by(BankSamples(features=[np.zeros((1, 3)), np.zeros((1, 3))]))


def test_a_targeted_growth_extends_only_the_banks_at_the_given_positions() -> None:
    first = BankSamples(scores={"s": [np.zeros(2), np.ones(1), np.full(2, 2.0)]})
    more = BankSamples(scores={"s": [np.full(3, 9.0)]})

    grown = first.followed_by(more, positions=[1])

    assert grown.n_samples.tolist() == [2, 4, 2]
    np.testing.assert_array_equal(np.asarray(grown.scores["s"][1]), [1.0, 9.0, 9.0, 9.0])
    np.testing.assert_array_equal(np.asarray(grown.scores["s"][2]), [2.0, 2.0])
    for positions in ([3], [1, 1]):
        with pytest.raises(EngineInputError, match="positions"):
            first.followed_by(more, positions=positions)
    with pytest.raises(EngineInputError, match="cover 1 contributors, not 2"):
        first.followed_by(more, positions=[0, 2])
