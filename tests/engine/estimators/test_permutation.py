"""PermutationShapley: convergence, determinism, efficiency, standard errors, budget."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from attribution.engine import (
    BudgetTooSmallError,
    ExactShapley,
    FunctionGame,
    PermutationShapley,
    UnanimityGame,
)
from attribution.engine.estimators.permutation import DEFAULT_MIN_SAMPLES
from attribution.engine.games.proxy import PREFIX_ELEMENTS, ProxyGame
from attribution.engine.metrics import BankStatistics, InceptionScore
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


def _proxy_game(n: int, seed: int = 0) -> ProxyGame:
    """A proxy game on random class-probability banks (the Inception score: a pooled metric)."""
    rng = np.random.default_rng(seed)
    statistics = BankStatistics(
        n_samples=np.full(n, 8),
        probability_mean=rng.dirichlet(np.full(10, 0.5), size=n),
        negative_entropy_mean=-rng.uniform(0.1, 1.5, size=n),
    )
    return ProxyGame(statistics, rng.integers(1, 100, size=n), InceptionScore(), "floor")


@pytest.mark.parametrize("antithetic", [True, False])
def test_the_incremental_prefix_path_equals_the_mask_path(antithetic: bool) -> None:
    game = _proxy_game(9)
    hidden = FunctionGame(game.n_players, game)  # the same game without prefix_utilities
    incremental = PermutationShapley(budget=800, seed=4, antithetic=antithetic).fit(game)
    masked = PermutationShapley(budget=800, seed=4, antithetic=antithetic).fit(hidden)
    assert incremental.incremental_
    assert not masked.incremental_
    np.testing.assert_allclose(incremental.values_, masked.values_, rtol=1e-10, atol=1e-13)
    assert incremental.stderr_ is not None
    assert masked.stderr_ is not None
    np.testing.assert_allclose(incremental.stderr_, masked.stderr_, rtol=1e-8, atol=1e-13)
    assert incremental.n_permutations_ == masked.n_permutations_
    # The memo folds repeated prefixes; the incremental path counts every prefix it valued.
    assert masked.n_evaluations_ <= incremental.n_evaluations_ <= 800


def test_the_incremental_path_converges_to_the_exact_values() -> None:
    game = _proxy_game(10, seed=1)
    truth = ExactShapley().fit(game).values_
    estimate = PermutationShapley(budget=200_000, seed=0).fit(game)
    assert estimate.incremental_
    assert abs(estimate.efficiency_gap_) < 1e-9
    assert estimate.stderr_ is not None
    assert (np.abs(estimate.values_ - truth) <= 5 * estimate.stderr_ + 1e-12).all()
    assert relative_error(estimate.values_, truth) < 0.01


def test_the_default_budget_accepts_any_number_of_players() -> None:
    estimate = PermutationShapley(seed=0).fit(_proxy_game(600))
    assert estimate.n_permutations_ == 2 * DEFAULT_MIN_SAMPLES
    assert estimate.stderr_ is not None
    assert np.isfinite(estimate.stderr_).all()


def test_permutation_memory_at_5000_players_is_bounded_by_construction() -> None:
    """No (perms, n + 1, n) mask: the mask path would hold 16 × 5,001 × 5,000 bytes (400 MB) per
    block; the incremental one holds blocks of at most PREFIX_ELEMENTS running sums."""
    n = 5000
    game = _proxy_game(n, seed=2)
    calls: list[tuple[int, ...]] = []
    original = game.prefix_utilities

    def recorded(orders: np.ndarray) -> np.ndarray:
        calls.append(orders.shape)
        return original(orders)

    game.prefix_utilities = recorded  # type: ignore[method-assign]
    tracemalloc.start()
    estimate = PermutationShapley(budget=2 + 16 * (n - 1), seed=0, batch_size=8).fit(game)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert estimate.n_permutations_ == 16
    assert calls == [(8, n), (8, n)]
    # A block is 8 orders × 5,000 prefixes × 11 pooled numbers (10 classes + the entropy term) in
    # float64, 3.5 MB; the path holds at most four such arrays at once (14 MB), where the mask
    # path's 8 × 5,001 × 5,000 booleans alone would be 200 MB.
    assert 8 * n * 11 <= PREFIX_ELEMENTS  # so the 8 orders are one block
    block = 8 * n * 11 * 8
    assert peak < 4 * block < 8 * (n + 1) * n
