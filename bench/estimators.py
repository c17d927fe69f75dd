"""Shapley estimators on the SurrogateSHAP paper's synthetic games, measured side by side.

Reproduces the paper's synthetic experiment: n players with w ~ N(0, I) (a fresh w per trial,
``seed = trial``) plus one null player, the linear, nonlinear and interaction games, and a range of
evaluation budgets. Every estimator sees the same games in the same run, so the table compares them
on one machine under one thread setting. Small games are scored against ExactShapley; large games
against a PermutationShapley run with a very large budget (timed, and checked against the analytic
Shapley values w of the linear game).

    PYTHONPATH=. .venv/bin/python bench/estimators.py                 # full run (a few minutes)
    PYTHONPATH=. .venv/bin/python bench/estimators.py --quick         # smoke run (seconds)
    PYTHONPATH=. .venv/bin/python bench/estimators.py --out table.csv # also write every row as CSV
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread: must be set before numpy loads its BLAS (threadpoolctl enforces it too).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import csv
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from attribution.engine import (
    BudgetTooSmallError,
    ExactShapley,
    Game,
    KernelShapley,
    LeaveOneOut,
    LinearGame,
    PermutationShapley,
    ShapleyEstimator,
    SurrogateShapley,
    make_paper_games,
)
from bench.machine import print_machine

Values = NDArray[np.float64]
Factory = Callable[[int, int], ShapleyEstimator]  # (budget, seed) -> unfitted estimator

N_NULL = 1
TOP_K = 3
CV_BUDGET = 128
CV_FOLDS = 5
# The large-n reference draws its permutations from a seed stream no estimator uses, so the
# PermutationShapley row is not scored against a superset of its own permutations.
REFERENCE_SEED_OFFSET = 1_000_000

# Budget-dependent estimators. The default surrogate picks its tree depth by 5-fold CV (part of the
# estimate, so it is timed); "d=3" is a fixed-depth surrogate with no CV at all. KernelShapley skips
# its bootstrap, so wall time measures the estimate alone.
ESTIMATORS: dict[str, Factory] = {
    "Permutation": lambda budget, seed: PermutationShapley(budget=budget, seed=seed),
    "Kernel": lambda budget, seed: KernelShapley(budget=budget, seed=seed, n_bootstrap=0),
    "Surrogate": lambda budget, seed: SurrogateShapley(budget=budget, seed=seed, cv_folds=0),
    "Surrogate+BC": lambda budget, seed: SurrogateShapley(
        budget=budget, seed=seed, cv_folds=0, bias_correction=True
    ),
    "Surrogate d=3": lambda budget, seed: SurrogateShapley(
        budget=budget, seed=seed, depth=3, cv_folds=0
    ),
}
LOO = "LeaveOneOut"
CV_LABEL = f"Surrogate cv={CV_FOLDS}"
METRICS = ("rel_err", "null_abs", "eff_gap", "spearman", "recall", "evals", "ms", "cv_r2")


@dataclass(frozen=True)
class Setting:
    """One block of the benchmark: a game size and how its reference values are obtained."""

    n_players: int  # players with random weights; N_NULL null players are appended
    games: tuple[str, ...]
    budgets: tuple[int, ...]
    trials: int
    reference_budget: int | None  # None: ExactShapley; else PermutationShapley with this budget
    cv_run: bool = False


@dataclass
class Cell:
    """Per-trial measurements of one (game, budget, estimator); none if the budget is too small."""

    rows: list[dict[str, float]] = field(default_factory=list)
    too_small: bool = False

    def mean(self, metric: str) -> float:
        values = [row[metric] for row in self.rows if metric in row]
        return float(np.nanmean(values)) if values else float("nan")

    def sem(self, metric: str) -> float:
        values = np.array([row[metric] for row in self.rows if metric in row])
        if len(values) < 2:
            return float("nan")
        return float(values.std(ddof=1) / np.sqrt(len(values)))


@dataclass
class Reference:
    """Timing and accuracy of the large-n reference runs of one game, one entry per trial."""

    seconds: list[float] = field(default_factory=list)
    evaluations: list[int] = field(default_factory=list)
    rel_stderr: list[float] = field(default_factory=list)  # ||stderr|| / ||φ_ref||
    error_vs_w: list[float] = field(default_factory=list)  # linear game: ||φ_ref − w|| / ||w||


def score(estimate: Values, reference: Values, n_players: int) -> dict[str, float]:
    """Accuracy of one estimate against the reference values (both shape (n_players + N_NULL,))."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant estimate has no rank correlation: NaN
        rho = float(spearmanr(estimate, reference).statistic)
    top_estimate = set(np.argsort(-estimate, kind="stable")[:TOP_K].tolist())
    top_reference = set(np.argsort(-reference, kind="stable")[:TOP_K].tolist())
    return {
        "rel_err": float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference)),
        "null_abs": float(np.abs(estimate[n_players:]).mean()),
        "spearman": rho,
        "recall": len(top_estimate & top_reference) / TOP_K,
    }


def measure(
    estimator: ShapleyEstimator, game: Game, reference: Values, n_players: int
) -> dict[str, float]:
    """Fit ``estimator`` on ``game`` and return its scores, evaluations and wall time (ms)."""
    start = time.perf_counter()
    estimator.fit(game)
    elapsed = time.perf_counter() - start
    row = score(estimator.values_, reference, n_players)
    row["eff_gap"] = abs(estimator.efficiency_gap_)
    row["evals"] = float(estimator.n_evaluations_)
    row["ms"] = 1000.0 * elapsed
    cv_r2 = getattr(estimator, "cv_r2_", None)
    if cv_r2 is not None:
        row["cv_r2"] = float(cv_r2)
    return row


def reference_values(game: Game, setting: Setting, trial: int, log: Reference) -> Values:
    """Exact values (small games) or a long, timed PermutationShapley run (large games)."""
    if setting.reference_budget is None:
        return ExactShapley().fit(game).values_
    start = time.perf_counter()
    fitted = PermutationShapley(
        budget=setting.reference_budget, seed=REFERENCE_SEED_OFFSET + trial
    ).fit(game)
    log.seconds.append(time.perf_counter() - start)
    log.evaluations.append(fitted.n_evaluations_)
    assert fitted.stderr_ is not None  # PermutationShapley always reports standard errors
    log.rel_stderr.append(float(np.linalg.norm(fitted.stderr_) / np.linalg.norm(fitted.values_)))
    if isinstance(game, LinearGame):
        w = game.shapley_values()
        log.error_vs_w.append(float(np.linalg.norm(fitted.values_ - w) / np.linalg.norm(w)))
    return fitted.values_


def run_setting(
    setting: Setting,
) -> tuple[dict[tuple[str, str, str], Cell], dict[str, Reference]]:
    """All trials of one setting: cells keyed by (game, budget label, estimator)."""
    cells: dict[tuple[str, str, str], Cell] = {}
    references = {name: Reference() for name in setting.games}
    for trial in range(setting.trials):
        games = make_paper_games(setting.n_players, N_NULL, seed=trial)
        for name in setting.games:
            game = games[name]
            reference = reference_values(game, setting, trial, references[name])
            cell = cells.setdefault((name, "-", LOO), Cell())
            cell.rows.append(measure(LeaveOneOut(), game, reference, setting.n_players))
            for budget in setting.budgets:
                for label, factory in ESTIMATORS.items():
                    cell = cells.setdefault((name, str(budget), label), Cell())
                    try:
                        row = measure(factory(budget, trial), game, reference, setting.n_players)
                    except BudgetTooSmallError:
                        cell.too_small = True
                        continue
                    cell.rows.append(row)
            if setting.cv_run:
                # One extra fit per game and trial, with CV on, for the surrogate's R².
                estimator = SurrogateShapley(budget=CV_BUDGET, seed=trial, cv_folds=CV_FOLDS)
                cell = cells.setdefault((name, str(CV_BUDGET), CV_LABEL), Cell())
                cell.rows.append(measure(estimator, game, reference, setting.n_players))
    return cells, references


def format_number(value: float, width: int, digits: int) -> str:
    return f"{'nan':>{width}}" if np.isnan(value) else f"{value:>{width}.{digits}f}"


HEADER = (
    f"{'budget':>6}  {'estimator':<16}{'rel.L2 err ± sem':>18}{'|φ_null|':>10}{'|eff.gap|':>11}"
    f"{'spearman':>10}{'recall@3':>10}{'evals':>8}{'ms/fit':>9}"
)


def format_row(budget: str, label: str, cell: Cell) -> str:
    start = f"{budget:>6}  {label:<16}"
    if cell.too_small or not cell.rows:
        return start + f"{'n/a (budget below the minimum)':>18}"
    return (
        start
        + format_number(cell.mean("rel_err"), 9, 4)
        + " ± "
        + format_number(cell.sem("rel_err"), 6, 4)
        + format_number(cell.mean("null_abs"), 10, 4)
        + f"{cell.mean('eff_gap'):>11.1e}"
        + format_number(cell.mean("spearman"), 10, 3)
        + format_number(cell.mean("recall"), 10, 3)
        + format_number(cell.mean("evals"), 8, 1)
        + format_number(cell.mean("ms"), 9, 1)
    )


def print_block(
    setting: Setting, name: str, cells: dict[tuple[str, str, str], Cell], reference: Reference
) -> None:
    """One fixed-width table: the game at one size, every budget and estimator."""
    size = f"{setting.n_players} players + {N_NULL} null"
    print(f"\n=== {name} game, {size}, {setting.trials} trials ===")
    if setting.reference_budget is None:
        total = setting.n_players + N_NULL
        print(f"reference: ExactShapley ({2**total} coalitions)")
    else:
        print_reference(setting, reference)
    print(HEADER)
    print("-" * len(HEADER))
    print(format_row("-", LOO, cells[(name, "-", LOO)]))
    for budget in setting.budgets:
        for label in ESTIMATORS:
            print(format_row(str(budget), label, cells[(name, str(budget), label)]))


def print_reference(setting: Setting, reference: Reference) -> None:
    print(
        f"reference: PermutationShapley(budget={setting.reference_budget:,}, antithetic), "
        f"{np.mean(reference.evaluations):,.0f} distinct evaluations, "
        f"{np.mean(reference.seconds):.2f} s per fit (mean of {len(reference.seconds)})"
    )
    print(
        "  its own relative standard error ||stderr||/||φ_ref||: "
        f"mean {np.mean(reference.rel_stderr):.2e}, max {np.max(reference.rel_stderr):.2e}"
    )
    if reference.error_vs_w:
        print(
            "  its error against the analytic values w, ||φ_ref − w||/||w||: "
            f"mean {np.mean(reference.error_vs_w):.2e}, max {np.max(reference.error_vs_w):.2e} "
            "(every marginal contribution of a linear game is w_i, so any permutation is exact "
            "here; the standard error above is the accuracy measure for the other games)"
        )


def print_cv(setting: Setting, cells: dict[tuple[str, str, str], Cell]) -> None:
    """Surrogate fidelity: mean cross-validated R² at one budget, per game."""
    print(
        f"\n=== surrogate fidelity: SurrogateShapley(budget={CV_BUDGET}, cv_folds={CV_FOLDS}), "
        f"{setting.n_players} players + {N_NULL} null, {setting.trials} trials ==="
    )
    print(f"{'game':<12}{'cv R² ± sem':>18}{'rel.L2 err':>12}{'ms/fit (with CV)':>18}")
    for name in setting.games:
        cell = cells[(name, str(CV_BUDGET), CV_LABEL)]
        print(
            f"{name:<12}"
            + format_number(cell.mean("cv_r2"), 9, 4)
            + " ± "
            + format_number(cell.sem("cv_r2"), 6, 4)
            + format_number(cell.mean("rel_err"), 12, 4)
            + format_number(cell.mean("ms"), 18, 1)
        )


def csv_rows(
    setting: Setting, cells: dict[tuple[str, str, str], Cell]
) -> Iterable[dict[str, object]]:
    reference = (
        "exact" if setting.reference_budget is None else f"permutation:{setting.reference_budget}"
    )
    for (name, budget, label), cell in cells.items():
        row: dict[str, object] = {
            "n_players": setting.n_players,
            "n_null": N_NULL,
            "game": name,
            "budget": budget,
            "estimator": label,
            "trials": len(cell.rows),
            "reference": reference,
            "status": "n/a" if cell.too_small else "ok",
        }
        for metric in METRICS:
            row[f"{metric}_mean"] = blank_nan(cell.mean(metric))
        row["rel_err_sem"] = blank_nan(cell.sem("rel_err"))
        yield row


def blank_nan(value: float) -> object:
    """CSV cell: empty where there is no measurement."""
    return "" if np.isnan(value) else value


def settings_for(args: argparse.Namespace) -> list[Setting]:
    trials = args.trials if args.trials is not None else (3 if args.quick else 30)
    small_budgets = (64, 256) if args.quick else (32, 64, 128, 256, 512)
    games = ("linear", "nonlinear", "interaction")
    settings = [Setting(10, games, small_budgets, trials, None, cv_run=True)]
    if not args.quick:
        large_trials = min(5, trials)
        large_games = ("interaction", "linear")
        settings.append(Setting(50, large_games, (256, 1024), large_trials, 200_000))
        settings.append(Setting(200, large_games, (512, 2048), large_trials, 400_000))
    return settings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 trials, budgets 64 and 256, no large games"
    )
    parser.add_argument(
        "--trials", type=int, help="trials for the 10-player games (large games use min(5, N))"
    )
    parser.add_argument("--out", help="also write every row of every table to this CSV file")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    print_machine(
        "Shapley estimators on the SurrogateSHAP synthetic games",
        ("numpy", "scipy", "catboost", "shap"),
        "CatBoost thread_count=1",
    )
    # Load CatBoost and shap (numba) once, untimed, so no row pays their import.
    SurrogateShapley(budget=16, cv_folds=0).fit(make_paper_games(6, 0, seed=0)["linear"])
    rows: list[dict[str, object]] = []
    for setting in settings_for(args):
        cells, references = run_setting(setting)
        for name in setting.games:
            print_block(setting, name, cells, references[name])
        if setting.cv_run:
            print_cv(setting, cells)
        rows.extend(csv_rows(setting, cells))
    if args.out:
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"\nwrote {len(rows)} rows to {args.out}")
    print(f"\ntotal wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main(sys.argv[1:])
