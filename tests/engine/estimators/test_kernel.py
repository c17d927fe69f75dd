"""KernelShapley: convergence, exact efficiency, bootstrap errors, budget."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine import BudgetTooSmallError, KernelShapley, UnanimityGame
from attribution.engine.estimators.regression import solve_efficient_regression
from tests.engine.estimators.conftest import relative_error


def test_converges_to_the_exact_values(unanimity_game: UnanimityGame) -> None:
    truth = unanimity_game.shapley_values()
    errors = [
        np.mean(
            [
                relative_error(
                    KernelShapley(budget=budget, seed=seed, n_bootstrap=0)
                    .fit(unanimity_game)
                    .values_,
                    truth,
                )
                for seed in range(5)
            ]
        )
        for budget in (30, 300, 3000)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.03


def test_efficiency_is_exact(unanimity_game: UnanimityGame) -> None:
    estimate = KernelShapley(budget=12, seed=0, n_bootstrap=0).fit(unanimity_game)
    assert abs(estimate.efficiency_gap_) < 1e-12
    assert estimate.n_evaluations_ <= 12


def test_same_seed_same_values(unanimity_game: UnanimityGame) -> None:
    first = KernelShapley(budget=100, seed=4).fit(unanimity_game)
    again = KernelShapley(budget=100, seed=4).fit(unanimity_game)
    np.testing.assert_array_equal(first.values_, again.values_)
    np.testing.assert_array_equal(first.stderr_, again.stderr_)


def test_bootstrap_intervals_cover_the_truth_at_about_the_nominal_rate(
    unanimity_game: UnanimityGame,
) -> None:
    truth = unanimity_game.shapley_values()
    hits = []
    for seed in range(60):
        estimate = KernelShapley(budget=300, seed=seed, n_bootstrap=50).fit(unanimity_game)
        low, high = estimate.confidence_interval(0.9).T
        hits.append((low <= truth) & (truth <= high))
    coverage = float(np.mean(np.array(hits)[:, :7]))
    assert 0.82 <= coverage <= 0.97  # nominal 0.90 over 420 intervals (measured 0.89)


def test_too_small_a_budget_is_refused(unanimity_game: UnanimityGame) -> None:
    with pytest.raises(BudgetTooSmallError, match="at least 10"):
        KernelShapley(budget=9).fit(unanimity_game)


def test_constrained_regression_recovers_an_additive_game_exactly() -> None:
    rng = np.random.default_rng(0)
    masks = rng.random((40, 6)) < 0.5
    weights = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.5])
    beta = solve_efficient_regression(masks, masks @ weights, float(weights.sum()))
    np.testing.assert_allclose(beta, weights, atol=1e-10)


def test_constrained_regression_with_too_few_rows_still_meets_the_constraint() -> None:
    masks = np.array([[True, False, False, False], [True, True, False, False]])
    beta = solve_efficient_regression(masks, np.array([1.0, 3.0]), 10.0)
    assert beta.sum() == pytest.approx(10.0, abs=1e-12)
    assert np.isfinite(beta).all()
