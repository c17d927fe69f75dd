"""Closed-form Shapley values of the known games against brute force over all coalitions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError, TooManyPlayersError
from attribution.engine.games.base import Game
from attribution.engine.games.known import (
    AdditiveGame,
    AirportGame,
    GloveGame,
    UnanimityGame,
    WeightedMajorityGame,
)

TOLERANCE = 1e-12


def _all_masks(n_players: int) -> NDArray[np.bool_]:
    """Every coalition, row k holding the bits of k (player i = bit i): shape (2^n, n)."""
    codes = np.arange(2**n_players)
    return ((codes[:, None] >> np.arange(n_players)[None, :]) & 1).astype(bool)


def _brute_force_shapley(game: Game) -> NDArray[np.float64]:
    """φ_i = Σ_{S ⊆ N∖{i}} |S|!(n−|S|−1)!/n! · (v(S ∪ {i}) − v(S)), enumerating all 2^n sets."""
    n = game.n_players
    utilities = game(_all_masks(n))
    codes = np.arange(2**n)
    values = np.empty(n)
    for player in range(n):
        bit = 1 << player
        terms = [
            math.factorial(bin(code).count("1"))
            * math.factorial(n - bin(code).count("1") - 1)
            / math.factorial(n)
            * (utilities[code | bit] - utilities[code])
            for code in codes
            if not code & bit
        ]
        values[player] = math.fsum(terms)
    return values


def _mask(n_players: int, members: list[int]) -> NDArray[np.bool_]:
    """One coalition as a (1, n_players) mask."""
    mask = np.zeros((1, n_players), dtype=bool)
    mask[0, members] = True
    return mask


def _efficiency_gap(game: Game, values: NDArray[np.float64]) -> float:
    """Σφ − (v(N) − v(∅))."""
    n = game.n_players
    ends = game(np.array([[False] * n, [True] * n]))
    return float(values.sum() - (ends[1] - ends[0]))


KNOWN_GAMES = [
    pytest.param(AdditiveGame([1.0, -2.0, 0.5]), id="additive-3"),
    pytest.param(
        AdditiveGame([0.3, -1.2, 4.0, 0.0, 2.5, -0.7, 1.1], constant=5.0), id="additive-7"
    ),
    pytest.param(UnanimityGame(2, [[0, 1]], [1.0]), id="unanimity-pair"),
    pytest.param(
        UnanimityGame(6, [[0, 1], [2], [1, 3, 4], [0, 1, 2, 3, 4, 5]], [1.0, 2.0, -3.0, 0.6]),
        id="unanimity-6",
    ),
    pytest.param(
        UnanimityGame(9, [[8], [0, 8], [1, 2, 3], [4, 5, 6, 7], [0, 1]], [0.1, 2, -1, 3.3, 0.7]),
        id="unanimity-9",
    ),
    pytest.param(WeightedMajorityGame([1, 1, 1], 2), id="majority-simple"),
    pytest.param(WeightedMajorityGame([50, 49, 1], 51), id="majority-dictator-ish"),
    pytest.param(WeightedMajorityGame([4, 3, 2, 1, 0, 7], 9), id="majority-null-player"),
    pytest.param(WeightedMajorityGame([10, 10, 10, 10, 5, 5, 5, 3, 1], 30.5), id="majority-9"),
    pytest.param(WeightedMajorityGame([8, 1, 1, 1], 3), id="majority-big-weight-over-quota"),
    pytest.param(GloveGame(1, 1), id="glove-1-1"),
    pytest.param(GloveGame(1, 2), id="glove-1-2"),
    pytest.param(GloveGame(2, 3), id="glove-2-3"),
    pytest.param(GloveGame(4, 4), id="glove-4-4"),
    pytest.param(GloveGame(5, 4), id="glove-5-4"),
    pytest.param(GloveGame(1, 8), id="glove-1-8"),
    pytest.param(AirportGame([1.0, 2.0]), id="airport-2"),
    pytest.param(AirportGame([3.0, 1.0, 3.0, 0.0, 2.0, 5.0]), id="airport-ties-zero"),
    pytest.param(AirportGame([7.5, 7.5, 7.5, 7.5]), id="airport-all-equal"),
    pytest.param(AirportGame([9.0, 0.5, 3.25, 8.0, 1.0, 6.0, 4.5, 2.0, 5.0]), id="airport-9"),
]


@pytest.mark.parametrize("game", KNOWN_GAMES)
def test_shapley_values_match_brute_force(game: Game) -> None:
    values = game.shapley_values()  # type: ignore[attr-defined]
    np.testing.assert_allclose(values, _brute_force_shapley(game), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("game", KNOWN_GAMES)
def test_shapley_values_are_efficient(game: Game) -> None:
    values = game.shapley_values()  # type: ignore[attr-defined]
    assert values.shape == (game.n_players,)
    assert values.dtype == np.float64
    assert abs(_efficiency_gap(game, values)) < TOLERANCE


@pytest.mark.parametrize("game", KNOWN_GAMES)
def test_call_rejects_masks_with_the_wrong_number_of_columns(game: Game) -> None:
    with pytest.raises(EngineInputError, match="columns"):
        game(np.ones((2, game.n_players + 1), dtype=bool))


@pytest.mark.parametrize("game", KNOWN_GAMES)
def test_call_accepts_integer_masks_and_returns_one_float_per_row(game: Game) -> None:
    masks = _all_masks(game.n_players)
    utilities = game(masks.astype(np.int64))
    assert utilities.shape == (masks.shape[0],)
    assert utilities.dtype == np.float64
    np.testing.assert_array_equal(utilities, game(masks))


@pytest.mark.parametrize("game", KNOWN_GAMES)
def test_repr_names_the_class(game: Game) -> None:
    assert repr(game).startswith(type(game).__name__ + "(")


def test_shapley_values_returns_a_copy() -> None:
    game = AdditiveGame([1.0, 2.0])
    game.shapley_values()[0] = 99.0
    assert game.shapley_values()[0] == 1.0


# --- hand-picked coalitions ---------------------------------------------------------------------


def test_additive_game_on_coalitions() -> None:
    game = AdditiveGame([1.0, -2.0, 0.5], constant=10.0)
    assert game(_mask(3, []))[0] == 10.0
    assert game(_mask(3, [0, 2]))[0] == 11.5
    assert game(_mask(3, [0, 1, 2]))[0] == 9.5


def test_unanimity_game_pays_only_complete_carriers() -> None:
    game = UnanimityGame(4, [[0, 1], [2]], [3.0, 5.0])
    assert game(_mask(4, [0]))[0] == 0.0
    assert game(_mask(4, [0, 1]))[0] == 3.0
    assert game(_mask(4, [0, 1, 2, 3]))[0] == 8.0
    np.testing.assert_allclose(game.shapley_values(), [1.5, 1.5, 5.0, 0.0], atol=TOLERANCE)


def test_weighted_majority_game_wins_at_the_quota() -> None:
    game = WeightedMajorityGame([3, 2, 2], 4)
    assert game(_mask(3, [0]))[0] == 0.0
    assert game(_mask(3, [1, 2]))[0] == 1.0  # exactly the quota wins
    assert game(_mask(3, [0, 1]))[0] == 1.0
    # Any two players win and no single one does: the simple majority game, 1/3 each.
    np.testing.assert_allclose(game.shapley_values(), [1 / 3] * 3, atol=TOLERANCE)


def test_weighted_majority_game_gives_a_dictator_everything() -> None:
    game = WeightedMajorityGame([10, 3, 3, 3], 10)
    np.testing.assert_array_equal(game.shapley_values(), [1.0, 0.0, 0.0, 0.0])


def test_glove_game_on_coalitions() -> None:
    game = GloveGame(2, 3)  # players 0, 1 left; 2, 3, 4 right
    assert game(_mask(5, [0, 2]))[0] == 1.0
    assert game(_mask(5, [0, 1]))[0] == 0.0
    assert game(_mask(5, [0, 1, 2, 3, 4]))[0] == 2.0
    assert game(_mask(5, [1, 2, 3]))[0] == 1.0


def test_glove_game_with_one_pair_splits_evenly() -> None:
    np.testing.assert_allclose(GloveGame(1, 1).shapley_values(), [0.5, 0.5], atol=TOLERANCE)


def test_glove_game_one_left_two_right_known_values() -> None:
    # The classic example: the scarce left glove gets 2/3, each right glove 1/6.
    np.testing.assert_allclose(
        GloveGame(1, 2).shapley_values(), [2 / 3, 1 / 6, 1 / 6], atol=TOLERANCE
    )


def test_airport_game_on_coalitions() -> None:
    game = AirportGame([3.0, 1.0, 5.0])
    assert game(_mask(3, []))[0] == 0.0
    assert game(_mask(3, [1]))[0] == 1.0
    assert game(_mask(3, [0, 1]))[0] == 3.0
    assert game(_mask(3, [0, 1, 2]))[0] == 5.0


def test_airport_game_littlechild_owen_values() -> None:
    # Segments: [0,1] shared by 3, [1,3] by 2, [3,5] by 1.
    expected = [1 / 3 + 1.0, 1 / 3, 1 / 3 + 1.0 + 2.0]
    np.testing.assert_allclose(AirportGame([3.0, 1.0, 5.0]).shapley_values(), expected, atol=1e-15)


def test_airport_game_gives_tied_players_equal_values() -> None:
    values = AirportGame([2.0, 4.0, 2.0, 4.0, 1.0]).shapley_values()
    assert values[0] == values[2]
    assert values[1] == values[3]


# --- random parameter sets (property tests, n <= 9) ---------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=0, max_value=12), min_size=2, max_size=8),
    fraction=st.floats(min_value=0.01, max_value=1.0),
)
def test_weighted_majority_matches_brute_force_on_random_games(
    weights: list[int], fraction: float
) -> None:
    total = sum(weights)
    if total == 0:
        return
    quota = max(1, math.ceil(fraction * total))
    game = WeightedMajorityGame(weights, quota)
    np.testing.assert_allclose(
        game.shapley_values(), _brute_force_shapley(game), rtol=0, atol=TOLERANCE
    )


@settings(max_examples=40, deadline=None)
@given(costs=st.lists(st.integers(min_value=0, max_value=6), min_size=2, max_size=8))
def test_airport_matches_brute_force_on_random_games_with_ties(costs: list[int]) -> None:
    game = AirportGame([cost / 2 for cost in costs])
    np.testing.assert_allclose(
        game.shapley_values(), _brute_force_shapley(game), rtol=0, atol=TOLERANCE
    )


@settings(max_examples=30, deadline=None)
@given(n_left=st.integers(min_value=1, max_value=8), n_right=st.integers(min_value=1, max_value=8))
def test_glove_matches_brute_force_on_all_small_shapes(n_left: int, n_right: int) -> None:
    if n_left + n_right > 9:
        return
    game = GloveGame(n_left, n_right)
    np.testing.assert_allclose(
        game.shapley_values(), _brute_force_shapley(game), rtol=0, atol=TOLERANCE
    )


def test_unanimity_matches_brute_force_on_random_carriers() -> None:
    rng = np.random.default_rng(20240607)
    for _ in range(10):
        n = int(rng.integers(2, 9))
        n_terms = int(rng.integers(1, 6))
        carriers = [
            sorted(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False).tolist())
            for _ in range(n_terms)
        ]
        game = UnanimityGame(n, carriers, rng.normal(size=n_terms))
        np.testing.assert_allclose(
            game.shapley_values(), _brute_force_shapley(game), rtol=0, atol=TOLERANCE
        )


# --- no enumeration: large games stay fast and efficient ----------------------------------------


def test_large_games_are_solved_without_enumeration() -> None:
    # 2^n coalitions would be out of reach for these; the formulas still satisfy efficiency.
    large: list[tuple[Game, float]] = [
        (WeightedMajorityGame(np.arange(1, 71), 1500), 1.0),
        (GloveGame(80, 120), 80.0),
        (AirportGame(np.linspace(0.0, 10.0, 500)), 10.0),
        (UnanimityGame(300, [[0, 299], list(range(300))], [2.0, 3.0]), 5.0),
    ]
    for game, grand_value in large:
        values = game.shapley_values()  # type: ignore[attr-defined]
        assert values.shape == (game.n_players,)
        assert abs(values.sum() - grand_value) < 1e-9


def test_weighted_majority_refuses_a_huge_count_table() -> None:
    game = WeightedMajorityGame([10**7, 10**7, 10**7], 2 * 10**7)
    with pytest.raises(TooManyPlayersError, match="rescale"):
        game.shapley_values()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: AdditiveGame([1.0]), "at least 2"),
        (lambda: AdditiveGame([[1.0, 2.0]]), "1-D"),
        (lambda: AdditiveGame([1.0, float("nan")]), "finite"),
        (lambda: AdditiveGame(["a", "b"]), "numbers"),
        (lambda: AdditiveGame([1.0, 2.0], constant=float("inf")), "constant"),
        (lambda: UnanimityGame(1, [[0]], [1.0]), "at least 2"),
        (lambda: UnanimityGame(3, [[]], [1.0]), "coalition 0 is empty"),
        (lambda: UnanimityGame(3, [[0], [1, 3]], [1.0, 1.0]), "player 3, outside 0..2"),
        (lambda: UnanimityGame(3, [[-1]], [1.0]), "outside"),
        (lambda: UnanimityGame(3, [[0, 0]], [1.0]), "twice"),
        (lambda: UnanimityGame(3, [[0.5]], [1.0]), "integers"),  # type: ignore[list-item]
        (lambda: UnanimityGame(3, [[0], [1]], [1.0]), "one number per coalition"),
        (lambda: UnanimityGame(3, [[0]], [float("nan")]), "finite"),
        (lambda: WeightedMajorityGame([1, -1, 2], 2), "non-negative; entry 1"),
        (lambda: WeightedMajorityGame([1, 1.5, 2], 2), "integers; entry 1"),
        (lambda: WeightedMajorityGame([1, 2], 0), "positive"),
        (lambda: WeightedMajorityGame([1, 2], 4), "exceeds the total weight 3"),
        (lambda: WeightedMajorityGame([1, 2], float("nan")), "quota"),
        (lambda: WeightedMajorityGame([1], 1), "at least 2"),
        (lambda: GloveGame(0, 3), "n_left must be at least 1"),
        (lambda: GloveGame(2, 0), "n_right must be at least 1"),
        (lambda: GloveGame(1.0, 2), "n_left must be an integer"),  # type: ignore[arg-type]
        (lambda: AirportGame([1.0, -0.5]), "costs must be non-negative"),
        (lambda: AirportGame([1.0, float("nan")]), "costs must be finite"),
        (lambda: AirportGame([3.0]), "at least 2"),
    ],
)
def test_bad_input_raises_a_clear_error(build: object, message: str) -> None:
    with pytest.raises(EngineInputError, match=message):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "masks",
    [
        np.zeros((2, 3), dtype=np.float64),
        np.array([[0, 2, 1, 0]]),
        np.zeros(4, dtype=bool),
    ],
    ids=["float", "not-0-1", "1-d"],
)
def test_call_rejects_malformed_masks(masks: NDArray[np.generic]) -> None:
    with pytest.raises(EngineInputError):
        GloveGame(2, 2)(masks)  # type: ignore[arg-type]


def test_all_coalitions_helper_covers_every_subset_once() -> None:
    masks = _all_masks(4)
    assert {tuple(row) for row in masks.tolist()} == set(itertools.product([False, True], repeat=4))
