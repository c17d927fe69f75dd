"""The command line, through ``main(argv)``: the demo, valuing a CSV table, and clean failures."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine import EngineInputError
from attribution.engine.__main__ import main
from attribution.engine.games.known import UnanimityGame

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_METHODS = ("exact", "permutation", "kernel", "loo", "surrogate", "surrogate+bc")
PLAYERS = ["p0", "p1", "p2", "p3", "p4"]
# Efficient methods write values whose sum is v(N) − v(∅) up to float rounding.
EFFICIENCY_TOLERANCE = 1e-9
# On the full 32-coalition table the surrogate's trees fit the game almost exactly: the largest
# error observed is ~6e-5 (seeds 0..4, CatBoost defaults of SurrogateShapley), so 1e-2 is a wide
# margin that still catches a surrogate that is wrong by a meaningful fraction of a value (>= 0.25).
SURROGATE_TOLERANCE = 1e-2


@pytest.fixture(scope="module")
def game() -> UnanimityGame:
    return UnanimityGame(
        5, coalitions=[(0,), (1, 2), (2, 3, 4), (0, 4)], weights=[1.0, 2.0, 1.5, -0.5]
    )


def _all_masks(n_players: int) -> NDArray[np.bool_]:
    """Every coalition, row k holding the bits of k (player i = bit i): shape (2^n, n)."""
    codes = np.arange(2**n_players)
    return ((codes[:, None] >> np.arange(n_players)[None, :]) & 1).astype(bool)


def _write_table(path: Path, masks: NDArray[np.bool_], utilities: NDArray[np.float64]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*PLAYERS, "utility"])
        for row, value in zip(masks, utilities, strict=True):
            writer.writerow([*row.astype(int).tolist(), repr(float(value))])
    return path


@pytest.fixture(scope="module")
def full_table(game: UnanimityGame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every one of the 2^5 coalitions of ``game`` and its utility."""
    masks = _all_masks(game.n_players)
    return _write_table(tmp_path_factory.mktemp("tables") / "full.csv", masks, game(masks))


def _read_values(path: Path) -> tuple[list[str], NDArray[np.float64], list[list[str]]]:
    """Players, values and the remaining (stderr, ci_low, ci_high) cells of a value table."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["player", "value", "stderr", "ci_low", "ci_high"]
    players = [row[0] for row in rows[1:]]
    values = np.array([float(row[1]) for row in rows[1:]])
    return players, values, [row[2:] for row in rows[1:]]


def _player_rows(output: str) -> list[str]:
    """Lines of the demo's value table: they start with a player index."""
    return [line for line in output.splitlines() if line.split() and line.split()[0].isdigit()]


def _total(game: UnanimityGame) -> float:
    endpoints = game(np.array([[False] * 5, [True] * 5]))
    return float(endpoints[1] - endpoints[0])


# --- demo --------------------------------------------------------------------------------------


def test_demo_prints_a_row_per_player_and_every_method(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    output = capsys.readouterr().out
    assert "Game: unanimity (10 players), budget 256 evaluations." in output
    rows = _player_rows(output)
    assert [int(row.split()[0]) for row in rows] == list(range(10))
    assert all(len(row.split()) == 1 + len(DEMO_METHODS) for row in rows)
    header = next(line for line in output.splitlines() if line.startswith("player"))
    assert header.split()[1:] == list(DEMO_METHODS)
    for method in DEMO_METHODS[1:]:
        assert any(line.startswith(f"{method} ") for line in output.splitlines())


def test_demo_exact_column_is_the_known_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--budget", "64"]) == 0
    exact = [float(row.split()[1]) for row in _player_rows(capsys.readouterr().out)]
    known = UnanimityGame(
        10,
        coalitions=[(0,), (1, 2), (3, 4, 5), (0, 6), (7, 8, 9), (2, 5, 8)],
        weights=[1.0, 2.0, 1.5, -0.5, 0.8, 1.2],
    ).shapley_values()
    np.testing.assert_allclose(exact, known, rtol=0, atol=5e-5)  # printed with 4 decimals


def test_demo_on_the_interaction_game_with_a_small_budget(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--game", "interaction", "--budget", "128"]) == 0
    output = capsys.readouterr().out
    # make_paper_games(10, 1, seed): ten weighted players and one null player.
    assert "Game: interaction (11 players), budget 128 evaluations." in output
    assert len(_player_rows(output)) == 11


def test_demo_with_an_unknown_game_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--game", "chess"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: unknown demo game 'chess'")


def test_demo_with_a_budget_too_small_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--budget", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "budget of at least" in err
    assert "Traceback" not in err


# --- estimate ----------------------------------------------------------------------------------


def test_estimate_surrogate_values_a_full_table(
    game: UnanimityGame,
    full_table: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "values.csv"
    argv = ["estimate", "--table", str(full_table), "--method", "surrogate"]
    assert main([*argv, "--output", str(output), "--n-bootstrap", "3"]) == 0
    stdout = capsys.readouterr().out
    assert "5 players, 32 distinct coalitions used." in stdout
    assert f"Values written to {output}." in stdout
    players, values, uncertainty = _read_values(output)
    assert players == PLAYERS
    np.testing.assert_allclose(values, game.shapley_values(), rtol=0, atol=SURROGATE_TOLERANCE)
    assert abs(values.sum() - _total(game)) < EFFICIENCY_TOLERANCE
    # Three bootstrap refits give a standard error and an interval around each value.
    spread = np.array([[float(cell) for cell in cells] for cells in uncertainty])
    assert (spread[:, 0] >= 0).all()
    assert (spread[:, 1] <= values).all()
    assert (values <= spread[:, 2]).all()


def test_estimate_surrogate_without_bootstrap_leaves_uncertainty_empty(
    full_table: Path, tmp_path: Path
) -> None:
    output = tmp_path / "values.csv"
    argv = ["estimate", "--table", str(full_table), "--output", str(output)]
    assert main([*argv, "--n-bootstrap", "0"]) == 0
    _, _, uncertainty = _read_values(output)
    assert uncertainty == [["", "", ""]] * 5


def test_estimate_exact_reproduces_the_known_values(
    game: UnanimityGame, full_table: Path, tmp_path: Path
) -> None:
    output = tmp_path / "values.csv"
    argv = ["estimate", "--table", str(full_table), "--method", "exact"]
    assert main([*argv, "--output", str(output)]) == 0
    players, values, _ = _read_values(output)
    assert players == PLAYERS
    np.testing.assert_allclose(values, game.shapley_values(), rtol=0, atol=1e-9)


def test_estimate_leave_one_out_on_a_full_table(
    game: UnanimityGame, full_table: Path, tmp_path: Path
) -> None:
    output = tmp_path / "values.csv"
    argv = ["estimate", "--table", str(full_table), "--method", "loo"]
    assert main([*argv, "--output", str(output)]) == 0
    _, values, uncertainty = _read_values(output)
    without_each = ~np.eye(5, dtype=bool)
    expected = game(np.ones((1, 5), dtype=bool))[0] - game(without_each)
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12)
    assert uncertainty == [["", "", ""]] * 5


def test_estimate_permutation_on_a_table_lacking_coalitions_exits_2(
    game: UnanimityGame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ∅, N and the singletons only: every permutation needs prefixes of size 2..n-2.
    masks = np.vstack([np.zeros((1, 5), bool), np.eye(5, dtype=bool), np.ones((1, 5), bool)])
    table = _write_table(tmp_path / "partial.csv", masks, game(masks))
    output = tmp_path / "values.csv"
    argv = ["estimate", "--table", str(table), "--method", "permutation"]
    assert main([*argv, "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "not in the table" in err
    assert "Traceback" not in err
    assert not output.exists()


def test_estimate_with_a_missing_table_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.csv"
    argv = ["estimate", "--table", str(missing), "--output", str(tmp_path / "v.csv")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no such table: {missing}")
    assert "Traceback" not in err


def test_estimate_with_a_malformed_table_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "bad.csv"
    table.write_text("p0,p1,utility\n0,0,0\n1,2,1\n", encoding="utf-8")
    argv = ["estimate", "--table", str(table), "--output", str(tmp_path / "v.csv")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error: " in err
    assert "line 3, column 'p1'" in err
    assert "Traceback" not in err


def test_estimate_into_a_missing_directory_exits_2(
    full_table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "no" / "such" / "dir" / "values.csv"
    argv = ["estimate", "--table", str(full_table), "--method", "exact"]
    assert main([*argv, "--output", str(output)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_estimate_rejects_an_unknown_method_as_a_usage_error(
    full_table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["estimate", "--table", str(full_table), "--method", "magic"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err


# --- as a module -------------------------------------------------------------------------------


def test_python_dash_m_runs_the_demo() -> None:
    # About 2–3 s (interpreter start and the CatBoost import), so not marked slow.
    result = subprocess.run(
        [sys.executable, "-m", "attribution.engine", "demo", "--budget", "64"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "surrogate+bc" in result.stdout


def test_commands_run_on_one_thread_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attribution.engine.__main__ import limit_threads, thread_count

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert thread_count(None) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_count(None) == 3
    assert thread_count(2) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    assert thread_count(None) == 1
    with pytest.raises(EngineInputError, match="--threads"):
        thread_count(0)
    for name in ("MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(name, "4")  # monkeypatch restores all three afterwards

    limit_threads(1)

    assert [os.environ[name] for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")] == ["1", "1"]


def test_a_thread_count_below_one_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--threads", "0", "demo"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err
