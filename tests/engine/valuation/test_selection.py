"""value_to_tolerance: exact when affordable, sampling to the money target otherwise."""

from __future__ import annotations

import time

import numpy as np
import pytest

from attribution.engine import (
    AirportGame,
    EngineInputError,
    ExactShapley,
    FunctionGame,
    PermutationShapley,
    SurrogateShapley,
    make_paper_games,
)
from attribution.engine.games.proxy import ProxyGame
from attribution.engine.metrics import BankStatistics, InceptionScore
from attribution.engine.valuation import (
    PayoutTolerance,
    ToleranceShapley,
    efficiency_patch,
    value_to_tolerance,
)
from attribution.engine.valuation.selection import MIN_PERMUTATION_SAMPLES


def test_a_cheap_small_game_is_valued_exactly() -> None:
    game = AirportGame([1.0, 1.0, 2.0, 3.5, 3.5, 6.0, 8.0])
    result = value_to_tolerance(game, time_budget_s=10.0)
    assert result.estimator == "exact"
    assert "exact" in result.reason
    assert "2^7" in result.reason
    np.testing.assert_allclose(result.values, game.shapley_values(), atol=1e-12)
    assert result.achieved_points == 0.0
    assert result.met
    assert result.shares is not None
    assert result.shares.sum() == pytest.approx(1.0)


def test_too_many_players_for_exact_samples_to_the_tolerance() -> None:
    costs = np.sort(np.random.default_rng(1).uniform(1.0, 2.0, 30))
    game = AirportGame(costs)
    tolerance = PayoutTolerance(percentage_points=0.5)
    result = value_to_tolerance(game, tolerance, time_budget_s=30.0, seed=3)
    assert result.estimator == "permutation"
    assert "30 > 22 players" in result.reason
    assert result.met
    assert result.achieved_points <= 0.5
    total = result.grand_value - result.baseline
    truth_shares = game.shapley_values() / total
    assert result.shares is not None
    # The tolerance is a 95% statement for each share; the worst of 30 may exceed it a little.
    assert 100 * np.abs(result.shares - truth_shares).max() < 2 * 0.5


def test_an_expensive_game_gets_the_cross_fitted_surrogate() -> None:
    game = make_paper_games(12, 1, seed=0)["interaction"]
    truth = ExactShapley().fit(game).values_
    result = value_to_tolerance(
        game, time_budget_s=1.0, max_exact_players=5, surrogate_above_s=0.0, initial_budget=256
    )
    assert result.estimator == "crossfit_surrogate"
    assert "cross-fitted surrogate at budget" in result.reason
    total = result.grand_value - result.baseline
    assert result.values.sum() == pytest.approx(total)
    assert np.abs(result.values - truth).max() < 0.2 * np.abs(truth).max()
    assert result.n_evaluations >= 256


def test_a_game_with_nothing_to_share_has_no_shares() -> None:
    game = FunctionGame(6, lambda masks: np.full(len(masks), 2.0))
    result = value_to_tolerance(game, time_budget_s=5.0)
    np.testing.assert_array_equal(result.values, np.zeros(6))
    assert result.shares is None
    assert result.share_stderr is None
    assert not result.met
    assert result.achieved_points == float("inf")
    assert "no pool to share" in result.reason


def test_time_budget_must_be_positive() -> None:
    with pytest.raises(EngineInputError):
        value_to_tolerance(AirportGame([1.0, 2.0]), time_budget_s=0.0)


def test_efficiency_patch_reports_the_uniform_correction_only() -> None:
    game = make_paper_games(10, 1, seed=2)["interaction"]
    uniform = SurrogateShapley(budget=64, seed=0, depth=3, cv_folds=0).fit(game)
    total = uniform.grand_value_ - uniform.baseline_
    assert efficiency_patch(uniform) == pytest.approx(abs(uniform.raw_efficiency_gap_) / abs(total))
    corrected = SurrogateShapley(budget=64, seed=0, depth=3, cv_folds=0, bias_correction=True)
    assert efficiency_patch(corrected.fit(game)) == 0.0
    assert efficiency_patch(ExactShapley().fit(game)) == 0.0


def test_tolerance_estimator_follows_the_estimator_contract() -> None:
    game = AirportGame([1.0, 2.0, 2.0, 5.0])
    estimator = ToleranceShapley(percentage_points=0.5, time_budget_s=5.0)
    assert not hasattr(estimator, "values_")
    fitted = estimator.fit(game)
    assert fitted is estimator
    np.testing.assert_allclose(fitted.values_, game.shapley_values(), atol=1e-12)
    assert fitted.valuation_.estimator == "exact"
    assert fitted.efficiency_gap_ == pytest.approx(0.0)
    assert fitted.confidence_interval().shape == (4, 2)


@pytest.mark.parametrize("surrogate_above_s", [0.0, 1.0])
def test_sampling_stops_at_once_on_a_game_with_all_equal_utilities(
    surrogate_above_s: float,
) -> None:
    game = FunctionGame(30, lambda masks: np.full(len(masks), 1.5))
    result = value_to_tolerance(
        game, time_budget_s=30.0, max_exact_players=5, surrogate_above_s=surrogate_above_s
    )
    np.testing.assert_array_equal(result.values, np.zeros(30))
    assert result.shares is None
    assert result.seconds < 10.0


def test_a_large_proxy_game_samples_incremental_prefixes_and_states_its_precision() -> None:
    # 1,500 players: past the 1,024 at which 2.0**n overflows, and a pooled metric, so the
    # permutations run on the game's incremental prefixes (no memo, no mask matrix).
    n = 1500
    rng = np.random.default_rng(0)
    statistics = BankStatistics(
        n_samples=np.full(n, 4),
        probability_mean=rng.dirichlet(np.full(10, 0.5), size=n),
        negative_entropy_mean=-rng.uniform(0.1, 1.5, size=n),
    )
    game = ProxyGame(statistics, rng.integers(1, 100, size=n), InceptionScore(), "floor")
    result = value_to_tolerance(game, time_budget_s=30.0, seed=1)
    assert result.estimator == "permutation"
    assert "incremental prefixes" in result.reason
    assert "1500 > 22 players" in result.reason
    assert isinstance(result.fitted, PermutationShapley)
    assert result.fitted.incremental_
    assert result.fitted.n_permutations_ >= 2 * MIN_PERMUTATION_SAMPLES
    assert np.isfinite(result.achieved_points)
    assert result.met == (result.achieved_points <= 0.25)
    assert result.values.sum() == pytest.approx(result.grand_value - result.baseline)


class _SlowMasksFastPrefixes:
    """A proxy game whose coalition calls are slow (a weight row of n, here a sleep) but whose
    incremental prefixes are cheap: the case of a pooled metric at large n."""

    def __init__(self, game: ProxyGame) -> None:
        self.game = game
        self.n_players = game.n_players
        self.incremental_prefixes = True
        self.mask_calls = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        self.mask_calls += 1
        time.sleep(0.5)
        return self.game(masks)

    def prefix_utilities(self, orders: np.ndarray) -> np.ndarray:
        return self.game.prefix_utilities(orders)


def test_an_incremental_game_is_sampled_when_its_prefixes_are_cheap_whatever_its_coalitions() -> (
    None
):
    rng = np.random.default_rng(3)
    statistics = BankStatistics(
        n_samples=np.full(30, 4),
        probability_mean=rng.dirichlet(np.full(10, 0.5), size=30),
        negative_entropy_mean=-rng.uniform(0.1, 1.5, size=30),
    )
    game = _SlowMasksFastPrefixes(
        ProxyGame(statistics, rng.integers(1, 100, size=30), InceptionScore(), "floor")
    )
    result = value_to_tolerance(game, time_budget_s=20.0, surrogate_above_s=1e-3)
    assert result.seconds_per_coalition > 1e-3  # the probe: 0.5 s over 256 coalitions
    assert result.estimator == "permutation"
    assert "incremental prefixes" in result.reason
    assert game.mask_calls <= 3  # ∅ and N, the probe, the endpoints again: no coalition sampling


def test_a_round_gives_estimation_half_the_tolerances_variance() -> None:
    game = AirportGame(list(np.linspace(0.1, 1.0, 40)))
    whole = ToleranceShapley(time_budget_s=20.0, max_exact_players=0, seed=3).fit(game)
    half = ToleranceShapley(
        time_budget_s=20.0, max_exact_players=0, seed=3, estimation_variance_share=0.5
    ).fit(game)

    assert half.valuation_.tolerance.percentage_points == pytest.approx(0.25 / np.sqrt(2))
    assert half.valuation_.achieved_points <= 0.25 / np.sqrt(2) + 1e-9
    assert half.valuation_.n_evaluations > whole.valuation_.n_evaluations
    assert "50% of the variance of the round's ±0.25 pp" in half.valuation_.reason
    with pytest.raises(EngineInputError, match="estimation_variance_share"):
        ToleranceShapley(estimation_variance_share=0.0)
