"""Game protocol helpers: input validation, the memoising counter, table and function games."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.games.base import (
    EvaluationCounter,
    FunctionGame,
    Game,
    TableGame,
    check_masks,
    check_n_players,
    check_utilities,
)


class CountingGame:
    """An additive game v(S) = Σ_{i∈S} (i + 1) that records every batch it is asked for."""

    def __init__(self, n_players: int) -> None:
        self.n_players = n_players
        self.batches: list[NDArray[np.bool_]] = []

    def __call__(self, masks: NDArray[np.bool_]) -> NDArray[np.float64]:
        self.batches.append(masks.copy())
        return masks.astype(np.float64) @ np.arange(1.0, self.n_players + 1.0)

    @property
    def rows_evaluated(self) -> int:
        return sum(len(batch) for batch in self.batches)


def _masks(rows: list[list[int]]) -> NDArray[np.bool_]:
    return np.array(rows, dtype=bool)


# --- check_masks -------------------------------------------------------------------------------


def test_check_masks_returns_boolean_masks_unchanged() -> None:
    masks = _masks([[1, 0, 1], [0, 0, 0]])
    checked = check_masks(masks, 3)
    assert checked.dtype == np.bool_
    np.testing.assert_array_equal(checked, masks)


def test_check_masks_converts_zero_one_integers_to_bool() -> None:
    checked = check_masks(np.array([[1, 0, 1], [0, 1, 0]], dtype=np.int64), 3)
    assert checked.dtype == np.bool_
    np.testing.assert_array_equal(checked, [[True, False, True], [False, True, False]])


def test_check_masks_accepts_nested_lists_of_zero_one() -> None:
    checked = check_masks([[0, 1], [1, 1]])
    assert checked.dtype == np.bool_
    assert checked.shape == (2, 2)


def test_check_masks_returns_c_contiguous_array_for_a_transposed_view() -> None:
    view = np.array([[True, False, True], [False, False, True]]).T  # Fortran-ordered view
    assert not view.flags.c_contiguous
    checked = check_masks(view)
    assert checked.flags.c_contiguous
    np.testing.assert_array_equal(checked, view)


def test_check_masks_without_n_players_accepts_any_column_count() -> None:
    assert check_masks(np.zeros((4, 7), dtype=bool)).shape == (4, 7)


def test_check_masks_accepts_zero_rows() -> None:
    assert check_masks(np.zeros((0, 3), dtype=np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_masks_rejects_float_masks_naming_the_dtype(dtype: type) -> None:
    with pytest.raises(EngineInputError, match=r"boolean.*dtype float"):
        check_masks(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype))


def test_check_masks_rejects_a_vector_naming_its_dimensions() -> None:
    with pytest.raises(EngineInputError, match=r"2-D.*1 dimension"):
        check_masks(np.array([True, False, True]))


def test_check_masks_rejects_a_three_dimensional_array() -> None:
    with pytest.raises(EngineInputError, match=r"2-D.*3 dimension.*\(2, 2, 2\)"):
        check_masks(np.zeros((2, 2, 2), dtype=bool))


def test_check_masks_rejects_wrong_column_count_naming_both_counts() -> None:
    with pytest.raises(EngineInputError, match="3 columns but the game has 4 players"):
        check_masks(np.zeros((2, 3), dtype=bool), 4)


@pytest.mark.parametrize("bad", [2, -1])
def test_check_masks_rejects_integers_other_than_zero_and_one(bad: int) -> None:
    with pytest.raises(EngineInputError, match="only hold 0 and 1"):
        check_masks(np.array([[0, 1], [bad, 0]]))


# --- check_utilities ---------------------------------------------------------------------------


def test_check_utilities_returns_float64_vector() -> None:
    utilities = check_utilities([1, 2, 3], 3)
    assert utilities.dtype == np.float64
    np.testing.assert_array_equal(utilities, [1.0, 2.0, 3.0])


def test_check_utilities_accepts_a_column_vector() -> None:
    utilities = check_utilities(np.array([[0.5], [1.5]]), 2)
    assert utilities.shape == (2,)
    np.testing.assert_array_equal(utilities, [0.5, 1.5])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_utilities_rejects_non_finite_values_naming_the_first_row(bad: float) -> None:
    with pytest.raises(EngineInputError, match=r"NaN or infinite \(first at row 2\)"):
        check_utilities([0.0, 1.0, bad, bad], 4)


def test_check_utilities_counts_every_non_finite_value() -> None:
    with pytest.raises(EngineInputError, match=r"^2 utilities"):
        check_utilities([np.nan, 1.0, np.inf], 3)


@pytest.mark.parametrize("utilities", [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0], np.ones((3, 2))])
def test_check_utilities_rejects_wrong_length_naming_expected_count(utilities: object) -> None:
    with pytest.raises(EngineInputError, match="expected 3 utilities"):
        check_utilities(utilities, 3)


def test_check_utilities_rejects_non_numbers() -> None:
    with pytest.raises(EngineInputError, match="must be numbers"):
        check_utilities(["a", "b"], 2)


# --- check_n_players ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_players", [2, 5, np.int64(3)])
def test_check_n_players_returns_a_python_int(n_players: object) -> None:
    checked = check_n_players(n_players)
    assert type(checked) is int
    assert checked == n_players


@pytest.mark.parametrize("n_players", [0, 1, -3])
def test_check_n_players_rejects_fewer_than_two_players(n_players: int) -> None:
    with pytest.raises(EngineInputError, match="at least 2"):
        check_n_players(n_players)


def test_check_n_players_accepts_one_player_when_minimum_is_one() -> None:
    assert check_n_players(1, minimum=1) == 1


@pytest.mark.parametrize("n_players", [True, 3.0, "3", None])
def test_check_n_players_rejects_non_integers_naming_the_type(n_players: object) -> None:
    with pytest.raises(EngineInputError, match=f"integer, got {type(n_players).__name__}"):
        check_n_players(n_players)


# --- EvaluationCounter -------------------------------------------------------------------------


def test_counter_returns_the_games_utilities_in_row_order() -> None:
    game = CountingGame(3)
    masks = _masks([[1, 1, 0], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(EvaluationCounter(game)(masks), [3.0, 3.0, 3.0, 0.0])


def test_counter_evaluates_each_distinct_coalition_once_within_a_call() -> None:
    game = CountingGame(3)
    counter = EvaluationCounter(game)
    counter(_masks([[1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]]))
    assert game.rows_evaluated == 2
    assert counter.n_evaluations == 2


def test_counter_never_re_evaluates_a_coalition_across_calls() -> None:
    game = CountingGame(3)
    counter = EvaluationCounter(game)
    counter(_masks([[1, 0, 0], [0, 1, 0]]))
    values = counter(_masks([[0, 1, 0], [0, 0, 1], [1, 0, 0]]))
    np.testing.assert_array_equal(values, [2.0, 3.0, 1.0])
    assert game.rows_evaluated == 3
    np.testing.assert_array_equal(game.batches[1], [[False, False, True]])
    assert counter.n_evaluations == 3


def test_counter_does_not_call_the_game_when_everything_is_cached() -> None:
    game = CountingGame(2)
    counter = EvaluationCounter(game)
    counter(_masks([[1, 0], [0, 1]]))
    counter(_masks([[0, 1], [1, 0], [0, 1]]))
    assert len(game.batches) == 1


def test_counter_accepts_zero_one_integer_masks_sharing_the_bool_cache() -> None:
    game = CountingGame(2)
    counter = EvaluationCounter(game)
    counter(_masks([[1, 0]]))
    np.testing.assert_array_equal(counter(np.array([[1, 0]])), [1.0])
    assert game.rows_evaluated == 1


def test_evaluate_distinct_adds_its_rows_to_the_count() -> None:
    game = CountingGame(3)
    counter = EvaluationCounter(game)
    counter(_masks([[1, 0, 0]]))
    values = counter.evaluate_distinct(_masks([[0, 1, 0], [0, 0, 1], [1, 1, 1]]))
    np.testing.assert_array_equal(values, [2.0, 3.0, 6.0])
    assert counter.n_evaluations == 4


def test_counter_rejects_a_game_returning_the_wrong_number_of_utilities() -> None:
    counter = EvaluationCounter(FunctionGame(2, lambda masks: np.zeros(len(masks) + 1)))
    with pytest.raises(EngineInputError, match="expected 2 utilities"):
        counter(_masks([[1, 0], [0, 1]]))


def test_evaluate_distinct_rejects_a_game_returning_nan() -> None:
    counter = EvaluationCounter(FunctionGame(2, lambda masks: np.full(len(masks), np.nan)))
    with pytest.raises(EngineInputError, match="NaN"):
        counter.evaluate_distinct(_masks([[1, 0]]))


def test_counter_rejects_a_game_returning_nan_naming_the_row() -> None:
    def game(masks: NDArray[np.bool_]) -> NDArray[np.float64]:
        return np.where(masks.all(axis=1), np.nan, 1.0)

    counter = EvaluationCounter(FunctionGame(2, game))
    with pytest.raises(EngineInputError, match="row 1"):
        counter(_masks([[1, 0], [1, 1]]))


def test_counter_rejects_masks_with_the_wrong_player_count() -> None:
    counter = EvaluationCounter(CountingGame(3))
    with pytest.raises(EngineInputError, match="2 columns but the game has 3 players"):
        counter(np.zeros((1, 2), dtype=bool))


def test_counter_rejects_an_object_that_is_not_a_game() -> None:
    with pytest.raises(EngineInputError, match="n_players"):
        EvaluationCounter(lambda masks: masks.sum(axis=1))  # type: ignore[arg-type]


# --- TableGame ---------------------------------------------------------------------------------

TABLE_MASKS = _masks([[0, 0, 0], [1, 0, 0], [0, 1, 1], [1, 1, 1]])
TABLE_UTILITIES = np.array([0.0, 1.5, -2.0, 4.0])


def test_table_game_looks_up_rows_in_any_order() -> None:
    game = TableGame(TABLE_MASKS, TABLE_UTILITIES)
    order = [3, 0, 2, 1, 2]
    np.testing.assert_array_equal(game(TABLE_MASKS[order]), TABLE_UTILITIES[order])
    assert game.n_players == 3


def test_table_game_accepts_zero_one_integer_masks() -> None:
    game = TableGame(TABLE_MASKS.astype(np.int64), TABLE_UTILITIES)
    np.testing.assert_array_equal(game(np.array([[0, 1, 1]])), [-2.0])


def test_table_game_is_a_game() -> None:
    assert isinstance(TableGame(TABLE_MASKS, TABLE_UTILITIES), Game)


def test_table_game_names_the_players_of_a_missing_coalition() -> None:
    game = TableGame(TABLE_MASKS, TABLE_UTILITIES)
    with pytest.raises(EngineInputError, match=r"1 coalition\(s\).*players \[0, 2\]"):
        game(_masks([[1, 0, 0], [1, 0, 1]]))


def test_table_game_counts_every_missing_coalition() -> None:
    game = TableGame(TABLE_MASKS, TABLE_UTILITIES)
    with pytest.raises(EngineInputError, match=r"^2 coalition\(s\).*players \[1\]"):
        game(_masks([[0, 1, 0], [0, 0, 1], [0, 0, 0]]))


def test_table_game_rejects_conflicting_duplicate_rows() -> None:
    masks = _masks([[0, 0], [1, 1], [1, 1]])
    with pytest.raises(EngineInputError, match="twice with different utilities"):
        TableGame(masks, [0.0, 1.0, 1.1])


def test_table_game_accepts_identical_duplicate_rows() -> None:
    game = TableGame(_masks([[0, 0], [1, 1], [1, 1]]), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(game(_masks([[1, 1]])), [1.0])


def test_table_game_rejects_nan_utilities() -> None:
    with pytest.raises(EngineInputError, match="row 1"):
        TableGame(_masks([[0, 0], [1, 1]]), [0.0, np.nan])


def test_table_game_rejects_a_single_player_table() -> None:
    with pytest.raises(EngineInputError, match="at least 2"):
        TableGame(_masks([[0], [1]]), [0.0, 1.0])


# --- FunctionGame ------------------------------------------------------------------------------


def test_function_game_returns_float64_utilities_of_the_function() -> None:
    game = FunctionGame(3, lambda masks: masks.sum(axis=1))
    utilities = game(_masks([[1, 1, 0], [0, 0, 0]]))
    assert utilities.dtype == np.float64
    np.testing.assert_array_equal(utilities, [2.0, 0.0])
    assert game.n_players == 3
    assert isinstance(game, Game)


def test_function_game_works_through_the_counter() -> None:
    counter = EvaluationCounter(
        FunctionGame(2, lambda masks: (masks @ np.array([2.0, 1.0])).astype(np.float64))
    )
    np.testing.assert_array_equal(counter(_masks([[1, 1], [0, 1]])), [3.0, 1.0])


@pytest.mark.parametrize("n_players", [0, True, 2.0])
def test_function_game_rejects_a_bad_player_count(n_players: object) -> None:
    with pytest.raises(EngineInputError, match="n_players"):
        FunctionGame(n_players, lambda masks: masks.sum(axis=1))  # type: ignore[arg-type]
