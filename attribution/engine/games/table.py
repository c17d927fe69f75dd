"""Reading a user's table of evaluated coalitions and writing value tables, as CSV.

Input: a header row naming the players, then one column named ``utility``; each other row is a
coalition (1 = the player is in it, 0 = not) and its utility. Output: one row per player with its
value, standard error and confidence interval.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError

UTILITY_COLUMN = "utility"


@dataclass(frozen=True)
class CoalitionTable:
    """Evaluated coalitions: ``masks`` (m, n) bool, ``utilities`` (m,), and player names."""

    players: list[str]
    masks: NDArray[np.bool_]
    utilities: NDArray[np.float64]


def read_coalition_table(path: Path) -> CoalitionTable:
    """Parse a coalition CSV, naming the first bad row and column on any error."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            # Keep each row's line number in the file, so errors point at the right line.
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except FileNotFoundError as error:
        raise EngineInputError(f"no such table: {path}") from error
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise EngineInputError(f"cannot read {path} as a CSV file: {error}") from error
    if not rows:
        raise EngineInputError(f"{path} is empty; expected a header row and coalition rows.")
    header = [cell.strip() for cell in rows[0][1]]
    if UTILITY_COLUMN not in header:
        raise EngineInputError(
            f"{path}: the header needs a column named {UTILITY_COLUMN!r}; got {header}."
        )
    target = header.index(UTILITY_COLUMN)
    players = [name for k, name in enumerate(header) if k != target]
    if len(set(players)) != len(players) or any(not name for name in players):
        raise EngineInputError(f"{path}: player names in the header must be unique and non-empty.")
    masks = np.zeros((len(rows) - 1, len(players)), dtype=np.bool_)
    utilities = np.zeros(len(rows) - 1)
    for index, (line, row) in enumerate(rows[1:]):
        if len(row) != len(header):
            raise EngineInputError(
                f"{path}, line {line}: expected {len(header)} cells, found {len(row)}."
            )
        cells = [cell.strip() for k, cell in enumerate(row) if k != target]
        for column, cell in zip(players, cells, strict=True):
            if cell not in ("0", "1"):
                raise EngineInputError(
                    f"{path}, line {line}, column {column!r}: membership must be 0 or 1, "
                    f"got {cell!r}."
                )
        masks[index] = [cell == "1" for cell in cells]
        try:
            utilities[index] = float(row[target])
        except ValueError as error:
            raise EngineInputError(
                f"{path}, line {line}: utility {row[target]!r} is not a number."
            ) from error
        if not math.isfinite(utilities[index]):
            raise EngineInputError(f"{path}, line {line}: utility must be finite.")
    return CoalitionTable(players, masks, utilities)


def write_value_table(
    path: Path,
    players: list[str],
    values: NDArray[np.float64],
    stderr: NDArray[np.float64] | None,
    interval: NDArray[np.float64] | None,
) -> None:
    """Write ``player,value,stderr,ci_low,ci_high`` (empty cells where a method has none)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["player", "value", "stderr", "ci_low", "ci_high"])
        for k, player in enumerate(players):
            extra = ["", "", ""]
            if stderr is not None and interval is not None:
                extra = [
                    repr(float(stderr[k])),
                    repr(float(interval[k, 0])),
                    repr(float(interval[k, 1])),
                ]
            writer.writerow([player, repr(float(values[k])), *extra])
