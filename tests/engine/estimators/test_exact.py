"""ExactShapley: analytic values, the Shapley axioms, limits and errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from attribution.engine import (
    EngineInputError,
    ExactShapley,
    FunctionGame,
    TooManyPlayersError,
    shapley_from_table,
)
from attribution.engine.coalitions import enumerate_masks
from tests.engine.estimators.conftest import KNOWN_GAMES

TOLERANCE = 1e-9


@pytest.mark.parametrize("name", sorted(KNOWN_GAMES))
def test_matches_analytic_values_of_known_games(name: str) -> None:
    game = KNOWN_GAMES[name]
    estimate = ExactShapley().fit(game)
    np.testing.assert_allclose(estimate.values_, game.shapley_values(), atol=TOLERANCE)
    assert estimate.n_evaluations_ == 2**game.n_players
    np.testing.assert_array_equal(estimate.stderr_, np.zeros(game.n_players))


def _random_game(n_players: int, seed: int) -> FunctionGame:
    table = np.random.default_rng(seed).normal(size=2**n_players)
    bits = 1 << np.arange(n_players)
    return FunctionGame(n_players, lambda masks: table[masks.astype(np.int64) @ bits])


def test_efficiency_holds_on_an_arbitrary_game() -> None:
    game = _random_game(9, seed=1)
    estimate = ExactShapley().fit(game)
    assert abs(estimate.efficiency_gap_) < TOLERANCE
    assert estimate.baseline_ == game(np.zeros((1, 9), dtype=bool))[0]


def test_symmetric_players_get_equal_values() -> None:
    base = _random_game(7, seed=2)

    def symmetrised(masks: np.ndarray) -> np.ndarray:
        swapped = masks.copy()
        swapped[:, [0, 1]] = masks[:, [1, 0]]
        return base(masks) + base(swapped)

    values = ExactShapley().fit(FunctionGame(7, symmetrised)).values_
    assert values[0] == pytest.approx(values[1], abs=TOLERANCE)


def test_null_player_gets_zero() -> None:
    base = _random_game(6, seed=3)
    game = FunctionGame(7, lambda masks: base(masks[:, :6]))
    assert ExactShapley().fit(game).values_[6] == pytest.approx(0.0, abs=TOLERANCE)


def test_values_are_additive_across_games() -> None:
    first, second = _random_game(6, seed=4), _random_game(6, seed=5)
    total = FunctionGame(6, lambda masks: first(masks) + 2.0 * second(masks))
    np.testing.assert_allclose(
        ExactShapley().fit(total).values_,
        ExactShapley().fit(first).values_ + 2.0 * ExactShapley().fit(second).values_,
        atol=TOLERANCE,
    )


def test_batching_does_not_change_the_result() -> None:
    game = _random_game(8, seed=6)
    np.testing.assert_allclose(
        ExactShapley(batch_size=7).fit(game).values_, ExactShapley().fit(game).values_, atol=1e-12
    )


def test_shapley_from_table_agrees_with_fit() -> None:
    game = _random_game(5, seed=7)
    table = game(enumerate_masks(5))
    np.testing.assert_allclose(shapley_from_table(table, 5), ExactShapley().fit(game).values_)


def test_too_many_players_fails_fast_without_calling_the_game() -> None:
    calls: list[int] = []
    game = FunctionGame(25, lambda masks: calls.append(len(masks)) or np.zeros(len(masks)))
    start = time.perf_counter()
    with pytest.raises(TooManyPlayersError, match="limited to 20 players"):
        ExactShapley().fit(game)
    assert time.perf_counter() - start < 1.0
    assert calls == []


def test_max_players_is_configurable() -> None:
    with pytest.raises(TooManyPlayersError):
        ExactShapley(max_players=5).fit(_random_game(6, seed=8))


class _NoPlayers:
    n_players = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return np.zeros(len(masks))


def test_a_single_player_is_refused() -> None:
    with pytest.raises(EngineInputError, match="at least 2"):
        ExactShapley().fit(FunctionGame(1, lambda masks: np.zeros(len(masks))))


def test_zero_players_is_refused() -> None:
    with pytest.raises(EngineInputError, match="at least 2"):
        ExactShapley().fit(_NoPlayers())


def test_nan_utilities_are_reported() -> None:
    game = FunctionGame(4, lambda masks: np.where(masks[:, 0] & masks[:, 1], np.nan, 1.0))
    with pytest.raises(EngineInputError, match="NaN"):
        ExactShapley().fit(game)


def test_not_a_game_is_refused() -> None:
    with pytest.raises(EngineInputError, match="callable"):
        ExactShapley().fit(object())  # type: ignore[arg-type]


def test_unfitted_estimator_says_so() -> None:
    with pytest.raises(EngineInputError, match="not fitted"):
        _ = ExactShapley().efficiency_gap_


def test_twenty_players_within_memory_and_seconds() -> None:
    weights = np.linspace(-1.0, 1.0, 20)
    game = FunctionGame(20, lambda masks: masks @ weights + (masks[:, 0] & masks[:, 1]))
    start = time.perf_counter()
    values = ExactShapley().fit(game).values_
    elapsed = time.perf_counter() - start
    expected = weights.copy()
    expected[:2] += 0.5
    np.testing.assert_allclose(values, expected, atol=TOLERANCE)
    assert elapsed < 30.0
