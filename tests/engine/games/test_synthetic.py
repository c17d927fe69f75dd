"""The SurrogateSHAP paper's synthetic games: formulas, null players, seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.games.base import Game
from attribution.engine.games.synthetic import (
    InteractionGame,
    LinearGame,
    NonlinearGame,
    make_paper_games,
)

TOLERANCE = 1e-12
SEED = 7


def _all_masks(n_players: int) -> NDArray[np.bool_]:
    """Every coalition, row k holding the bits of k (player i = bit i): shape (2^n, n)."""
    codes = np.arange(2**n_players)
    return ((codes[:, None] >> np.arange(n_players)[None, :]) & 1).astype(bool)


def _brute_force_shapley(game: Game) -> NDArray[np.float64]:
    """φ_i = Σ_{S ⊆ N∖{i}} |S|!(n−|S|−1)!/n! · (v(S ∪ {i}) − v(S)), enumerating all 2^n sets."""
    n = game.n_players
    utilities = game(_all_masks(n))
    values = np.empty(n)
    for player in range(n):
        bit = 1 << player
        terms = [
            math.factorial(bin(code).count("1"))
            * math.factorial(n - bin(code).count("1") - 1)
            / math.factorial(n)
            * (utilities[code | bit] - utilities[code])
            for code in range(2**n)
            if not code & bit
        ]
        values[player] = math.fsum(terms)
    return values


def test_linear_game_values_equal_the_weights() -> None:
    weights = np.array([0.4, -1.3, 2.0, 0.0, 0.7])
    game = LinearGame(weights)
    np.testing.assert_array_equal(game.shapley_values(), weights)
    np.testing.assert_allclose(_brute_force_shapley(game), weights, rtol=0, atol=TOLERANCE)


def test_paper_linear_game_values_equal_its_weights() -> None:
    game = make_paper_games(6, 2, SEED)["linear"]
    assert isinstance(game, LinearGame)
    np.testing.assert_allclose(
        _brute_force_shapley(game), game.shapley_values(), rtol=0, atol=TOLERANCE
    )


def test_formulas_on_hand_picked_coalitions() -> None:
    weights = np.array([1.0, -0.5, 0.25, 2.0, -1.0, 0.5, 0.3])
    masks = np.zeros((3, 7), dtype=bool)
    masks[1, [0, 1]] = True
    masks[2, [0, 2, 4]] = True
    linear = 0.25 + masks.astype(float) @ weights
    np.testing.assert_allclose(LinearGame(weights)(masks), linear, atol=TOLERANCE)
    np.testing.assert_allclose(NonlinearGame(weights)(masks), 3 * np.tanh(linear / 3), atol=1e-15)
    # Row 1 has z0 z1 = 1 (+1.5); row 2 has z0 z2 z4 = 1 (+2.0) and no pair term.
    expected = 3 * np.tanh((linear + np.array([0.0, 1.5, 2.0])) / 3)
    np.testing.assert_allclose(InteractionGame(weights)(masks), expected, atol=1e-15)


def test_interaction_game_uses_every_term() -> None:
    weights = np.zeros(6)
    game = InteractionGame(weights, intercept=0.0)
    full = np.ones((1, 6), dtype=bool)
    expected = 3 * np.tanh((1.5 - 1.0 + 0.8 + 2.0) / 3)
    assert abs(game(full)[0] - expected) < 1e-15


def test_intercept_is_the_empty_coalition_value_of_the_linear_game() -> None:
    assert LinearGame([1.0, 2.0])(np.zeros((1, 2), dtype=bool))[0] == 0.25
    assert LinearGame([1.0, 2.0], intercept=-1.0)(np.zeros((1, 2), dtype=bool))[0] == -1.0


@pytest.mark.parametrize("name", ["linear", "nonlinear", "interaction"])
def test_null_players_never_change_the_utility(name: str) -> None:
    n_players, n_null = 8, 4
    game = make_paper_games(n_players, n_null, SEED)[name]
    assert game.n_players == n_players + n_null
    rng = np.random.default_rng(11)
    masks = rng.random((500, game.n_players)) < 0.5
    for null in range(n_players, n_players + n_null):
        without, with_null = masks.copy(), masks.copy()
        without[:, null] = False
        with_null[:, null] = True
        np.testing.assert_array_equal(game(with_null), game(without))


@pytest.mark.parametrize("name", ["nonlinear", "interaction"])
def test_null_players_get_zero_exact_value(name: str) -> None:
    game = make_paper_games(6, 2, SEED)[name]
    values = _brute_force_shapley(game)
    np.testing.assert_array_equal(values[6:], [0.0, 0.0])
    assert np.abs(values[:6]).max() > 0.01


def test_paper_games_share_one_weight_vector_with_null_weights() -> None:
    games = make_paper_games(6, 3, SEED)
    weights = [game.weights for game in games.values()]  # type: ignore[attr-defined]
    for other in weights[1:]:
        np.testing.assert_array_equal(other, weights[0])
    np.testing.assert_array_equal(weights[0][6:], np.zeros(3))
    expected = np.random.default_rng(SEED).standard_normal(6)
    np.testing.assert_array_equal(weights[0][:6], expected)


def test_same_seed_gives_the_same_games_and_another_seed_differs() -> None:
    masks = np.random.default_rng(3).random((64, 10)) < 0.5
    first = make_paper_games(7, 3, SEED)
    again = make_paper_games(7, 3, SEED)
    other = make_paper_games(7, 3, SEED + 1)
    for name in ("linear", "nonlinear", "interaction"):
        np.testing.assert_array_equal(first[name](masks), again[name](masks))
        assert not np.array_equal(first[name](masks), other[name](masks))


def test_make_paper_games_without_null_players() -> None:
    games = make_paper_games(6, 0, SEED)
    assert {name: game.n_players for name, game in games.items()} == {
        "linear": 6,
        "nonlinear": 6,
        "interaction": 6,
    }


def test_interaction_game_requires_six_players() -> None:
    with pytest.raises(EngineInputError, match="at least 6 players"):
        InteractionGame(np.ones(5))
    with pytest.raises(EngineInputError, match=">= 6"):
        make_paper_games(5, 10, SEED)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((6, -1, SEED), "n_null"),
        ((6, 1.5, SEED), "n_null"),
        ((6, 0, -3), "seed"),
        ((6.0, 0, SEED), "n_players"),
    ],
)
def test_make_paper_games_rejects_bad_arguments(
    arguments: tuple[object, object, object], message: str
) -> None:
    with pytest.raises(EngineInputError, match=message):
        make_paper_games(*arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [LinearGame, NonlinearGame, InteractionGame])
def test_bad_weights_and_intercepts_raise(cls: type) -> None:
    with pytest.raises(EngineInputError, match="finite"):
        cls([0.0] * 5 + [float("nan")])
    with pytest.raises(EngineInputError, match="1-D"):
        cls(np.zeros((2, 6)))
    with pytest.raises(EngineInputError, match="intercept"):
        cls(np.zeros(6), intercept=float("inf"))


@pytest.mark.parametrize("name", ["linear", "nonlinear", "interaction"])
def test_call_rejects_masks_with_the_wrong_number_of_columns(name: str) -> None:
    game = make_paper_games(6, 1, SEED)[name]
    with pytest.raises(EngineInputError, match="7 players"):
        game(np.ones((3, 6), dtype=bool))


@pytest.mark.parametrize("name", ["linear", "nonlinear", "interaction"])
def test_repr_names_the_class(name: str) -> None:
    game = make_paper_games(6, 1, SEED)[name]
    assert repr(game).startswith(type(game).__name__ + "(n_players=7")
