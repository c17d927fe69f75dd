"""Coalition samplers: shapes, seeding, the distributions each strategy promises, and bad input.

Distribution checks draw a large sample under a fixed seed and compare frequencies with the
promised probabilities. Standard errors are at most sqrt(0.25 / n_draws); every tolerance below is
stated next to its test and is several standard errors wide, so with the fixed seed the tests are
deterministic and would still pass for almost any other seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine.coalitions import (
    STRATEGIES,
    Strategy,
    kernel_size_probabilities,
    sample_coalitions,
    size_probabilities,
    support_size,
)
from attribution.engine.errors import EngineInputError

SEED = 20240601
N_DRAWS = 200_000
# Frequencies over N_DRAWS rows: standard error <= sqrt(0.25 / 200_000) ≈ 0.0011.
FREQUENCY_TOLERANCE = 0.01


def _sizes(masks: NDArray[np.bool_]) -> NDArray[np.intp]:
    return np.asarray(masks.sum(axis=1), dtype=np.intp)


def _size_frequencies(masks: NDArray[np.bool_], n_players: int) -> NDArray[np.float64]:
    return np.bincount(_sizes(masks), minlength=n_players + 1) / len(masks)


def _n_distinct(masks: NDArray[np.bool_]) -> int:
    return len(np.unique(masks, axis=0))


# --- shape, dtype, seeding ---------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("paired", [False, True])
def test_samples_have_the_requested_shape_and_bool_dtype(strategy: Strategy, paired: bool) -> None:
    masks = sample_coalitions(7, 25, strategy=strategy, seed=SEED, paired=paired)
    assert masks.shape == (25, 7)
    assert masks.dtype == np.bool_


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_zero_coalitions_gives_an_empty_matrix(strategy: Strategy) -> None:
    for deduplicate in (False, True):
        masks = sample_coalitions(5, 0, strategy=strategy, seed=SEED, deduplicate=deduplicate)
        assert masks.shape == (0, 5)
        assert masks.dtype == np.bool_


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("deduplicate", [False, True])
def test_same_seed_gives_the_same_coalitions(strategy: Strategy, deduplicate: bool) -> None:
    first = sample_coalitions(12, 200, strategy=strategy, seed=SEED, deduplicate=deduplicate)
    again = sample_coalitions(12, 200, strategy=strategy, seed=SEED, deduplicate=deduplicate)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_different_seeds_give_different_coalitions(strategy: Strategy) -> None:
    first = sample_coalitions(12, 200, strategy=strategy, seed=SEED)
    other = sample_coalitions(12, 200, strategy=strategy, seed=SEED + 1)
    assert not np.array_equal(first, other)


def test_a_generator_seed_is_used_and_advanced() -> None:
    rng = np.random.default_rng(SEED)
    first = sample_coalitions(10, 50, seed=rng)
    second = sample_coalitions(10, 50, seed=rng)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, sample_coalitions(10, 50, seed=SEED))


# --- kernel ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_players", [2, 3, 10])
@pytest.mark.parametrize("paired", [False, True])
def test_kernel_never_yields_the_empty_or_grand_coalition(n_players: int, paired: bool) -> None:
    masks = sample_coalitions(n_players, 20_000, strategy="kernel", seed=SEED, paired=paired)
    sizes = _sizes(masks)
    assert sizes.min() >= 1
    assert sizes.max() <= n_players - 1


@pytest.mark.parametrize("n_players", [2, 5, 10])
def test_kernel_size_distribution_matches_kernel_size_probabilities(n_players: int) -> None:
    masks = sample_coalitions(n_players, N_DRAWS, strategy="kernel", seed=SEED)
    observed = _size_frequencies(masks, n_players)
    expected = kernel_size_probabilities(n_players)
    assert np.abs(observed - expected).max() < FREQUENCY_TOLERANCE


def test_kernel_size_probabilities_follow_the_shapley_kernel() -> None:
    n = 6
    probabilities = kernel_size_probabilities(n)
    weights = np.array([(n - 1) / (k * (n - k)) for k in range(1, n)])
    np.testing.assert_allclose(probabilities[1:n], weights / weights.sum(), rtol=0, atol=1e-15)
    assert probabilities[0] == 0.0
    assert probabilities[n] == 0.0


def test_kernel_coalitions_are_uniform_within_a_size() -> None:
    # Rows of size k among 200k kernel draws (n = 10): ~17k rows for k = 3, so each player's
    # inclusion frequency has standard error ≈ 0.0035; tolerance 0.02 is ~6 standard errors.
    n_players = 10
    masks = sample_coalitions(n_players, N_DRAWS, strategy="kernel", seed=SEED)
    for size in (1, 3, 5, 8):
        of_size = masks[_sizes(masks) == size]
        assert len(of_size) > 10_000
        inclusion = of_size.mean(axis=0)
        assert np.abs(inclusion - size / n_players).max() < 0.02


# --- size_uniform, uniform, fixed_size ---------------------------------------------------------


def test_size_uniform_draws_every_size_equally_often_including_empty_and_grand() -> None:
    n_players = 8
    masks = sample_coalitions(n_players, N_DRAWS, strategy="size_uniform", seed=SEED)
    observed = _size_frequencies(masks, n_players)
    assert abs(observed[0] - 1 / (n_players + 1)) < FREQUENCY_TOLERANCE
    assert abs(observed[n_players] - 1 / (n_players + 1)) < FREQUENCY_TOLERANCE
    assert np.abs(observed - 1 / (n_players + 1)).max() < FREQUENCY_TOLERANCE
    # The empty and the grand coalition are each one coalition, not just the right size.
    assert not masks[_sizes(masks) == 0].any()
    assert masks[_sizes(masks) == n_players].all()


def test_size_uniform_is_uniform_within_a_size() -> None:
    # ~25k rows per size; inclusion standard error ≈ 0.003, tolerance 0.02.
    n_players = 8
    masks = sample_coalitions(n_players, N_DRAWS, strategy="size_uniform", seed=SEED)
    for size in (2, 5):
        inclusion = masks[_sizes(masks) == size].mean(axis=0)
        assert np.abs(inclusion - size / n_players).max() < 0.02


def test_uniform_includes_each_player_with_probability_one_half() -> None:
    masks = sample_coalitions(9, N_DRAWS, strategy="uniform", seed=SEED)
    assert np.abs(masks.mean(axis=0) - 0.5).max() < FREQUENCY_TOLERANCE


def test_uniform_sizes_are_binomial() -> None:
    n_players = 9
    masks = sample_coalitions(n_players, N_DRAWS, strategy="uniform", seed=SEED)
    binomial = [math.comb(n_players, k) / 2**n_players for k in range(n_players + 1)]
    assert np.abs(_size_frequencies(masks, n_players) - binomial).max() < FREQUENCY_TOLERANCE


def test_uniform_players_are_independent() -> None:
    # P(i and j both in) = 1/4 for every pair; standard error ≈ 0.001.
    masks = sample_coalitions(6, N_DRAWS, strategy="uniform", seed=SEED).astype(np.float64)
    joint = masks.T @ masks / len(masks)
    off_diagonal = joint[~np.eye(6, dtype=bool)]
    assert np.abs(off_diagonal - 0.25).max() < FREQUENCY_TOLERANCE


@pytest.mark.parametrize(
    ("n_players", "alpha"), [(10, 0.5), (10, 0.3), (7, 0.5), (20, 0.75), (5, 0.99)]
)
def test_fixed_size_gives_exactly_floor_alpha_n_members(n_players: int, alpha: float) -> None:
    masks = sample_coalitions(n_players, 500, strategy="fixed_size", alpha=alpha, seed=SEED)
    assert (_sizes(masks) == math.floor(alpha * n_players)).all()


def test_fixed_size_is_uniform_over_players() -> None:
    # Inclusion frequency 3/10; standard error ≈ 0.001 over 200k rows.
    masks = sample_coalitions(10, N_DRAWS, strategy="fixed_size", alpha=0.3, seed=SEED)
    assert np.abs(masks.mean(axis=0) - 0.3).max() < FREQUENCY_TOLERANCE


# --- size_probabilities and support_size -------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n_players", [2, 3, 10, 40])
def test_size_probabilities_sum_to_one(strategy: Strategy, n_players: int) -> None:
    probabilities = size_probabilities(n_players, strategy, alpha=0.3)
    assert probabilities.shape == (n_players + 1,)
    assert (probabilities >= 0).all()
    assert math.isclose(probabilities.sum(), 1.0, abs_tol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sampled_sizes_match_size_probabilities(strategy: Strategy) -> None:
    n_players = 7
    masks = sample_coalitions(n_players, N_DRAWS, strategy=strategy, alpha=0.4, seed=SEED)
    expected = size_probabilities(n_players, strategy, alpha=0.4)
    observed = _size_frequencies(masks, n_players)
    assert np.abs(observed - expected).max() < FREQUENCY_TOLERANCE


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("kernel", 2**6 - 2), ("size_uniform", 2**6), ("uniform", 2**6), ("fixed_size", 20)],
)
def test_support_size_counts_the_coalitions_a_strategy_can_produce(
    strategy: Strategy, expected: int
) -> None:
    assert support_size(6, strategy, alpha=0.5) == expected


@pytest.mark.parametrize("function", [size_probabilities, support_size])
def test_size_functions_reject_an_unknown_strategy(function: Callable[..., object]) -> None:
    with pytest.raises(EngineInputError, match="unknown strategy 'bogus'"):
        function(5, "bogus")


# --- paired ------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_paired_odd_rows_are_complements_of_even_rows(strategy: Strategy) -> None:
    masks = sample_coalitions(9, 40, strategy=strategy, seed=SEED, paired=True)
    np.testing.assert_array_equal(masks[1::2], ~masks[0::2])


@pytest.mark.parametrize("n_coalitions", [1, 7, 31])
def test_paired_odd_count_ends_on_an_unpaired_coalition(n_coalitions: int) -> None:
    masks = sample_coalitions(6, n_coalitions, seed=SEED, paired=True)
    assert masks.shape == (n_coalitions, 6)
    pairs = n_coalitions // 2
    np.testing.assert_array_equal(masks[1 : 2 * pairs : 2], ~masks[0 : 2 * pairs : 2])


def test_paired_kernel_keeps_the_kernel_size_distribution() -> None:
    # The kernel is symmetric in k ↔ n − k, so complements do not change the size distribution.
    n_players = 9
    masks = sample_coalitions(n_players, N_DRAWS, strategy="kernel", seed=SEED, paired=True)
    observed = _size_frequencies(masks, n_players)
    assert np.abs(observed - kernel_size_probabilities(n_players)).max() < FREQUENCY_TOLERANCE


# --- deduplicate -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("paired", [False, True])
def test_deduplicated_rows_are_distinct(strategy: Strategy, paired: bool) -> None:
    masks = sample_coalitions(8, 60, strategy=strategy, seed=SEED, paired=paired, deduplicate=True)
    assert masks.shape == (60, 8)
    assert _n_distinct(masks) == 60


def test_deduplicated_kernel_rows_exclude_empty_and_grand() -> None:
    masks = sample_coalitions(4, 14, strategy="kernel", seed=SEED, deduplicate=True)
    sizes = _sizes(masks)
    assert sizes.min() >= 1
    assert sizes.max() <= 3


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n_players", [3, 4])
def test_asking_for_the_whole_small_support_returns_all_of_it(
    strategy: Strategy, n_players: int
) -> None:
    support = support_size(n_players, strategy)
    masks = sample_coalitions(n_players, support, strategy=strategy, seed=SEED, deduplicate=True)
    assert masks.shape == (support, n_players)
    assert _n_distinct(masks) == support


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("paired", [False, True])
@pytest.mark.parametrize("n_players", [8, 10])
def test_asking_for_the_whole_support_returns_all_of_it_even_rare_coalitions(
    strategy: Strategy, paired: bool, n_players: int
) -> None:
    # The rarest kernel coalition of 10 players has probability ~3e-4 per draw: drawing until
    # every coalition turns up must still find it (SurrogateShapley asks for the whole support of
    # small games).
    support = support_size(n_players, strategy)
    masks = sample_coalitions(
        n_players, support, strategy=strategy, seed=SEED, paired=paired, deduplicate=True
    )
    assert masks.shape == (support, n_players)
    assert _n_distinct(masks) == support


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_deduplicate_rejects_more_coalitions_than_the_support(strategy: Strategy) -> None:
    support = support_size(4, strategy)
    with pytest.raises(EngineInputError, match=f"only {support}"):
        sample_coalitions(4, support + 1, strategy=strategy, seed=SEED, deduplicate=True)


# --- bad input ---------------------------------------------------------------------------------


def test_unknown_strategy_is_rejected_naming_the_choices() -> None:
    with pytest.raises(EngineInputError, match=r"unknown strategy 'shapley'.*kernel"):
        sample_coalitions(5, 10, strategy="shapley")  # type: ignore[arg-type]


def test_negative_count_is_rejected() -> None:
    with pytest.raises(EngineInputError, match=">= 0, got -1"):
        sample_coalitions(5, -1)


@pytest.mark.parametrize("n_coalitions", [2.0, True, "10"])
def test_non_integer_count_is_rejected(n_coalitions: object) -> None:
    with pytest.raises(EngineInputError, match="n_coalitions must be an integer"):
        sample_coalitions(5, n_coalitions)  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_fixed_size_rejects_alpha_outside_the_open_unit_interval(alpha: float) -> None:
    with pytest.raises(EngineInputError, match="alpha must lie strictly between 0 and 1"):
        sample_coalitions(5, 10, strategy="fixed_size", alpha=alpha)


def test_kernel_rejects_a_single_player() -> None:
    with pytest.raises(EngineInputError, match="at least 2 players"):
        sample_coalitions(1, 10, strategy="kernel")


@pytest.mark.parametrize("strategy", ["size_uniform", "uniform"])
def test_other_strategies_accept_a_single_player(strategy: Strategy) -> None:
    masks = sample_coalitions(1, 1000, strategy=strategy, seed=SEED)
    assert masks.shape == (1000, 1)
    assert 0 < masks.sum() < 1000


@pytest.mark.parametrize("n_players", [0, -1, 2.0, True])
def test_bad_player_count_is_rejected(n_players: object) -> None:
    with pytest.raises(EngineInputError, match="n_players"):
        sample_coalitions(n_players, 10, strategy="uniform")  # type: ignore[arg-type]


def test_fixed_size_rounds_as_a_user_means() -> None:
    masks = sample_coalitions(100, 3, strategy="fixed_size", alpha=0.29, seed=0)
    assert (masks.sum(axis=1) == 29).all()


def test_almost_all_small_fixed_size_coalitions_of_many_players() -> None:
    # C(30, 3) = 4,060: the sampler enumerates those combinations (never all 2^30 coalitions).
    masks = sample_coalitions(30, 4000, strategy="fixed_size", alpha=0.1, deduplicate=True, seed=0)
    assert masks.shape == (4000, 30)
    assert (masks.sum(axis=1) == 3).all()
    assert len({row.tobytes() for row in masks}) == 4000
