"""CrossFitSurrogateShapley: efficiency, exact small games, error that falls with budget."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine import (
    AirportGame,
    BudgetTooSmallError,
    EngineInputError,
    ExactShapley,
    SurrogateShapley,
    make_paper_games,
)
from attribution.engine.estimators import CrossFitSurrogateShapley
from tests.engine.estimators.conftest import KNOWN_GAMES, relative_error

FAST = {"depth": 3, "iterations": 100, "n_bootstrap": 20}


def test_values_satisfy_efficiency_exactly() -> None:
    game = make_paper_games(12, 1, seed=4)["interaction"]
    fitted = CrossFitSurrogateShapley(budget=400, seed=1, **FAST).fit(game)
    total = fitted.grand_value_ - fitted.baseline_
    assert fitted.values_.sum() == pytest.approx(total, abs=1e-9 * max(1.0, abs(total)))
    assert fitted.efficiency_gap_ == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(fitted.values_, fitted.tree_values_ + fitted.residual_values_)


def test_spends_exactly_the_budget_in_distinct_evaluations() -> None:
    game = make_paper_games(14, 0, seed=0)["nonlinear"]
    fitted = CrossFitSurrogateShapley(budget=300, seed=0, **FAST).fit(game)
    assert fitted.n_evaluations_ == 300
    assert len(fitted.masks_) == 298  # distinct sampled coalitions besides ∅ and N
    assert fitted.n_draws_ >= 298


@pytest.mark.parametrize("name", sorted(KNOWN_GAMES))
def test_small_games_are_enumerated_and_exact(name: str) -> None:
    game = KNOWN_GAMES[name]
    fitted = CrossFitSurrogateShapley(budget=2**game.n_players, seed=0).fit(game)
    assert fitted.exhaustive_
    np.testing.assert_allclose(fitted.values_, game.shapley_values(), atol=1e-9)


def test_error_falls_with_budget_where_the_uniform_patch_does_not_have_to() -> None:
    # 14 players with pairwise interactions; three seeds per budget, mean relative L2 error.
    game = make_paper_games(13, 1, seed=2)["interaction"]
    truth = ExactShapley().fit(game).values_

    def error(budget: int) -> float:
        return float(
            np.mean(
                [
                    relative_error(
                        CrossFitSurrogateShapley(budget=budget, seed=s, **FAST).fit(game).values_,
                        truth,
                    )
                    for s in range(3)
                ]
            )
        )

    small, large = error(256), error(2048)
    assert large < 0.6 * small
    assert large < 0.1


def test_beats_the_uniform_surrogate_on_the_airport_game() -> None:
    costs = np.sort(np.random.default_rng(0).uniform(0.0, 1.0, 30))
    game = AirportGame(costs)
    truth = game.shapley_values()
    crossfit = CrossFitSurrogateShapley(budget=2000, seed=0, **FAST).fit(game)
    uniform = SurrogateShapley(budget=2000, seed=0, depth=3, cv_folds=0).fit(game)
    assert relative_error(crossfit.values_, truth) < relative_error(uniform.values_, truth)


def test_standard_errors_are_positive_and_of_the_error_scale() -> None:
    game = make_paper_games(12, 1, seed=5)["interaction"]
    truth = ExactShapley().fit(game).values_
    fitted = CrossFitSurrogateShapley(budget=600, seed=3, **FAST).fit(game)
    assert fitted.stderr_ is not None
    assert (fitted.stderr_ > 0).all()
    scaled = np.abs(fitted.values_ - truth) / fitted.stderr_
    assert np.median(scaled) < 3.0  # errors are of the order of the reported standard errors


def test_auto_depth_picks_a_candidate_and_reports_out_of_fold_fit() -> None:
    game = make_paper_games(10, 1, seed=1)["interaction"]
    fitted = CrossFitSurrogateShapley(
        budget=300, seed=0, depth="auto", depth_candidates=(1, 3), iterations=100, n_bootstrap=0
    ).fit(game)
    assert fitted.depth_ in (1, 3)
    assert fitted.oof_r2_ is not None
    assert fitted.oof_r2_ <= 1.0
    assert fitted.stderr_ is None


@pytest.mark.parametrize("selection", ["cross_fit", "holdout"])
def test_depth_search_costs_candidates_times_folds_or_candidates_plus_folds(
    selection: str,
) -> None:
    game = make_paper_games(10, 1, seed=1)["interaction"]
    fitted = CrossFitSurrogateShapley(
        budget=300,
        seed=0,
        depth_candidates=(1, 3, 4),
        selection=selection,  # type: ignore[arg-type]
        iterations=60,
        n_bootstrap=0,
    ).fit(game)
    assert fitted.selection_ == selection
    assert fitted.n_model_fits_ == (3 * 5 if selection == "cross_fit" else 3 + 5)
    assert sorted(fitted.depth_errors_) == [1, 3, 4]
    # The interaction game has pairwise terms: a stump cannot hold them out of sample.
    assert fitted.depth_ > 1
    assert fitted.depth_errors_[fitted.depth_] < fitted.depth_errors_[1]
    assert fitted.values_.sum() == pytest.approx(fitted.grand_value_ - fitted.baseline_)


def test_auto_selection_holds_out_one_fold_on_large_tables() -> None:
    small = CrossFitSurrogateShapley(budget=64, seed=0, iterations=20, n_bootstrap=0)
    assert small.fit(make_paper_games(10, 1, seed=1)["linear"]).selection_ == "cross_fit"
    # 600 players × ~510 coalitions is past SELECTION_CELLS: 3 short fits and 5 fold fits.
    large = CrossFitSurrogateShapley(budget=512, seed=0, iterations=20, n_bootstrap=0)
    fitted = large.fit(make_paper_games(599, 1, seed=1)["linear"])
    assert fitted.selection_ == "holdout"
    assert fitted.n_model_fits_ == 3 + 5


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"budget": 8}, BudgetTooSmallError),
        ({"n_folds": 1}, EngineInputError),
        ({"n_bootstrap": 1}, EngineInputError),
        ({"depth": 0}, EngineInputError),
        ({"weighting": "other"}, EngineInputError),
        ({"selection": "other"}, EngineInputError),
    ],
)
def test_bad_parameters_raise_clear_errors(options: dict, error: type[Exception]) -> None:
    game = make_paper_games(12, 0, seed=0)["linear"]
    with pytest.raises(error):
        CrossFitSurrogateShapley(**{"seed": 0, **options}).fit(game)


def test_size_stratified_weights_beat_raw_draw_counts_on_the_airport_game() -> None:
    costs = np.sort(np.random.default_rng(0).uniform(0.0, 1.0, 40))
    game = AirportGame(costs)
    truth = game.shapley_values()

    def error(weighting: str) -> float:
        fits = [
            CrossFitSurrogateShapley(budget=1500, seed=s, weighting=weighting, **FAST).fit(game)
            for s in range(3)
        ]
        return float(np.mean([relative_error(f.values_, truth) for f in fits]))

    assert error("stratified") < error("draws")
