"""Our estimators against shapiq's on the same games and budgets, measured side by side in one run.

shapiq ≥ 1.5 needs Python 3.12 while the project runs 3.11, so this script builds a throwaway
virtual environment with a Python 3.12 interpreter (``--python``, else ``python3.12`` on PATH, else
a pyenv 3.12) and installs shapiq and xgboost into it from PyPI on first use (``--venv``, default
``var/money/shapiq-venv``). shapiq runs there in ``bench/shapiq_worker.py``; every coalition it
asks for is evaluated here by the same game object our estimators use, so both sides see the same
utilities and their budgets count the same evaluations.

Games: the airport game (60 players, costs ~ U(0, 1) sorted, seed 0; exact values in closed form)
at 8,000 and 30,000 evaluations, the public reference; with ``--digits`` also the digits proxy
games (20 contributors, 64 samples per contributor from ``bench/digits_banks.py``, exact values by
enumeration) at 512 and 2,048; seed s values the game of bank chunk s, so the seeds' spread holds
the banks' variety as well as the estimators' own randomness (``--airport no`` skips the airport
game). Scores: relative L2 error against the exact values and the worst
contributor's share error in pp of the pool, mean over seeds; wall time per fit.

    PYTHONPATH=. .venv/bin/python bench/shapiq_compare.py                # airport, 3 seeds
    PYTHONPATH=. .venv/bin/python bench/shapiq_compare.py --digits       # + digits proxy games
    PYTHONPATH=. .venv/bin/python bench/shapiq_compare.py --quick        # 1 seed, 8,000 only
    PYTHONPATH=. .venv/bin/python bench/shapiq_compare.py --digits --airport no   # digits only
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import glob
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from attribution.engine import AirportGame, Game
from attribution.engine.estimators import (
    CrossFitSurrogateShapley,
    ExactShapley,
    KernelShapley,
    PermutationShapley,
    ShapleyEstimator,
    SurrogateShapley,
)
from attribution.engine.games.base import check_masks
from bench.machine import print_machine

Values = NDArray[np.float64]
WORKER = Path(__file__).with_name("shapiq_worker.py")
SHAPIQ = ("KernelSHAP", "LeverageSHAP", "RegressionMSR", "ProxySHAP", "PermutationSamplingSV")
OURS: dict[str, Callable[[int, int], ShapleyEstimator]] = {
    "ours: cross-fit surrogate": lambda budget, seed: CrossFitSurrogateShapley(
        budget=budget, seed=seed, n_bootstrap=0
    ),
    "ours: cross-fit, depths 3/5/7": lambda budget, seed: CrossFitSurrogateShapley(
        budget=budget, seed=seed, n_bootstrap=0, depth_candidates=(3, 5, 7)
    ),
    "ours: surrogate uniform": lambda budget, seed: SurrogateShapley(budget=budget, seed=seed),
    "ours: kernel (paired)": lambda budget, seed: KernelShapley(
        budget=budget, seed=seed, n_bootstrap=0
    ),
    "ours: permutation": lambda budget, seed: PermutationShapley(budget=budget, seed=seed),
}


@dataclass
class Cell:
    errors: list[float] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    evaluations: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def find_python312(explicit: str | None) -> str:
    candidates = [explicit] if explicit else []
    candidates += [shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            version = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
        if version == "True":
            return candidate
    raise SystemExit("no Python 3.12 found: pass --python /path/to/python3.12")


def ensure_venv(venv: Path, python: str | None) -> Path:
    """The venv's interpreter, creating the venv and installing shapiq into it if needed."""
    interpreter = venv / "bin" / "python"
    if not interpreter.exists():
        base = find_python312(python)
        print(f"creating {venv} with {base} and installing shapiq from PyPI ...", flush=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run(
        [str(interpreter), "-c", "import shapiq, xgboost; print(shapiq.__version__)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        subprocess.run(
            [str(interpreter), "-m", "pip", "install", "-q", "shapiq>=1.5", "xgboost"], check=True
        )
    return interpreter


class ShapiqWorker:
    """The shapiq process; evaluates the coalitions it asks for on our game."""

    def __init__(self, interpreter: Path) -> None:
        self.process = subprocess.Popen(
            [str(interpreter), str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def version(self, interpreter: Path) -> str:
        return subprocess.run(
            [str(interpreter), "-c", "import shapiq, sys; print(shapiq.__version__, sys.version)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[0]

    def run(self, name: str, game: Game, budget: int, seed: int) -> tuple[dict[str, Any], int]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        job = {"approximator": name, "n_players": game.n_players, "budget": budget, "seed": seed}
        self.process.stdin.write((json.dumps(job) + "\n").encode())
        self.process.stdin.flush()
        seen: set[bytes] = set()
        while True:
            line = self.process.stdout.readline().decode()
            if line.startswith("DONE "):
                return json.loads(line[5:]), len(seen)
            if not line.startswith("EVAL "):
                raise RuntimeError(f"unexpected line from the shapiq worker: {line!r}")
            rows = int(line.split()[1])
            raw = self.process.stdout.read(rows * game.n_players)
            masks = np.frombuffer(raw, dtype=np.uint8).reshape(rows, game.n_players).astype(bool)
            seen.update(np.packbits(masks, axis=1)[i].tobytes() for i in range(rows))
            utilities = np.asarray(game(check_masks(masks, game.n_players)), dtype=np.float64)
            self.process.stdin.write(utilities.tobytes())
            self.process.stdin.flush()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def airport_game(n_players: int = 60) -> tuple[Game, Values]:
    costs = np.sort(np.random.default_rng(0).uniform(0.0, 1.0, n_players))
    game = AirportGame(costs)
    return game, game.shapley_values()


def digits_games(n_chunks: int) -> dict[str, list[tuple[Game, Values]]]:
    """Each digits proxy game on bank chunks 0 .. n_chunks − 1, with its exact values."""
    from attribution.engine.games.proxy import ProxyGame
    from bench.digits_banks import DEFAULT_OUT
    from bench.money_grade import bank_samples, digits_setup

    sizes, metrics, empty = digits_setup()
    statistics = [bank_samples(DEFAULT_OUT, [chunk]).statistics() for chunk in range(n_chunks)]
    games: dict[str, list[tuple[Game, Values]]] = {}
    for name in ("inception_score", "neg_fid", "label_fidelity"):
        for chunk in statistics:
            game = ProxyGame(chunk, sizes, metrics[name], empty[name])
            games.setdefault(f"digits {name}", []).append((game, ExactShapley().fit(game).values_))
    return games


def score(values: Values, truth: Values, total: float) -> tuple[float, float]:
    relative = float(np.linalg.norm(values - truth) / np.linalg.norm(truth))
    return relative, 100.0 * float(np.abs(values - truth).max()) / abs(total)


def compare(
    title: str,
    games: list[tuple[Game, Values]],
    budgets: list[int],
    seeds: int,
    worker: ShapiqWorker,
) -> None:
    """Every method at every budget; seed s values ``games[s % len(games)]``."""
    cells: dict[tuple[str, int], Cell] = {}
    for budget in budgets:
        for seed in range(seeds):
            game, truth = games[seed % len(games)]
            total = float(truth.sum())
            for name in SHAPIQ:
                cell = cells.setdefault((f"shapiq: {name}", budget), Cell())
                start = time.perf_counter()
                reply, evaluations = worker.run(name, game, budget, seed)
                if "error" in reply:
                    cell.failures.append(reply["error"])
                    continue
                relative, share = score(np.array(reply["values"]), truth, total)
                cell.errors.append(relative)
                cell.shares.append(share)
                cell.seconds.append(time.perf_counter() - start)
                cell.evaluations.append(evaluations)
            for label, factory in OURS.items():
                cell = cells.setdefault((label, budget), Cell())
                start = time.perf_counter()
                fitted = factory(budget, seed).fit(game)
                cell.seconds.append(time.perf_counter() - start)
                relative, share = score(fitted.values_, truth, total)
                cell.errors.append(relative)
                cell.shares.append(share)
                cell.evaluations.append(fitted.n_evaluations_)
    variety = f", {len(games)} games" if len(games) > 1 else ""
    print(f"\n=== {title}: {games[0][0].n_players} players, {seeds} seed(s){variety} ===")
    header = f"{'method':<32}{'budget':>8}{'rel L2 ± sem':>18}{'worst pp':>10}{'evals':>8}{'s':>8}"
    print(header)
    print("-" * len(header))
    for budget in budgets:
        best_theirs = min(
            (
                np.mean(c.errors)
                for (m, b), c in cells.items()
                if b == budget and m[:6] == "shapiq" and c.errors
            ),
            default=float("nan"),
        )
        for (method, b), cell in cells.items():
            if b != budget:
                continue
            if not cell.errors:
                print(f"{method:<32}{budget:>8}  failed: {cell.failures[0][:60]}")
                continue
            sem = np.std(cell.errors, ddof=1) / np.sqrt(len(cell.errors)) if seeds > 1 else 0.0
            print(
                f"{method:<32}{budget:>8}{np.mean(cell.errors):>11.4f} ± {sem:.4f}"
                f"{np.mean(cell.shares):>10.3f}{np.mean(cell.evaluations):>8.0f}"
                f"{np.mean(cell.seconds):>8.2f}"
            )
        ours = np.mean(cells[("ours: cross-fit surrogate", budget)].errors)
        print(
            f"  at {budget}: ours (cross-fit) / best shapiq = {ours / best_theirs:.2f} "
            f"({'we lead' if ours < best_theirs else 'we lose'})"
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("var/money/shapiq-venv"))
    parser.add_argument("--python", help="a Python 3.12 interpreter for the venv")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budgets", default="8000,30000", help="airport game budgets")
    parser.add_argument("--digits", action="store_true", help="also the digits proxy games")
    parser.add_argument("--digits-budgets", default="512,2048")
    parser.add_argument("--airport", choices=("yes", "no"), default="yes", help="the airport game")
    parser.add_argument("--quick", action="store_true", help="1 seed, airport at 8,000 only")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.budgets = 1, "8000"
    args.budgets = [int(b) for b in args.budgets.split(",")]
    args.digits_budgets = [int(b) for b in args.digits_budgets.split(",")]
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    interpreter = ensure_venv(args.venv, args.python)
    worker = ShapiqWorker(interpreter)
    print_machine(
        "Our Shapley estimators against shapiq's, same games and budgets",
        ("numpy", "catboost", "shap"),
        f"CatBoost thread_count=1; shapiq {worker.version(interpreter)} in {args.venv}",
    )
    try:
        if args.airport == "yes":
            compare("airport game", [airport_game()], args.budgets, args.seeds, worker)
        if args.digits:
            for title, games in digits_games(args.seeds).items():
                compare(title, games, args.digits_budgets, args.seeds, worker)
    finally:
        worker.close()
    print(f"\ntotal wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main(sys.argv[1:])
