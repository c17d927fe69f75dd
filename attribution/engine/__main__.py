"""Command line: ``python -m attribution.engine {demo,estimate} ...``.

``demo`` prints exact and estimated values side by side on a game with known Shapley values.
``estimate`` values a user's own CSV table of coalitions and utilities (see ``table``).

Every command runs torch and BLAS on ``--threads`` threads (default: ``OMP_NUM_THREADS`` when it
is set, else one — see docs/engineering.md: on a small shared machine two threads per process run
the engine's small models many times slower than one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS, DigitsRecipe
from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import (
    ExactShapley,
    KernelShapley,
    LeaveOneOut,
    PermutationShapley,
    ShapleyEstimator,
    SurrogateShapley,
)
from attribution.engine.estimators.catalog import ESTIMATORS, get_estimator
from attribution.engine.games.base import Game, TableGame
from attribution.engine.games.known import UnanimityGame
from attribution.engine.games.synthetic import make_paper_games
from attribution.engine.games.table import read_coalition_table, write_value_table
from attribution.engine.progress import TerminalProgress
from attribution.engine.store import ArtefactStore

METHODS = tuple(ESTIMATORS)


def build_estimator(method: str, budget: int, seed: int, n_bootstrap: int) -> ShapleyEstimator:
    """The estimator a CLI method name stands for (from the estimator catalog)."""
    return get_estimator(method).build(budget, seed, n_bootstrap)


def demo_game(name: str, seed: int) -> tuple[Game, NDArray[np.float64]]:
    """A demo game and its exact Shapley values."""
    if name == "unanimity":
        unanimity = UnanimityGame(
            10,
            coalitions=[(0,), (1, 2), (3, 4, 5), (0, 6), (7, 8, 9), (2, 5, 8)],
            weights=[1.0, 2.0, 1.5, -0.5, 0.8, 1.2],
        )
        return unanimity, unanimity.shapley_values()
    games = make_paper_games(10, 1, seed)
    if name not in games:
        raise EngineInputError(f"unknown demo game {name!r}; choose unanimity or {sorted(games)}.")
    game = games[name]
    return game, ExactShapley().fit(game).values_


def run_demo(args: argparse.Namespace) -> int:
    game, truth = demo_game(args.game, args.seed)
    print(f"Game: {args.game} ({game.n_players} players), budget {args.budget} evaluations.")
    columns: dict[str, NDArray[np.float64]] = {"exact": truth}
    timing: dict[str, tuple[float, int, float]] = {}
    estimators: dict[str, ShapleyEstimator] = {
        "permutation": PermutationShapley(budget=args.budget, seed=args.seed),
        "kernel": KernelShapley(budget=args.budget, seed=args.seed),
        "loo": LeaveOneOut(),
        "surrogate": SurrogateShapley(budget=args.budget, seed=args.seed),
        "surrogate+bc": SurrogateShapley(budget=args.budget, seed=args.seed, bias_correction=True),
    }
    for name, estimator in estimators.items():
        start = time.perf_counter()
        estimator.fit(game)
        columns[name] = estimator.values_
        error = float(np.linalg.norm(estimator.values_ - truth) / np.linalg.norm(truth))
        timing[name] = (time.perf_counter() - start, estimator.n_evaluations_, error)
    print("player " + "".join(f"{name:>14}" for name in columns))
    for i in range(game.n_players):
        print(f"{i:>6} " + "".join(f"{column[i]:>14.4f}" for column in columns.values()))
    print("\nmethod          rel. L2 error   evaluations   efficiency gap   seconds")
    for name, (seconds, evaluations, error) in timing.items():
        gap = estimators[name].efficiency_gap_
        print(f"{name:<15} {error:>13.4f} {evaluations:>13} {gap:>16.2e} {seconds:>9.2f}")
    return 0


def run_estimate(args: argparse.Namespace) -> int:
    table = read_coalition_table(Path(args.table))
    estimator = build_estimator(args.method, args.budget, args.seed, args.n_bootstrap)
    if isinstance(estimator, SurrogateShapley):
        estimator.progress = TerminalProgress()
        estimator.fit_table(table.masks, table.utilities)
    else:
        estimator.fit(TableGame(table.masks, table.utilities))
    interval = None if estimator.stderr_ is None else estimator.confidence_interval(args.level)
    output = Path(args.output)
    write_value_table(output, table.players, estimator.values_, estimator.stderr_, interval)
    print(f"{len(table.players)} players, {estimator.n_evaluations_} distinct coalitions used.")
    print(
        f"v(N) − v(∅) = {estimator.grand_value_ - estimator.baseline_:.6g}, "
        f"Σφ = {estimator.values_.sum():.6g} (gap {estimator.efficiency_gap_:.2e})."
    )
    if isinstance(estimator, SurrogateShapley):
        r2 = "n/a" if estimator.cv_r2_ is None else f"{estimator.cv_r2_:.3f}"
        print(
            f"Surrogate: cross-validated R² {r2}, raw efficiency gap "
            f"{estimator.raw_efficiency_gap_:.3e} (corrected)."
        )
    print(f"Values written to {output}.")
    return 0


def run_demo_digits(args: argparse.Namespace) -> int:
    from attribution.engine.demos.digits.demo import format_report, run_digits_demo

    report = run_digits_demo(
        weights=Path(args.weights),
        n_samples=args.samples,
        budget=args.budget,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        exact=not args.no_exact,
        store=ArtefactStore(args.cache),
        device=args.device,
        progress=TerminalProgress(),
    )
    print(format_report(report))
    failed = [check for check in report.checks if not check.passed]
    print(
        f"\n{len(report.checks) - len(failed)} of {len(report.checks)} planted expectations hold."
    )
    return 0


def run_train_digits(args: argparse.Namespace) -> int:
    from attribution.engine.demos.digits.training import DigitsRecipe, train_digits_models

    recipe = DigitsRecipe(steps=args.steps, seed=args.seed)
    output = train_digits_models(Path(args.output), recipe, progress=TerminalProgress())
    print(f"Trained models written to {output} (recipe and checksums in recipe.json).")
    return 0


def run_train_fashion_catalogue(args: argparse.Namespace) -> int:
    import dataclasses

    from attribution.engine.demos.catalogue.training import (
        TrainingRecipe,
        train_catalogue_models,
    )

    default = TrainingRecipe()
    recipe = dataclasses.replace(
        default,
        clip=dataclasses.replace(default.clip, steps=args.clip_steps, seed=args.seed),
        pipeline=dataclasses.replace(
            default.pipeline,
            vae_steps=args.vae_steps,
            unet_steps=args.unet_steps,
            seed=args.seed,
        ),
        samples_per_type=args.samples_per_type,
    )
    output = Path(args.output)
    train_catalogue_models(output, recipe, Path(args.data), progress=TerminalProgress())
    record = json.loads((output / "recipe.json").read_text())
    print(f"Trained models written to {output} (recipe, timings and checksums in recipe.json).")
    print(json.dumps({"seconds": record["seconds"], **record["measurements"]}, indent=2))
    return 0


def run_catalogue_reference(args: argparse.Namespace) -> int:
    from attribution.engine.demos.catalogue.reference import run_reference

    comparisons = run_reference(
        n_samples=args.samples,
        n_steps=args.steps,
        budget=args.budget,
        reference_budget=args.reference_budget,
        seed=args.seed,
        store=ArtefactStore(args.cache),
        progress=TerminalProgress(),
    )
    names = {
        "surrogate": f"surrogate (budget {args.budget})",
        "tolerance": "default round (±0.25 pp)",
    }
    for c in comparisons:
        print(
            f"{c.metric}: {names.get(c.estimator, c.estimator)} vs permutation reference "
            f"({c.reference_evaluations} evaluations): relative L2 error "
            f"{c.relative_l2_error:.3f}, worst share error {c.worst_share_points:.3f} pp, "
            f"Spearman {c.spearman:.3f}; the reference's own relative standard error "
            f"{c.reference_relative_stderr:.3f}, worst {c.reference_share_points:.3f} pp "
            f"({c.surrogate_seconds:.0f} s vs {c.reference_seconds:.0f} s)"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m attribution.engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch and BLAS threads (default: OMP_NUM_THREADS if set, else 1)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="compare every estimator with exact values")
    demo.add_argument(
        "--game",
        default="unanimity",
        help="unanimity, linear, nonlinear or interaction (default: unanimity)",
    )
    demo.add_argument("--budget", type=int, default=256, help="utility evaluations per method")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=run_demo)
    estimate = commands.add_parser("estimate", help="value players from a CSV of coalitions")
    estimate.add_argument(
        "--table", required=True, help="CSV: one 0/1 column per player and a 'utility' column"
    )
    estimate.add_argument("--method", choices=METHODS, default="surrogate")
    estimate.add_argument("--output", default="values.csv", help="where to write the values CSV")
    estimate.add_argument(
        "--budget",
        type=int,
        default=1000,
        help="evaluations the sampling methods may use (kernel, permutation)",
    )
    estimate.add_argument(
        "--n-bootstrap",
        type=int,
        default=30,
        help="bootstrap refits for standard errors (surrogate, kernel)",
    )
    estimate.add_argument("--level", type=float, default=0.95, help="confidence level")
    estimate.add_argument("--seed", type=int, default=0)
    estimate.set_defaults(run=run_estimate)
    digits = commands.add_parser(
        "demo-digits", help="value 20 planted digits contributors with the proxy game"
    )
    digits.add_argument("--weights", default=str(SHIPPED_WEIGHTS), help="trained models directory")
    digits.add_argument("--samples", type=int, default=64, help="bank size per contributor")
    digits.add_argument("--budget", type=int, default=512, help="surrogate coalitions")
    digits.add_argument("--bootstrap", type=int, default=20, help="bootstrap refits for the CIs")
    digits.add_argument(
        "--no-exact", action="store_true", help="skip exact values (2^20 coalitions)"
    )
    digits.add_argument("--cache", default="var/engine-cache", help="artefact cache directory")
    digits.add_argument("--device", default="cpu", help="cpu or cuda")
    digits.add_argument("--seed", type=int, default=0)
    digits.set_defaults(run=run_demo_digits)
    train = commands.add_parser(
        "train-digits", help="train the demo's diffusion model and classifier"
    )
    train.add_argument("--output", required=True, help="directory for the weights")
    train.add_argument("--steps", type=int, default=DigitsRecipe().steps, help="training steps")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=run_train_digits)
    add_train_fashion_catalogue(commands)
    reference = commands.add_parser(
        "catalogue-reference",
        help="the catalogue's SurrogateSHAP values against a long permutation run",
    )
    reference.add_argument("--samples", type=int, default=32, help="bank size per shop")
    reference.add_argument("--steps", type=int, default=10, help="sampling steps")
    reference.add_argument("--budget", type=int, default=2048, help="surrogate coalitions")
    reference.add_argument("--reference-budget", type=int, default=4_000_000)
    reference.add_argument("--cache", default="var/engine-cache", help="artefact cache directory")
    reference.add_argument("--seed", type=int, default=0)
    reference.set_defaults(run=run_catalogue_reference)
    return parser


def add_train_fashion_catalogue(commands: argparse._SubParsersAction[Any]) -> None:
    """The ``train-fashion-catalogue`` subcommand (defaults: the shipped weights' recipe)."""
    from attribution.engine.demos.catalogue.clip_training import ClipRecipe
    from attribution.engine.demos.catalogue.pipeline_training import PipelineRecipe

    catalogue = commands.add_parser(
        "train-fashion-catalogue",
        help="train the fashion catalogue's tiny CLIP and Stable Diffusion pipeline",
    )
    catalogue.add_argument("--output", required=True, help="directory for the weights")
    catalogue.add_argument(
        "--data", default="/usr/share/datasets/fashion-mnist", help="Fashion-MNIST directory"
    )
    catalogue.add_argument("--clip-steps", type=int, default=ClipRecipe().steps)
    catalogue.add_argument("--vae-steps", type=int, default=PipelineRecipe().vae_steps)
    catalogue.add_argument("--unet-steps", type=int, default=PipelineRecipe().unet_steps)
    catalogue.add_argument(
        "--samples-per-type", type=int, default=20, help="generated samples per type to measure"
    )
    catalogue.add_argument("--seed", type=int, default=0)
    catalogue.set_defaults(run=run_train_fashion_catalogue)


def thread_count(requested: int | None) -> int:
    """The threads a command runs on: ``--threads``, else ``OMP_NUM_THREADS``, else 1."""
    if requested is not None:
        if requested < 1:
            raise EngineInputError(f"--threads must be at least 1, got {requested}.")
        return requested
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    except ValueError:
        return 1


def limit_threads(threads: int) -> None:
    """Run torch (when a command loads it) and the BLAS libraries on ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)  # read by torch and libraries that load later
    threadpool_limits(limits=threads)  # the BLAS already loaded with numpy
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        limit_threads(thread_count(args.threads))
        code: int = args.run(args)
    except EngineInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
