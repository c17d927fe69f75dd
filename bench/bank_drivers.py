"""Which banks drive each share's noise, and what topping up only those banks saves.

On the digits proxy games (the chunks of ``bench/digits_banks.py``, first ``--chunks`` of them
concatenated: K samples per contributor), each contributor's bank alone is resampled with
replacement ``--replicates`` times and the game valued exactly again; the mean squared move of
every share, times K, is V[i, j]: the per-sample variance of share i due to bank j. A bank of
K_j samples then gives share i the variance Σ_j V[i, j] / K_j (the 1/√K law, bank by bank).

From V it prints, per metric: every contributor's share sd at K = 64 and the fraction of it that
comes from its own bank; then, for each tolerance, three ways to size the banks and what each
costs, samples in all:

* *uniform*: every bank at the largest need (``decide_growth`` with ``targeted=False``);
* *targeted*: each bank at the K its own share needs — the rule of a round's targeted growth,
  need_i = Σ_j V[i, j] / t² — and the worst share sd that allocation actually gives, as a
  multiple of the target t (above 1: the rule falls short by that much);
* *optimal*: the fewest samples in all with every share within the target (min Σ K_j subject to
  Σ_j V[i, j] / K_j ≤ t², a convex problem, solved with SLSQP), the floor no allocation beats.

    PYTHONPATH=. .venv/bin/python bench/digits_banks.py --chunks 20   # the chunks first
    PYTHONPATH=. .venv/bin/python bench/bank_drivers.py               # about 3 minutes

neg FID is left out by default: its exact values take ~20 s a game here, and the decomposition
values 20 × replicates games per metric (``--metrics neg_fid`` runs it, for ~1 hour).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from attribution.engine.estimators import ExactShapley, ShapleyEstimator
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.valuation import PayoutTolerance
from attribution.engine.valuation.bank_noise import BankSamples
from bench.digits_banks import DEFAULT_OUT, available_chunks
from bench.machine import print_machine
from bench.money_grade import CHUNK, bank_samples, digits_setup

Values = NDArray[np.float64]


def shares_of(
    samples: BankSamples,
    sizes: list[int],
    metric: Metric,
    empty: EmptyValue,
    estimator: ShapleyEstimator | None = None,
    rows: Sequence[NDArray[np.intp]] | None = None,
) -> Values:
    """Shapley shares φ / (v(N) − v(∅)) of the samples' proxy game (exact by default), or of the
    game of ``rows[i]`` of contributor i's samples."""
    fitted = (estimator or ExactShapley()).fit(
        ProxyGame(samples.statistics(rows), sizes, metric, empty)
    )
    shares: Values = fitted.values_ / (fitted.grand_value_ - fitted.baseline_)
    return shares


def with_bank(samples: BankSamples, j: int, rows: NDArray[np.intp] | slice) -> BankSamples:
    """The samples with contributor j's rows replaced by ``rows`` of its own bank."""

    def swap(entries: Sequence[ArrayLike]) -> list[ArrayLike]:
        out = list(entries)
        out[j] = np.asarray(entries[j])[rows]
        return out

    return BankSamples(
        probabilities=None if samples.probabilities is None else swap(samples.probabilities),
        features=None if samples.features is None else swap(samples.features),
        scores={name: swap(entries) for name, entries in samples.scores.items()},
    )


def decompose(
    samples: BankSamples,
    sizes: list[int],
    metric: Metric,
    empty: EmptyValue,
    replicates: int,
    seed: int,
) -> Values:
    """V[i, j]: the per-sample variance of share i due to bank j (see the module docstring)."""
    rng = np.random.default_rng(seed)
    base = shares_of(samples, sizes, metric, empty)
    k = int(samples.n_samples[0])
    n = len(sizes)
    variance = np.zeros((n, n))
    for j in range(n):
        moves = [
            shares_of(with_bank(samples, j, rng.integers(0, k, k)), sizes, metric, empty) - base
            for _ in range(replicates)
        ]
        variance[:, j] = np.mean(np.square(moves), axis=0) * k
    return variance


def optimal_sizes(variance: Values, target: float) -> Values:
    """min Σ K_j subject to Σ_j V[i, j] / K_j ≤ target², convex in y_j = K_uniform / K_j."""
    uniform = float(variance.sum(axis=1).max()) / target**2  # every bank at the largest need
    rows = variance / (uniform * target**2)  # the constraint reads rows @ y ≤ 1
    result = minimize(
        lambda y: float((1.0 / y).sum()),
        np.ones(len(variance)),  # uniform sizes: feasible
        jac=lambda y: -1.0 / y**2,
        bounds=[(1e-6, 1e6)] * len(variance),
        constraints=[{"type": "ineq", "fun": lambda y: 1.0 - rows @ y, "jac": lambda y: -rows}],
        method="SLSQP",
        options={"maxiter": 2000, "ftol": 1e-12},
    )
    sizes: Values = uniform / result.x
    worst = float(np.sqrt((variance @ (1.0 / sizes)).max()) / target)
    if not result.success or worst > 1.001:
        raise SystemExit(f"the optimal allocation did not converge: {result.message} ({worst:.3f})")
    return sizes


def report(name: str, variance: Values, tolerances: list[float], pilot_k: int) -> None:
    total = variance.sum(axis=1)
    own = np.diag(variance) / np.where(total > 0, total, 1.0)
    sd = 100.0 * np.sqrt(total / pilot_k)
    print(f"\n=== {name} ===")
    print(f"share sd at K = {pilot_k} (pp) and the fraction of its variance from its own bank:")
    for i in np.argsort(-sd):
        print(f"  contributor {i:>2}: {sd[i]:.3f} pp, own bank {own[i]:.0%}")
    noisy = sd >= 0.5 * sd.max()
    print(
        f"own-bank fraction over the contributors with at least half the worst sd "
        f"({int(noisy.sum())}): {own[noisy].min():.0%}–{own[noisy].max():.0%}"
    )
    for points in tolerances:
        target = PayoutTolerance(points).share_stderr
        needs = np.maximum(total / target**2, 1.0)
        uniform = float(needs.max()) * len(needs)
        targeted_worst = float(np.sqrt((variance @ (1.0 / needs)).max()) / target)
        optimal = optimal_sizes(variance, target)
        print(
            f"±{points} pp at 95%: uniform {uniform:,.0f} samples in all (K = {needs.max():,.0f} "
            f"each); targeted {needs.sum():,.0f} (worst share sd {targeted_worst:.2f}× the "
            f"target; {uniform / needs.sum():.2f}× fewer than uniform); optimal "
            f"{optimal.sum():,.0f} ({uniform / optimal.sum():.2f}× fewer than uniform, targeted "
            f"uses {needs.sum() / optimal.sum():.2f}× the optimum)"
        )
    print(
        f"targeted K per contributor at ±{tolerances[0]} pp: "
        + ", ".join(
            f"{k:,.0f}"
            for k in np.maximum(total / PayoutTolerance(tolerances[0]).share_stderr ** 2, 1)
        )
    )


def run(args: argparse.Namespace) -> None:
    sizes, metrics, empty = digits_setup()
    chunks = available_chunks(args.banks)[: args.chunks]
    if len(chunks) < args.chunks:
        raise SystemExit(f"{len(chunks)} chunks on disk; run bench/digits_banks.py first")
    samples = bank_samples(args.banks, chunks)
    print(
        f"banks: K = {CHUNK * len(chunks):,} per contributor ({len(chunks)} chunks); each bank "
        f"resampled alone {args.replicates} times, exact values each time"
    )
    for name in args.metrics:
        start = time.perf_counter()
        variance = decompose(samples, sizes, metrics[name], empty[name], args.replicates, 0)
        print(
            f"({name}: {len(sizes) * args.replicates} valuations in "
            f"{time.perf_counter() - start:.0f} s)"
        )
        report(name, variance, args.tolerances, CHUNK)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--chunks", type=int, default=20, help="chunks concatenated into the banks")
    parser.add_argument("--replicates", type=int, default=8, help="resamples of each bank")
    parser.add_argument("--metrics", default="inception_score,label_fidelity")
    parser.add_argument("--tolerances", default="0.25,0.5", help="± pp at 95%%, comma-separated")
    args = parser.parse_args(argv)
    args.metrics = args.metrics.split(",")
    args.tolerances = [float(t) for t in args.tolerances.split(",")]
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    print_machine(
        "Which banks drive each share's noise (digits proxy games)",
        ("numpy", "scipy"),
        "numpy 1 thread",
    )
    run(args)
    print(f"\ntotal wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main(sys.argv[1:])
