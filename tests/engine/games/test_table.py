"""Reading coalition tables and writing value tables as CSV, with errors that point at the cell."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.games.table import read_coalition_table, write_value_table


def _write(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding, newline="")
    return path


# --- reading -----------------------------------------------------------------------------------


def test_reads_players_masks_and_utilities(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "a,b,c,utility\n0,0,0,0\n1,0,1,2.5\n1,1,1,-3e-1\n")
    table = read_coalition_table(path)
    assert table.players == ["a", "b", "c"]
    assert table.masks.dtype == np.bool_
    np.testing.assert_array_equal(
        table.masks, [[False, False, False], [True, False, True], [True, True, True]]
    )
    assert table.utilities.dtype == np.float64
    np.testing.assert_array_equal(table.utilities, [0.0, 2.5, -0.3])


def test_tolerates_bom_blank_lines_spaces_and_crlf(tmp_path: Path) -> None:
    text = "\ufeff alice , bob ,utility \r\n\r\n 0 , 1 , 1.5 \r\n\r\n,,\r\n1,1, 2\r\n\r\n"
    table = read_coalition_table(_write(tmp_path / "t.csv", text))
    assert table.players == ["alice", "bob"]
    np.testing.assert_array_equal(table.masks, [[False, True], [True, True]])
    np.testing.assert_array_equal(table.utilities, [1.5, 2.0])


def test_utility_column_may_be_anywhere(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "utility,x,y\n7,1,0\n-1,0,1\n")
    table = read_coalition_table(path)
    assert table.players == ["x", "y"]
    np.testing.assert_array_equal(table.masks, [[True, False], [False, True]])
    np.testing.assert_array_equal(table.utilities, [7.0, -1.0])


def test_round_trips_a_table_written_with_the_csv_module(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    masks = rng.random((40, 6)) < 0.5
    utilities = rng.normal(size=40)
    players = [f"player {i}" for i in range(6)]
    path = tmp_path / "t.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([*players, "utility"])
        for row, value in zip(masks, utilities, strict=True):
            writer.writerow([*row.astype(int).tolist(), repr(float(value))])
    table = read_coalition_table(path)
    assert table.players == players
    np.testing.assert_array_equal(table.masks, masks)
    np.testing.assert_array_equal(table.utilities, utilities)  # repr round-trips exactly


def test_a_header_only_table_has_no_coalitions(tmp_path: Path) -> None:
    table = read_coalition_table(_write(tmp_path / "t.csv", "a,b,utility\n"))
    assert table.masks.shape == (0, 2)
    assert table.utilities.shape == (0,)


# --- reading errors ----------------------------------------------------------------------------


def test_missing_utility_column_is_reported_with_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "a,b,value\n0,1,2\n")
    with pytest.raises(EngineInputError, match=r"column named 'utility'.*\['a', 'b', 'value'\]"):
        read_coalition_table(path)


@pytest.mark.parametrize("cell", ["2", "yes", "1.0", "", "-1"])
def test_a_membership_cell_other_than_zero_or_one_names_line_and_column(
    tmp_path: Path, cell: str
) -> None:
    path = _write(tmp_path / "t.csv", f"a,b,utility\n0,0,0\n1,{cell},1\n")
    with pytest.raises(EngineInputError, match=f"line 3, column 'b'.*0 or 1, got '{cell}'"):
        read_coalition_table(path)


def test_a_non_number_utility_names_line_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "a,b,utility\n0,0,0\n1,1,abc\n")
    with pytest.raises(EngineInputError, match="line 3: utility 'abc' is not a number"):
        read_coalition_table(path)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_a_non_finite_utility_names_the_line(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path / "t.csv", f"a,b,utility\n0,0,0\n0,1,{value}\n")
    with pytest.raises(EngineInputError, match="line 3: utility must be finite"):
        read_coalition_table(path)


@pytest.mark.parametrize("row", ["1,1", "1,1,1,1"])
def test_a_ragged_row_names_the_line_and_both_cell_counts(tmp_path: Path, row: str) -> None:
    path = _write(tmp_path / "t.csv", f"a,b,utility\n0,0,0\n{row}\n")
    found = len(row.split(","))
    with pytest.raises(EngineInputError, match=f"line 3: expected 3 cells, found {found}"):
        read_coalition_table(path)


@pytest.mark.parametrize("header", ["a,a,utility", "a, a ,utility", "a,,utility"])
def test_duplicate_or_empty_player_names_are_rejected(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path / "t.csv", f"{header}\n0,0,0\n")
    with pytest.raises(EngineInputError, match="unique and non-empty"):
        read_coalition_table(path)


@pytest.mark.parametrize("text", ["", "\n\n", " , \n"])
def test_an_empty_file_is_rejected(tmp_path: Path, text: str) -> None:
    with pytest.raises(EngineInputError, match="is empty; expected a header row"):
        read_coalition_table(_write(tmp_path / "t.csv", text))


def test_a_missing_file_is_reported_by_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(EngineInputError, match=r"no such table: .*nowhere\.csv"):
        read_coalition_table(path)


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "caf\u00e9,b,utility\n0,0,0\n", encoding="latin-1")
    with pytest.raises(EngineInputError, match=r"cannot read .* as a CSV file"):
        read_coalition_table(path)


def test_a_directory_is_reported_as_unreadable(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="cannot read"):
        read_coalition_table(tmp_path)


def test_error_messages_name_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "my-table.csv", "a,b,utility\n0,2,0\n")
    with pytest.raises(EngineInputError, match=r"my-table\.csv, line 2"):
        read_coalition_table(path)


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "a,b,utility\n\n0,0,0\n\n1,2,1\n")
    with pytest.raises(EngineInputError, match="line 5, column 'b'"):
        read_coalition_table(path)


# --- writing -----------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_writes_header_and_one_row_per_player_with_exact_values(tmp_path: Path) -> None:
    path = tmp_path / "values.csv"
    values = np.array([0.1, -2.0 / 3.0, 1e-17])
    stderr = np.array([0.01, 0.02, 0.0])
    interval = np.column_stack([values - 1.0, values + 1.0])
    write_value_table(path, ["a", "b", "c"], values, stderr, interval)
    rows = _read_rows(path)
    assert rows[0] == ["player", "value", "stderr", "ci_low", "ci_high"]
    assert [row[0] for row in rows[1:]] == ["a", "b", "c"]
    written = np.array([[float(cell) for cell in row[1:]] for row in rows[1:]])
    np.testing.assert_array_equal(written[:, 0], values)
    np.testing.assert_array_equal(written[:, 1], stderr)
    np.testing.assert_array_equal(written[:, 2:], interval)


def test_writes_empty_uncertainty_cells_when_stderr_is_none(tmp_path: Path) -> None:
    path = tmp_path / "values.csv"
    write_value_table(path, ["a", "b"], np.array([1.5, -0.5]), None, None)
    assert _read_rows(path) == [
        ["player", "value", "stderr", "ci_low", "ci_high"],
        ["a", "1.5", "", "", ""],
        ["b", "-0.5", "", "", ""],
    ]


def test_writes_player_names_that_need_quoting(tmp_path: Path) -> None:
    path = tmp_path / "values.csv"
    names = ["comma, name", 'quote "q"', "ünïcode"]
    write_value_table(path, names, np.zeros(3), None, None)
    assert [row[0] for row in _read_rows(path)[1:]] == names
