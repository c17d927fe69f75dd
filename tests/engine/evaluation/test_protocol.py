"""LDS and counterfactual removal, checked on games whose right answers are known.

Every random draw below uses a stated seed, so the tests are deterministic; where a bound is
statistical, the docstring says how wide it is in standard errors and what was measured.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine import AdditiveGame, EvaluationCounter, ExactShapley, UnanimityGame
from attribution.engine.errors import EngineInputError
from attribution.engine.evaluation.protocol import (
    HeldoutSet,
    counterfactual_change,
    evaluate_heldout_sets,
    heldout_coalitions,
    lds_over_sets,
    linear_datamodeling_score,
    replicate_agreement,
    top_fraction_mask,
)
from attribution.engine.games.base import FunctionGame, Masks, Utilities

SEED = 20240601


def _additive_game(n_players: int, seed: int, constant: float = 3.0) -> AdditiveGame:
    return AdditiveGame(np.random.default_rng(seed).normal(size=n_players), constant=constant)


def _unanimity_game() -> UnanimityGame:
    """8 players, overlapping terms of mixed sign; player 7 is null."""
    return UnanimityGame(
        8,
        coalitions=[(0,), (1, 2), (2, 3, 4), (0, 5), (1, 6), (3, 5, 6)],
        weights=[1.0, 2.0, 1.5, -0.5, 0.8, 1.2],
    )


def _refusing_game(n_players: int) -> FunctionGame:
    """A game that fails the test if it is ever evaluated."""

    def refuse(masks: Masks) -> Utilities:
        raise AssertionError("the game was evaluated although held-out sets were given")

    return FunctionGame(n_players, refuse)


# --- held-out coalitions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_players", "alpha", "size"), [(10, 0.5, 5), (10, 0.3, 3), (100, 0.29, 29), (7, 0.5, 3)]
)
def test_heldout_coalitions_have_floor_alpha_n_members_and_are_distinct(
    n_players: int, alpha: float, size: int
) -> None:
    masks = heldout_coalitions(n_players, alpha, 30, seed=SEED)

    assert masks.shape == (30, n_players)
    assert masks.dtype == np.bool_
    assert (masks.sum(axis=1) == size).all()
    assert len(np.unique(masks, axis=0)) == 30


def test_heldout_coalitions_are_reproducible_from_the_seed() -> None:
    first = heldout_coalitions(20, 0.5, 50, seed=SEED)

    assert np.array_equal(first, heldout_coalitions(20, 0.5, 50, seed=SEED))
    assert not np.array_equal(first, heldout_coalitions(20, 0.5, 50, seed=SEED + 1))


def test_heldout_coalitions_can_take_every_coalition_of_the_size() -> None:
    masks = heldout_coalitions(8, 0.5, math.comb(8, 4), seed=SEED)

    assert len(np.unique(masks, axis=0)) == 70


@pytest.mark.parametrize(
    ("n_players", "alpha", "n_subsets"),
    [(10, 0.05, 10), (8, 0.5, 71), (10, 0.5, 2), (10, 1.0, 10), (10, 0.0, 10)],
)
def test_heldout_coalitions_refuse_impossible_requests(
    n_players: int, alpha: float, n_subsets: int
) -> None:
    with pytest.raises(EngineInputError):
        heldout_coalitions(n_players, alpha, n_subsets, seed=SEED)


# --- the linear datamodeling score ---------------------------------------------------------------


def test_exact_values_of_an_additive_game_score_exactly_one() -> None:
    """Σ_{i∈S} φ_i = v(S) − v(∅): the same ranking, so Spearman is 1.0 with no rounding."""
    game = _additive_game(12, seed=SEED)

    result = lds_over_sets(game.shapley_values(), game, alpha=0.5, n_subsets=100, seed=SEED)

    assert result.scores.tolist() == [1.0, 1.0, 1.0]
    assert (result.mean, result.ci_low, result.ci_high) == (1.0, 1.0, 1.0)


def test_lds_is_invariant_to_positive_affine_maps_and_flips_under_negation() -> None:
    game = _additive_game(15, seed=SEED)
    masks = heldout_coalitions(15, 0.5, 80, seed=SEED)
    utilities = game(masks)
    values = game.shapley_values()

    assert linear_datamodeling_score(2.0 * values + 5.0, masks, utilities) == 1.0
    assert linear_datamodeling_score(-values, masks, utilities) == -1.0


def test_lds_matches_scipy_spearman_with_ties() -> None:
    """Integer data with many ties: average ranks, as scipy's spearmanr, to 1e-12."""
    from scipy import stats

    rng = np.random.default_rng(SEED)
    predicted = rng.integers(0, 5, size=40).astype(np.float64)
    truth = predicted + rng.integers(0, 5, size=40)
    # Identity masks make Σ_{i∈S} φ_i the value of the single member.
    score = linear_datamodeling_score(predicted, np.eye(40, dtype=np.bool_), truth)

    assert score == pytest.approx(stats.spearmanr(predicted, truth).statistic, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_random_values_score_near_zero(seed: int) -> None:
    """Random φ, independent of the game: the LDS is about corr(φ, w) over the 1000 players plus
    noise from the 300 coalitions, standard error about sqrt(1/1000 + 1/300) ≈ 0.066, so the bound
    0.3 is about 4.5 standard errors. Measured for seeds 0-4: -0.007, 0.064, -0.012, 0.122, -0.040.
    """
    game = _additive_game(1000, seed=seed)
    masks = heldout_coalitions(1000, 0.5, 300, seed=seed)
    random_values = np.random.default_rng(100 + seed).normal(size=1000)

    assert abs(linear_datamodeling_score(random_values, masks, game(masks))) < 0.3


def test_exact_values_of_a_unanimity_game_score_below_one_but_well_above_half() -> None:
    """Interactions make the additive prediction imperfect. Over all C(8, 4) = 70 coalitions of
    size 4 (so no sampling at all) the LDS of the exact values is 0.70756276676898..."""
    game = _unanimity_game()
    values = ExactShapley().fit(game).values_
    masks = heldout_coalitions(8, 0.5, 70, seed=SEED)

    score = linear_datamodeling_score(values, masks, game(masks))

    assert 0.5 < score < 1.0
    assert score == pytest.approx(0.7075627667689871, abs=1e-12)


def test_equal_values_give_a_clear_error_not_nan() -> None:
    """All φ equal and one coalition size: every prediction is the same, the LDS is undefined."""
    game = _additive_game(10, seed=SEED)
    masks = heldout_coalitions(10, 0.5, 20, seed=SEED)

    with pytest.raises(EngineInputError, match="same utility for every held-out coalition"):
        linear_datamodeling_score(np.ones(10), masks, game(masks))


def test_constant_utilities_give_a_clear_error_not_nan() -> None:
    masks = heldout_coalitions(10, 0.5, 20, seed=SEED)

    with pytest.raises(EngineInputError, match="same true utility"):
        linear_datamodeling_score(np.arange(10.0), masks, np.full(20, 2.5))


@pytest.mark.parametrize(
    ("values", "utilities"),
    [
        (np.arange(9.0), np.arange(20.0)),  # one value short
        (np.r_[np.nan, np.arange(9.0)], np.arange(20.0)),  # NaN value
        (np.arange(10.0), np.r_[np.inf, np.arange(19.0)]),  # infinite utility
        (np.arange(10.0), np.arange(19.0)),  # one utility short
    ],
)
def test_lds_refuses_bad_input(values: NDArray[np.float64], utilities: NDArray[np.float64]) -> None:
    masks = heldout_coalitions(10, 0.5, 20, seed=SEED)

    with pytest.raises(EngineInputError):
        linear_datamodeling_score(values, masks, utilities)


def test_lds_needs_three_coalitions() -> None:
    with pytest.raises(EngineInputError, match="at least 3"):
        linear_datamodeling_score([1.0, 2.0], [[True, False], [False, True]], [1.0, 2.0])


# --- LDS over several held-out sets ------------------------------------------------------------


def test_lds_interval_is_the_t_interval_of_the_per_set_scores_and_contains_the_mean() -> None:
    game = _unanimity_game()
    values = ExactShapley().fit(game).values_

    result = lds_over_sets(values, game, alpha=0.5, n_sets=4, n_subsets=30, seed=SEED)

    per_set = [linear_datamodeling_score(values, s.masks, s.utilities) for s in result.heldout]
    assert result.scores.tolist() == per_set
    assert result.mean == pytest.approx(np.mean(per_set), abs=1e-15)
    # t_{0.975, 3} = 3.182446305284263 (scipy.stats.t.ppf(0.975, 3)).
    half_width = 3.182446305284263 * np.std(per_set, ddof=1) / math.sqrt(4)
    assert result.ci_low == pytest.approx(result.mean - half_width, abs=1e-12)
    assert result.ci_high == pytest.approx(result.mean + half_width, abs=1e-12)
    assert result.ci_low < result.mean < result.ci_high
    assert result.confidence == 0.95


def test_heldout_sets_are_independent_draws_evaluated_on_the_game() -> None:
    game = _additive_game(20, seed=SEED)

    sets = evaluate_heldout_sets(game, alpha=0.3, n_sets=3, n_subsets=40, seed=SEED)

    assert len(sets) == 3
    for heldout in sets:
        assert heldout.masks.shape == (40, 20)
        assert (heldout.masks.sum(axis=1) == 6).all()
        assert np.array_equal(heldout.utilities, game(heldout.masks))
    assert not np.array_equal(sets[0].masks, sets[1].masks)


def test_precomputed_heldout_sets_give_the_same_result_without_calling_the_game() -> None:
    game = _unanimity_game()
    values = ExactShapley().fit(game).values_
    first = lds_over_sets(values, game, n_sets=3, n_subsets=30, seed=SEED)

    again = lds_over_sets(values, heldout=first.heldout)
    # Another method scored on the cached sets: the game must not be touched.
    other = lds_over_sets(np.arange(8.0), heldout=first.heldout)

    assert np.array_equal(again.scores, first.scores)
    assert (again.mean, again.ci_low, again.ci_high) == (first.mean, first.ci_low, first.ci_high)
    assert other.heldout == first.heldout
    with pytest.raises(EngineInputError, match="got both"):
        lds_over_sets(values, _refusing_game(8), heldout=first.heldout)


def test_lds_over_sets_is_reproducible_and_reports_progress() -> None:
    game = _unanimity_game()
    values = ExactShapley().fit(game).values_
    calls: list[tuple[str, int, int]] = []

    def record(stage: str, done: int, total: int) -> None:
        calls.append((stage, done, total))

    first = lds_over_sets(values, game, n_sets=3, n_subsets=30, seed=SEED, progress=record)
    second = lds_over_sets(values, game, n_sets=3, n_subsets=30, seed=SEED)

    assert np.array_equal(first.scores, second.scores)
    assert calls == [("heldout", done, 3) for done in range(4)]


def test_lds_over_sets_refuses_bad_requests() -> None:
    game = _additive_game(10, seed=SEED)
    values = game.shapley_values()

    with pytest.raises(EngineInputError, match="got neither"):
        lds_over_sets(values, n_subsets=20, seed=SEED)
    with pytest.raises(EngineInputError, match="n_sets must be at least 2"):
        lds_over_sets(values, game, n_sets=1, n_subsets=20, seed=SEED)
    with pytest.raises(EngineInputError, match="confidence"):
        lds_over_sets(values, game, n_subsets=20, seed=SEED, confidence=1.0)


def test_lds_over_sets_needs_two_precomputed_sets() -> None:
    masks = heldout_coalitions(10, 0.5, 20, seed=SEED)

    with pytest.raises(EngineInputError, match="at least 2 held-out sets"):
        lds_over_sets(np.arange(10.0), heldout=[HeldoutSet(masks, masks @ np.arange(10.0))])


# --- counterfactual removal --------------------------------------------------------------------


# --- replicate agreement (noise ceiling) --------------------------------------------------------


def _noisy_replica(game: AdditiveGame, noise: float, seed: int) -> FunctionGame:
    rng = np.random.default_rng(seed)
    return FunctionGame(
        game.n_players, lambda masks: game(masks) + rng.normal(0.0, noise, len(masks))
    )


def test_an_identical_replica_agrees_perfectly_and_noise_lowers_agreement() -> None:
    game = _additive_game(12, seed=SEED)
    (heldout,) = evaluate_heldout_sets(game, alpha=0.5, n_sets=1, n_subsets=60, seed=SEED)

    assert replicate_agreement(heldout, game) == 1.0
    spread = float(np.std(heldout.utilities))
    slightly = replicate_agreement(heldout, _noisy_replica(game, 0.1 * spread, seed=1))
    heavily = replicate_agreement(heldout, _noisy_replica(game, 3.0 * spread, seed=1))
    assert 0.9 < slightly < 1.0
    assert heavily < slightly
    # Exact Shapley values of an additive game predict the true utilities perfectly, so their LDS
    # (1.0) is above the noisy replica's agreement: the ceiling bounds what the noisy *truth*
    # can confirm, not what a valuation can score against a noise-free game.
    phi = ExactShapley().fit(game).values_
    assert linear_datamodeling_score(phi, heldout.masks, heldout.utilities) > heavily


def test_replicate_agreement_refuses_mismatched_or_constant_games() -> None:
    game = _additive_game(6, seed=SEED)
    (heldout,) = evaluate_heldout_sets(game, alpha=0.5, n_sets=1, n_subsets=10, seed=SEED)
    with pytest.raises(EngineInputError, match="6 players, the replica game 7"):
        replicate_agreement(heldout, _additive_game(7, seed=SEED))
    constant = FunctionGame(6, lambda masks: np.ones(len(masks)))
    with pytest.raises(EngineInputError, match="constant utility"):
        replicate_agreement(heldout, constant)


def test_top_fraction_mask_takes_floor_fraction_n_largest() -> None:
    values = np.array([0.1, 5.0, -2.0, 3.0, 4.0, 0.0, 1.0])

    # ⌊0.4·7⌋ = 2: players 1 (5.0) and 4 (4.0); ⌊0.6·7⌋ = 4 adds 3 (3.0) and 6 (1.0).
    assert np.flatnonzero(top_fraction_mask(values, 0.4)).tolist() == [1, 4]
    assert np.flatnonzero(top_fraction_mask(values, 0.6)).tolist() == [1, 3, 4, 6]


def test_top_fraction_mask_breaks_ties_by_lower_index() -> None:
    values = np.array([1.0, 2.0, 2.0, 1.0, 2.0, 0.0, 2.0, 1.0, 1.0, 1.0])

    # Four players tie at 2.0 for the ⌊0.3·10⌋ = 3 places: the lower indices win.
    assert np.flatnonzero(top_fraction_mask(values, 0.3)).tolist() == [1, 2, 4]
    # Five players tie at 1.0 for the last 2 of ⌊0.6·10⌋ = 6 places.
    assert np.flatnonzero(top_fraction_mask(values, 0.6)).tolist() == [0, 1, 2, 3, 4, 6]
    assert top_fraction_mask(np.zeros(10), 0.4).tolist() == [True] * 4 + [False] * 6


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.05])
def test_top_fraction_mask_refuses_fractions_selecting_no_one(fraction: float) -> None:
    with pytest.raises(EngineInputError):
        top_fraction_mask(np.arange(10.0), fraction)


def test_counterfactual_change_matches_the_hand_computed_numbers() -> None:
    """v(S) = 1 + Σ w, w = (1, 2, 3, 4, 10): v(N) = 21, v(∅) = 1, normaliser |21 − 1| = 20.
    Removing the top ⌊0.4·5⌋ = 2 (players 4, 3) leaves 1 + 6 = 7: (7 − 21)/20 = −0.7. Keeping only
    the top ⌊0.6·5⌋ = 3 (players 4, 3, 2) gives 1 + 17 = 18: (18 − 21)/20 = −0.15."""
    game = AdditiveGame([1.0, 2.0, 3.0, 4.0, 10.0], constant=1.0)

    result = counterfactual_change(game, game.shapley_values(), fraction=0.4)

    assert (result.grand_utility, result.empty_utility) == (21.0, 1.0)
    assert result.removed.tolist() == [False, False, False, True, True]
    assert result.kept.tolist() == [False, False, True, True, True]
    assert (result.without_top_utility, result.without_top_change) == (7.0, -0.7)
    assert (result.only_top_utility, result.only_top_change) == (18.0, -0.15)
    assert result.fraction == 0.4


@pytest.mark.parametrize("seed", range(20))
def test_removing_the_truly_top_contributors_hurts_more_than_removing_random_ones(
    seed: int,
) -> None:
    """With positive weights, the top 40% by weight is the 40% whose removal costs most, so random
    values can at best tie it (only by picking the same 8 of 20 players, chance 1/C(20, 8)), and
    for seeds 0-19 (game seed SEED) none does; keeping the top 60% by weight likewise keeps the
    most."""
    game = AdditiveGame(np.random.default_rng(SEED).uniform(0.1, 1.0, size=20))
    random_values = np.random.default_rng(seed).normal(size=20)

    true = counterfactual_change(game, game.shapley_values())
    random = counterfactual_change(game, random_values)

    assert true.without_top_change < random.without_top_change
    assert true.only_top_change > random.only_top_change
    assert true.without_top_change < 0
    assert true.only_top_change < 0


def test_counterfactual_shares_grand_and_empty_evaluations_through_a_counter() -> None:
    game = EvaluationCounter(_additive_game(10, seed=SEED))

    counterfactual_change(game, np.arange(10.0))
    # Ranking 1, 3, 5, ... first: neither of its coalitions is one of the first method's.
    counterfactual_change(game, np.array([0.0, 9, 1, 8, 2, 7, 3, 6, 4, 5]))

    # 4 coalitions for the first method, then only the second method's two new ones.
    assert game.n_evaluations == 6


def test_counterfactual_refuses_a_game_where_everyone_adds_nothing() -> None:
    game = FunctionGame(6, lambda masks: np.full(len(masks), 4.0))

    with pytest.raises(EngineInputError, match="relative changes are undefined"):
        counterfactual_change(game, np.arange(6.0))


def test_counterfactual_refuses_values_of_the_wrong_length() -> None:
    with pytest.raises(EngineInputError, match="expected 6 values"):
        counterfactual_change(_additive_game(6, seed=SEED), np.arange(5.0))
