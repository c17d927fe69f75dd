"""Money-grade values on the digits proxy games: share errors, interval coverage, bank noise and K.

Uses the per-sample banks of ``bench/digits_banks.py`` (chunks of 64 samples per contributor, each
chunk an independent draw). A *round* uses ``--k`` samples per contributor; ``--groups`` disjoint
sets of chunks give independent rounds (regenerated banks). The *reference* is the exact Shapley
values of the proxy games on all chunks on disk (K_ref = 64 × chunks; it includes each round's own
samples, a K/K_ref fraction).

For each metric (inception_score, neg_fid, label_fidelity, marker_free) it prints:

1. Estimation error: each estimator's worst-contributor share error (pp of the pool) against the
   exact values of the *same* game, and how often its own 95% interval covers them, by budget.
2. The default round (the catalog's ``tolerance`` estimator as a round builds it: ±0.25 pp at
   95%, half of whose variance goes to the estimation and half to the banks): the estimator it
   chose and why, its achieved precision, its worst share error against the same game's exact
   values and against the K_ref reference.
3. Bank noise: the bank bootstrap's worst share sd, the coverage of the combined intervals
   (``kind="value"``: of the reference; ``kind="rerun"``: of the next round's default values), and
   the K the tolerance needs (``plan_bank_size``).

A summary checks the issue's acceptance targets at the size that ran. One thread everywhere.

    PYTHONPATH=. .venv/bin/python bench/digits_banks.py --chunks 20      # banks first (K to 1,280)
    PYTHONPATH=. .venv/bin/python bench/money_grade.py                   # K = 64, 3 rounds
    PYTHONPATH=. .venv/bin/python bench/money_grade.py --quick           # 2 rounds, 2 metrics
    PYTHONPATH=. .venv/bin/python bench/money_grade.py --k 256 --groups 4
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from attribution.engine.estimators import (
    CrossFitSurrogateShapley,
    ExactShapley,
    KernelShapley,
    PermutationShapley,
    ShapleyEstimator,
    SurrogateShapley,
)
from attribution.engine.estimators.catalog import get_estimator
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.valuation import (
    BankSamples,
    PayoutTolerance,
    ToleranceShapley,
    bootstrap_bank_noise,
    plan_bank_size,
    proxy_valuer,
    value_to_tolerance,
)
from bench.digits_banks import DEFAULT_OUT, available_chunks, load_chunks
from bench.machine import print_machine

Values = NDArray[np.float64]
Factory = Callable[[int, int], ShapleyEstimator]  # (budget, seed) -> unfitted estimator
CHUNK = 64
LEVEL = 0.95
EXACT_BOOTSTRAP_LIMIT_S = 3.0  # bank bootstrap revalues exactly when one exact fit is this cheap
BOOTSTRAP_PERMUTATION_BUDGET = 20_000

SAMPLERS = ("permutation", "kernel (paired)")
ESTIMATORS: dict[str, Factory] = {
    "permutation": lambda budget, seed: PermutationShapley(budget=budget, seed=seed),
    "kernel (paired)": lambda budget, seed: KernelShapley(budget=budget, seed=seed, n_bootstrap=50),
    "surrogate uniform": lambda budget, seed: SurrogateShapley(
        budget=budget, seed=seed, n_bootstrap=20
    ),
    "surrogate cross-fit": lambda budget, seed: CrossFitSurrogateShapley(budget=budget, seed=seed),
}


@dataclass
class Rows:
    """Measurements of one (metric, label), one entry per round."""

    values: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, **measured: float) -> None:
        for key, value in measured.items():
            self.values.setdefault(key, []).append(value)

    def mean(self, key: str) -> float:
        return float(np.mean(self.values[key])) if self.values.get(key) else float("nan")

    def worst(self, key: str) -> float:
        return float(np.max(self.values[key])) if self.values.get(key) else float("nan")


def digits_setup() -> tuple[list[int], dict[str, Metric], dict[str, EmptyValue]]:
    """The demo's data sizes, metrics and v(∅) rules (loads the shipped classifier)."""
    import torch

    from attribution.engine.demos.digits.data import load_digit_images, make_digits_marketplace
    from attribution.engine.demos.digits.demo import digits_metrics
    from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS, load_digits_models

    torch.set_num_threads(1)
    _, classifier, record = load_digits_models(SHIPPED_WEIGHTS, "cpu")
    contributors = make_digits_marketplace(record["recipe"]["data_seed"])
    real, _ = load_digit_images()
    metrics, empty = digits_metrics(classifier(real))
    return [len(c.images) for c in contributors], metrics, empty


def bank_samples(banks: Path, chunks: list[int]) -> BankSamples:
    arrays = load_chunks(banks, chunks)
    return BankSamples(
        probabilities=list(arrays["probabilities"]),
        features=list(arrays["embeddings"]),
        scores={"marker": list(arrays["marker"]), "label_fidelity": list(arrays["label_fidelity"])},
    )


def worst_points(values: Values, truth: Values, total: float) -> float:
    """max_i |φ_i − φ*_i| / |v(N) − v(∅)| in percentage points."""
    return 100.0 * float(np.abs(values - truth).max()) / abs(total)


def coverage(interval: Values, truth: Values) -> float:
    return float(((interval[:, 0] <= truth) & (truth <= interval[:, 1])).mean())


def run(args: argparse.Namespace) -> None:
    tolerance = PayoutTolerance()
    sizes, metrics, empty = digits_setup()
    metrics = {name: metrics[name] for name in args.metrics}
    chunks = available_chunks(args.banks)[: args.chunks]
    per_round = args.k // CHUNK
    if per_round * args.groups > len(chunks):
        raise SystemExit(
            f"{args.groups} rounds of K = {args.k} need {per_round * args.groups} chunks; "
            f"{len(chunks)} on disk (run bench/digits_banks.py)"
        )
    print(
        f"rounds: {args.groups} × K = {args.k} samples per contributor (disjoint chunks); "
        f"reference: exact values at K_ref = {CHUNK * len(chunks)} (all {len(chunks)} chunks)"
    )
    reference_samples = bank_samples(args.banks, chunks)
    reference: dict[str, tuple[Values, float]] = {}
    for name, metric in metrics.items():
        start = time.perf_counter()
        game = ProxyGame(reference_samples.statistics(), sizes, metric, empty[name])
        fitted = ExactShapley().fit(game)
        reference[name] = (fitted.values_, fitted.grand_value_ - fitted.baseline_)
        print(f"  reference {name}: exact in {time.perf_counter() - start:.1f} s", flush=True)
    rounds = [
        bank_samples(args.banks, chunks[g * per_round : (g + 1) * per_round])
        for g in range(args.groups)
    ]
    results: dict[str, dict[str, Rows]] = {name: {} for name in metrics}
    for name, metric in metrics.items():
        rows = results[name]
        previous: Values | None = None
        for g, samples in enumerate(rounds):
            shares, rerun_interval = run_round(
                metric, empty[name], sizes, samples, g, args, tolerance, reference[name], rows
            )
            # Round g−1's "rerun" interval against round g's default shares (new banks, new seed).
            if previous is not None:
                rows["bank noise"].add(rerun_coverage=coverage(previous, shares))
            previous = rerun_interval
        report_metric(name, rows, args)
    summary(results, args)


def run_round(
    metric: Metric,
    empty_value: EmptyValue,
    sizes: list[int],
    samples: BankSamples,
    g: int,
    args: argparse.Namespace,
    tolerance: PayoutTolerance,
    reference: tuple[Values, float],
    rows: dict[str, Rows],
) -> tuple[Values, Values]:
    """Measure one round (one independent set of banks) of one metric.

    Returns:
        The default round's shares, shape (n,), and their combined "rerun" interval, (n, 2).
    """
    game = ProxyGame(samples.statistics(), sizes, metric, empty_value)
    start = time.perf_counter()
    exact = ExactShapley().fit(game)
    exact_seconds = time.perf_counter() - start
    total = exact.grand_value_ - exact.baseline_
    rows.setdefault("exact", Rows()).add(seconds=exact_seconds)
    for label, factory in ESTIMATORS.items() if g < args.estimator_rounds else ():
        for budget in budgets_of(label, args):
            start = time.perf_counter()
            fitted = factory(budget, g).fit(game)
            seconds = time.perf_counter() - start
            measured = {
                "error_pp": worst_points(fitted.values_, exact.values_, total),
                "seconds": seconds,
            }
            if fitted.stderr_ is not None:
                measured["coverage"] = coverage(fitted.confidence_interval(LEVEL), exact.values_)
            rows.setdefault(f"{label} @ {budget}", Rows()).add(**measured)
    start = time.perf_counter()
    sampled = value_to_tolerance(game, tolerance, args.time_budget, seed=g, max_exact_players=0)
    sampling = rows.setdefault("sampling round", Rows())
    sampling.add(
        error_pp=worst_points(sampled.values, exact.values_, total),
        achieved_pp=sampled.achieved_points,
        coverage=coverage(
            np.column_stack(
                [
                    sampled.values - tolerance.z * sampled.stderr,
                    sampled.values + tolerance.z * sampled.stderr,
                ]
            ),
            exact.values_,
        ),
        evaluations=sampled.n_evaluations,
        seconds=time.perf_counter() - start,
    )
    sampling.notes.append(f"round {g}: {sampled.reason}")
    start = time.perf_counter()
    # The round's own estimator, as run_engine builds it: estimation gets half the tolerance's
    # variance, the banks the other half.
    round_estimator = get_estimator("tolerance").build(
        512, g, args.bank_bootstrap, tolerance=tolerance, time_budget_s=args.time_budget
    )
    assert isinstance(round_estimator, ToleranceShapley)
    chosen = round_estimator.fit(game).valuation_
    default = rows.setdefault("default round", Rows())
    default.add(
        error_pp=worst_points(chosen.values, exact.values_, total),
        reference_pp=worst_points(chosen.values / total, reference[0] / reference[1], 1.0),
        achieved_pp=chosen.achieved_points,
        seconds=time.perf_counter() - start,
    )
    default.notes.append(f"round {g}: {chosen.reason}")
    bank_estimator: Callable[[], ShapleyEstimator] = (
        ExactShapley
        if exact_seconds <= EXACT_BOOTSTRAP_LIMIT_S
        else (lambda: PermutationShapley(budget=BOOTSTRAP_PERMUTATION_BUDGET, seed=0))
    )
    start = time.perf_counter()
    noise = bootstrap_bank_noise(
        samples, proxy_valuer(sizes, metric, empty_value, bank_estimator), args.bank_bootstrap, g
    )
    shares = chosen.values / total
    share_se = chosen.stderr / abs(total)
    value_interval = noise.interval(shares, share_se, level=LEVEL, shares=True)
    reference_shares = reference[0] / reference[1]
    plan = plan_bank_size(
        noise.share_sd, args.k, tolerance, estimation_share_sd=share_se, requested_k=args.k
    )
    rerun_plan = plan_bank_size(
        noise.share_sd, args.k, tolerance, estimation_share_sd=share_se, kind="rerun"
    )
    bank = rows.setdefault("bank noise", Rows())
    bank.add(
        bank_sd_pp=100.0 * float(noise.share_sd.max()),
        exact_vs_reference_pp=worst_points(exact.values_ / total, reference_shares, 1.0),
        value_coverage=coverage(value_interval, reference_shares),
        required_k=float(plan.required_k or np.inf),
        rerun_k=float(rerun_plan.required_k or np.inf),
        predicted_pp=plan.predicted_points,
        seconds=time.perf_counter() - start,
    )
    bank.notes.append(f"round {g}: {plan.reason}")
    rerun = noise.interval(shares, share_se, level=LEVEL, kind="rerun", shares=True)
    return shares, rerun


def budgets_of(label: str, args: argparse.Namespace) -> list[int]:
    """Surrogates run at ``--budgets``; the cheap samplers also at ``--sampling-budgets``."""
    if label in SAMPLERS:
        return sorted({*args.budgets, *args.sampling_budgets})
    return list(args.budgets)


def report_metric(name: str, rows: dict[str, Rows], args: argparse.Namespace) -> None:
    print(
        f"\n=== {name}: {args.groups} rounds at K = {args.k} "
        f"(estimator table on {min(args.estimator_rounds, args.groups)}) ==="
    )
    print(f"exact values of the round's game: {rows['exact'].mean('seconds'):.1f} s per round")
    header = f"{'estimator @ budget':<28}{'worst err pp':>13}{'max':>8}{'CI cover':>10}{'s/fit':>8}"
    print(header)
    print("-" * len(header))
    for label in ESTIMATORS:
        for budget in budgets_of(label, args):
            row = rows.get(f"{label} @ {budget}")
            if row is None:
                continue
            cover = row.mean("coverage")
            print(
                f"{label + ' @ ' + str(budget):<28}{row.mean('error_pp'):>13.3f}"
                f"{row.worst('error_pp'):>8.3f}"
                f"{'n/a' if np.isnan(cover) else f'{cover:.0%}':>10}{row.mean('seconds'):>8.1f}"
            )
    sampling = rows["sampling round"]
    print(
        f"sampling round (exact disallowed): worst error vs exact {sampling.mean('error_pp'):.3f} "
        f"pp (max {sampling.worst('error_pp'):.3f}), achieved ±{sampling.mean('achieved_pp'):.3f}"
        f" pp, its 95% interval covers exact for {sampling.mean('coverage'):.0%}, "
        f"{sampling.mean('evaluations'):,.0f} evaluations, {sampling.mean('seconds'):.1f} s"
    )
    for note in sampling.notes[:1]:
        print(f"  {note}")
    default = rows["default round"]
    print(
        f"default round (±{PayoutTolerance().percentage_points} pp at 95%, "
        f"{args.time_budget:.0f} s): worst error vs same-game exact {default.mean('error_pp'):.3f} "
        f"pp (max {default.worst('error_pp'):.3f}), achieved ±{default.mean('achieved_pp'):.3f} "
        f"pp, vs K_ref reference {default.mean('reference_pp'):.3f} pp (max "
        f"{default.worst('reference_pp'):.3f}), {default.mean('seconds'):.1f} s"
    )
    for note in default.notes:
        print(f"  {note}")
    bank = rows["bank noise"]
    print(
        f"bank noise: worst share sd {bank.mean('bank_sd_pp'):.3f} pp; exact-at-K vs reference "
        f"{bank.mean('exact_vs_reference_pp'):.3f} pp "
        f"(max {bank.worst('exact_vs_reference_pp'):.3f})"
        f"; combined 'value' interval covers the reference for {bank.mean('value_coverage'):.0%}"
        f" of contributors; 'rerun' interval covers the next round for "
        f"{bank.mean('rerun_coverage'):.0%}; K needed {bank.worst('required_k'):,.0f} "
        f"(rerun agreement: {bank.worst('rerun_k'):,.0f}); bootstrap {bank.mean('seconds'):.1f} s"
    )
    for note in bank.notes:
        print(f"  {note}")


def summary(results: dict[str, dict[str, Rows]], args: argparse.Namespace) -> None:
    print(f"\n=== acceptance targets at K = {args.k}, {args.groups} rounds ===")
    small, large = min(args.budgets), max(args.budgets)
    for name, rows in results.items():
        default = rows["default round"]
        bank = rows["bank noise"]
        worst = default.worst("reference_pp")
        cover = bank.mean("value_coverage")
        rerun = bank.mean("rerun_coverage")
        lines = [
            f"default round worst share error vs reference {worst:.3f} pp "
            f"{'≤' if worst <= 0.5 else '>'} 0.5 pp: {'met' if worst <= 0.5 else 'NOT met'}",
            f"value-interval coverage {cover:.0%}, rerun-interval coverage {rerun:.0%} "
            f"(target ≥ 90%): {'met' if min(cover, rerun) >= 0.9 else 'NOT met'}",
        ]
        for label in ("surrogate uniform", "surrogate cross-fit"):
            if f"{label} @ {small}" not in rows:  # --estimator-rounds 0: no estimator table
                continue
            at_small = rows[f"{label} @ {small}"].mean("error_pp")
            at_large = rows[f"{label} @ {large}"].mean("error_pp")
            lines.append(
                f"{label}: error at {large} {at_large:.3f} pp vs {small} {at_small:.3f} pp: "
                f"{'falls' if at_large < at_small else 'does NOT fall'}"
            )
        print(f"{name}:")
        for line in lines:
            print(f"  {line}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--chunks",
        type=int,
        default=20,
        help="chunks on disk to use (the reference is all of them)",
    )
    parser.add_argument("--k", type=int, default=64, help="samples per contributor per round")
    parser.add_argument("--groups", type=int, default=3, help="independent rounds")
    parser.add_argument("--budgets", default="512,2048", help="estimator budgets, comma-separated")
    parser.add_argument(
        "--estimator-rounds", type=int, default=3, help="rounds that get the estimator table"
    )
    parser.add_argument(
        "--sampling-budgets", default="20000,100000", help="extra budgets of the cheap samplers"
    )
    parser.add_argument("--bank-bootstrap", type=int, default=30)
    parser.add_argument("--time-budget", type=float, default=60.0, help="default round, seconds")
    parser.add_argument("--metrics", default="inception_score,neg_fid,label_fidelity,marker_free")
    parser.add_argument("--quick", action="store_true", help="2 rounds, IS and label fidelity")
    args = parser.parse_args(argv)
    if args.k % CHUNK:
        parser.error(f"--k must be a multiple of {CHUNK}")
    if args.quick:
        args.groups, args.bank_bootstrap, args.estimator_rounds = 2, 10, 2
        args.metrics = "inception_score,label_fidelity"
    args.budgets = [int(b) for b in args.budgets.split(",")]
    args.sampling_budgets = [int(b) for b in args.sampling_budgets.split(",") if b]
    args.metrics = args.metrics.split(",")
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    print_machine(
        "Money-grade values on the digits proxy games",
        ("numpy", "catboost", "shap", "torch"),
        "CatBoost thread_count=1, torch 1 thread",
    )
    run(args)
    print(f"\ntotal wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main(sys.argv[1:])
