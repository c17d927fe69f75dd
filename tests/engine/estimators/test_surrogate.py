"""SurrogateShapley: exact tree-game values, exact efficiency, diagnostics and corrections."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine import (
    AdditiveGame,
    BudgetTooSmallError,
    EngineInputError,
    FunctionGame,
    Game,
    SurrogateShapley,
    UnanimityGame,
    shapley_from_table,
)
from attribution.engine.coalitions import enumerate_masks
from tests.engine.estimators.conftest import relative_error

Truth = tuple[Game, NDArray[np.float64]]


@pytest.mark.parametrize(("depth", "seed"), [(2, 0), (4, 1), (6, 2)])
def test_tree_values_equal_brute_force_shapley_of_the_tree_game(
    interaction_game: Truth, depth: int, seed: int
) -> None:
    game, _ = interaction_game
    estimate = SurrogateShapley(budget=200, seed=seed, depth=depth, cv_folds=0).fit(game)
    n = game.n_players
    tree_game = estimate.model_.predict(enumerate_masks(n).astype(np.float64))
    np.testing.assert_allclose(estimate.raw_values_, shapley_from_table(tree_game, n), atol=1e-6)


@pytest.mark.parametrize(
    "options", [{}, {"bias_correction": True}, {"n_bootstrap": 3}, {"strategy": "uniform"}]
)
def test_returned_values_satisfy_efficiency(interaction_game: Truth, options: dict) -> None:
    game, _ = interaction_game
    estimate = SurrogateShapley(budget=64, seed=0, cv_folds=0, **options).fit(game)
    total = estimate.grand_value_ - estimate.baseline_
    assert abs(estimate.values_.sum() - total) <= 1e-9 * abs(total)
    if estimate.bootstrap_values_ is not None:
        np.testing.assert_allclose(estimate.bootstrap_values_.sum(axis=1), total, rtol=1e-9)


def test_raw_gap_is_reported_and_efficiency_none_keeps_raw_values(interaction_game: Truth) -> None:
    game, _ = interaction_game
    estimate = SurrogateShapley(budget=32, seed=1, cv_folds=0, efficiency="none").fit(game)
    total = estimate.grand_value_ - estimate.baseline_
    np.testing.assert_array_equal(estimate.values_, estimate.raw_values_)
    assert estimate.raw_efficiency_gap_ == pytest.approx(estimate.raw_values_.sum() - total)
    assert estimate.raw_efficiency_gap_ != 0.0  # a 32-row CatBoost fit does not interpolate


def test_uniform_correction_spreads_the_gap_evenly(interaction_game: Truth) -> None:
    game, _ = interaction_game
    estimate = SurrogateShapley(budget=32, seed=1, cv_folds=0).fit(game)
    shift = estimate.values_ - estimate.raw_values_
    np.testing.assert_allclose(shift, -estimate.raw_efficiency_gap_ / game.n_players, atol=1e-12)


def test_converges_as_the_budget_grows(interaction_game: Truth) -> None:
    game, truth = interaction_game
    errors = [
        np.mean(
            [
                relative_error(
                    SurrogateShapley(budget=budget, seed=seed, cv_folds=0).fit(game).values_,
                    truth,
                )
                for seed in range(3)
            ]
        )
        for budget in (32, 128, 1024)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.03


def test_additive_game_is_recovered_closely() -> None:
    game = AdditiveGame([1.0, -2.0, 0.5, 0.0, 3.0, 1.5, -0.7, 2.2], constant=0.3)
    estimate = SurrogateShapley(budget=128, seed=0).fit(game)
    np.testing.assert_allclose(estimate.values_, game.shapley_values(), atol=0.05)
    assert estimate.cv_r2_ is not None
    assert estimate.cv_r2_ > 0.95


def test_cross_validated_r2_is_low_for_pure_noise() -> None:
    table = np.random.default_rng(0).normal(size=2**8)
    bits = 1 << np.arange(8)
    game = FunctionGame(8, lambda masks: table[masks.astype(np.int64) @ bits])
    estimate = SurrogateShapley(budget=128, seed=0).fit(game)
    assert estimate.cv_r2_ is not None
    assert estimate.cv_r2_ < 0.3
    held_out = np.isfinite(estimate.cv_predictions_)
    assert held_out.sum() == len(estimate.masks_) - 2  # every row but ∅ and N


def test_same_seed_same_values(interaction_game: Truth) -> None:
    game, _ = interaction_game
    first = SurrogateShapley(budget=64, seed=5, n_bootstrap=2).fit(game)
    again = SurrogateShapley(budget=64, seed=5, n_bootstrap=2).fit(game)
    np.testing.assert_array_equal(first.values_, again.values_)
    np.testing.assert_array_equal(first.stderr_, again.stderr_)
    assert first.cv_r2_ == again.cv_r2_


def test_budget_counts_distinct_evaluations(unanimity_game: UnanimityGame) -> None:
    estimate = SurrogateShapley(budget=100, seed=0, cv_folds=0).fit(unanimity_game)
    assert estimate.n_evaluations_ == 100


def test_small_games_use_every_coalition_once() -> None:
    game = UnanimityGame(3, coalitions=[(0, 1), (2,)], weights=[1.0, 1.0])
    estimate = SurrogateShapley(budget=500, seed=0, cv_folds=0).fit(game)
    assert estimate.n_evaluations_ == 8


@pytest.mark.slow
def test_bias_correction_is_no_worse_on_average(interaction_game: Truth) -> None:
    game, truth = interaction_game
    plain, corrected = [], []
    for seed in range(8):
        plain.append(
            relative_error(
                SurrogateShapley(budget=96, seed=seed, cv_folds=0).fit(game).values_, truth
            )
        )
        corrected.append(
            relative_error(
                SurrogateShapley(budget=96, seed=seed, cv_folds=0, bias_correction=True)
                .fit(game)
                .values_,
                truth,
            )
        )
    assert np.mean(corrected) <= np.mean(plain) * 1.05


@pytest.mark.slow
def test_bootstrap_intervals_roughly_cover_the_truth(interaction_game: Truth) -> None:
    game, truth = interaction_game
    hits = []
    for seed in range(10):
        estimate = SurrogateShapley(budget=128, seed=seed, depth=3, cv_folds=0, n_bootstrap=20).fit(
            game
        )
        low, high = estimate.confidence_interval(0.95).T
        hits.append((low <= truth) & (truth <= high))
    # The bootstrap captures the surrogate's variance, not its bias: measured 0.90 for nominal 0.95.
    assert 0.8 <= float(np.mean(hits)) <= 1.0


class TestFitTable:
    def test_values_a_table_evaluated_elsewhere(self) -> None:
        game = UnanimityGame(5, coalitions=[(0, 1), (2,), (3, 4)], weights=[2.0, 1.0, -1.0])
        masks = enumerate_masks(5)
        estimate = SurrogateShapley(seed=0).fit_table(masks.astype(int), game(masks))
        np.testing.assert_allclose(estimate.values_, game.shapley_values(), atol=0.05)
        assert estimate.n_evaluations_ == 32

    def test_repeated_noisy_rows_are_allowed(self) -> None:
        masks = np.repeat(enumerate_masks(4), 3, axis=0)
        noise = np.random.default_rng(0).normal(scale=0.01, size=len(masks))
        utilities = masks @ np.array([1.0, 2.0, 3.0, 4.0]) + noise
        estimate = SurrogateShapley(seed=0).fit_table(masks, utilities)
        assert estimate.n_evaluations_ == 16
        np.testing.assert_allclose(estimate.values_, [1.0, 2.0, 3.0, 4.0], atol=0.1)

    def test_a_table_without_the_empty_or_grand_coalition_is_refused(self) -> None:
        masks = enumerate_masks(4)[1:]
        with pytest.raises(EngineInputError, match="empty coalition"):
            SurrogateShapley().fit_table(masks, np.zeros(len(masks)))

    def test_nan_utilities_are_refused(self) -> None:
        masks = enumerate_masks(4)
        utilities = np.zeros(16)
        utilities[5] = np.nan
        with pytest.raises(EngineInputError, match="row 5"):
            SurrogateShapley().fit_table(masks, utilities)

    def test_float_masks_are_refused(self) -> None:
        with pytest.raises(EngineInputError, match="boolean"):
            SurrogateShapley().fit_table(np.ones((8, 3)) * 0.5, np.zeros(8))

    def test_mismatched_lengths_are_refused(self) -> None:
        with pytest.raises(EngineInputError, match="expected 16 utilities"):
            SurrogateShapley().fit_table(enumerate_masks(4), np.zeros(15))

    def test_too_few_coalitions_are_refused(self) -> None:
        masks = enumerate_masks(4)[[0, 15, 1, 2]]
        with pytest.raises(EngineInputError, match="at least 4 distinct"):
            SurrogateShapley().fit_table(masks, np.arange(4.0))


def test_too_small_a_budget_is_refused(unanimity_game: UnanimityGame) -> None:
    with pytest.raises(BudgetTooSmallError, match="at least 6"):
        SurrogateShapley(budget=5).fit(unanimity_game)


def test_a_single_bootstrap_is_refused(unanimity_game: UnanimityGame) -> None:
    with pytest.raises(EngineInputError, match="n_bootstrap"):
        SurrogateShapley(budget=32, n_bootstrap=1).fit(unanimity_game)


@pytest.mark.parametrize("selection", ["cross_validation", "holdout"])
def test_depth_search_fit_counts(selection: str, interaction_game: Truth) -> None:
    game, truth = interaction_game
    estimate = SurrogateShapley(
        budget=400,
        seed=0,
        depth_candidates=(1, 3, 4),
        selection=selection,  # type: ignore[arg-type]
        iterations=100,
    ).fit(game)
    assert estimate.selection_ == selection
    # Cross-validation: 3 depths × 5 folds and the final fit; holdout: 3 short fits, the
    # chosen depth refitted on the same split (for cv_r2_) and the final fit.
    assert estimate.n_model_fits_ == (3 * 5 + 1 if selection == "cross_validation" else 3 + 2)
    assert sorted(estimate.depth_scores_) == [1, 3, 4]
    assert estimate.depth_ > 1  # pairwise interactions: a stump is worse out of sample
    assert estimate.cv_r2_ is not None
    assert estimate.cv_r2_ > estimate.depth_scores_[1]
    held_out = np.isfinite(estimate.cv_predictions_)
    if selection == "holdout":
        assert 0 < held_out.sum() < len(estimate.masks_) - 2
    assert relative_error(estimate.values_, truth) < 0.2


def test_auto_selection_holds_out_one_fold_on_large_tables() -> None:
    game = AdditiveGame(np.linspace(-1.0, 1.0, 600))
    estimate = SurrogateShapley(budget=512, seed=0, iterations=20).fit(game)
    assert estimate.selection_ == "holdout"
    assert estimate.n_model_fits_ == 3 + 2
    small = SurrogateShapley(budget=64, seed=0, iterations=20).fit(AdditiveGame([1.0, 2.0, 3.0]))
    assert small.selection_ == "cross_validation"


def test_an_unknown_selection_is_refused(unanimity_game: UnanimityGame) -> None:
    with pytest.raises(EngineInputError, match="selection"):
        SurrogateShapley(budget=32, selection="other").fit(unanimity_game)  # type: ignore[arg-type]
