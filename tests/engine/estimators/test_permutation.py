"""PermutationShapley: convergence, determinism, efficiency, standard errors, budget."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine import BudgetTooSmallError, PermutationShapley, UnanimityGame
from tests.engine.estimators.conftest import relative_error


def test_converges_to_the_exact_values(unanimity_game: UnanimityGame) -> None:
    truth = unanimity_game.shapley_values()
    errors = [
        np.mean(
            [
                relative_error(
                    PermutationShapley(budget=budget, seed=seed).fit(unanimity_game).values_, truth
                )
                for seed in range(5)
            ]
        )
        for budget in (100, 1000, 10000)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.03  # ~1/sqrt(budget) rate: 10,000 evaluations, 8 players


def test_same_seed_same_values_other_seed_other_values(unanimity_game: UnanimityGame) -> None:
    first = PermutationShapley(budget=300, seed=7).fit(unanimity_game).values_
    again = PermutationShapley(budget=300, seed=7).fit(unanimity_game).values_
    other = PermutationShapley(budget=300, seed=8).fit(unanimity_game).values_
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("antithetic", [True, False])
def test_efficiency_is_exact_and_budget_is_respected(
    unanimity_game: UnanimityGame, antithetic: bool
) -> None:
    estimate = PermutationShapley(budget=200, seed=1, antithetic=antithetic).fit(unanimity_game)
    assert abs(estimate.efficiency_gap_) < 1e-12
    assert 0 < estimate.n_evaluations_ <= 200
    assert estimate.n_permutations_ == (200 - 2) // 7 // (2 if antithetic else 1) * (
        2 if antithetic else 1
    )


def test_null_player_gets_exactly_zero(unanimity_game: UnanimityGame) -> None:
    assert PermutationShapley(budget=200, seed=2).fit(unanimity_game).values_[7] == 0.0


def test_confidence_intervals_cover_the_truth_at_about_the_nominal_rate(
    unanimity_game: UnanimityGame,
) -> None:
    # Antithetic pairs make pairwise unanimity terms exact (zero-width intervals), so intervals are
    # compared with a rounding slack of 1e-9; player 7 is null and always exact.
    truth = unanimity_game.shapley_values()
    hits = []
    for seed in range(200):
        estimate = PermutationShapley(budget=300, seed=seed).fit(unanimity_game)
        low, high = estimate.confidence_interval(0.9).T
        hits.append((low - 1e-9 <= truth) & (truth <= high + 1e-9))
    coverage = np.mean(hits, axis=0)[:7]
    assert 0.82 <= coverage.mean() <= 0.97  # nominal 0.90 over 1,400 intervals
    assert coverage.min() >= 0.75


def test_stopping_rule_stops_early_once_errors_are_small(unanimity_game: UnanimityGame) -> None:
    estimate = PermutationShapley(budget=100_000, seed=3, max_stderr=0.05).fit(unanimity_game)
    assert estimate.stderr_ is not None
    assert estimate.stderr_.max() <= 0.05
    assert estimate.n_permutations_ < (100_000 - 2) // 7


def test_too_small_a_budget_is_refused(unanimity_game: UnanimityGame) -> None:
    with pytest.raises(BudgetTooSmallError, match="at least 30"):
        PermutationShapley(budget=29).fit(unanimity_game)


def test_progress_is_reported(unanimity_game: UnanimityGame) -> None:
    calls: list[tuple[str, int, int]] = []
    PermutationShapley(budget=500, seed=0, batch_size=8, progress=lambda *a: calls.append(a)).fit(
        unanimity_game
    )
    assert calls[-1][1] == calls[-1][2]
    assert len(calls) > 1
