"""Does a smaller bank bias its contributor's share? What banks of unequal size cost in fairness.

A targeted growth leaves the banks of different sizes (each at its own share's need, at least a
quarter of the largest). Plug-in metrics (Inception Score, the Fréchet distance) carry a
finite-sample bias of order 1/K, so a contributor whose bank stays small could be valued
systematically higher or lower than with a large bank, whatever the noise. This measures it on
the digits proxy games with every chunk of ``bench/digits_banks.py`` on disk (K_full samples per
contributor): for each contributor j and each small size K in ``--sizes``, its bank is cut into
the K_full / K disjoint subsets of K samples that together are its whole bank, while every other
bank keeps K_full, and the game is valued again on each. The mean move of share j over the
subsets is the bias a bank of K samples gives it (its standard error is the subsets' sd /
√subsets; since the subsets make up the full bank, a plain mean's subset means average to the
full bank's exactly); label fidelity, a plain mean, is the control whose bias must be near zero
(only the ratio φ_j / (v(N) − v(∅)) is not linear in it).

    PYTHONPATH=. .venv/bin/python bench/growth_bias.py     # about 12 minutes with 40 chunks

neg FID is valued by antithetic permutation sampling with one fixed seed (``--fid-budget``
evaluations; exact values would take ~25 s each), so every valuation of it shares its
permutations and the moves it measures are the banks', not the sampler's; the others exactly.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from attribution.engine.estimators import ExactShapley, PermutationShapley, ShapleyEstimator
from bench.bank_drivers import shares_of, with_bank
from bench.digits_banks import DEFAULT_OUT, available_chunks
from bench.machine import print_machine
from bench.money_grade import CHUNK, bank_samples, digits_setup

Values = NDArray[np.float64]


def run(args: argparse.Namespace) -> None:
    sizes, metrics, empty = digits_setup()
    chunks = available_chunks(args.banks)[: args.chunks or None]
    samples = bank_samples(args.banks, chunks)
    full_k = CHUNK * len(chunks)
    print(
        f"banks: K_full = {full_k:,} per contributor ({len(chunks)} chunks); small banks of "
        f"{', '.join(map(str, args.sizes))} samples, each bank cut into K_full / K disjoint subsets"
    )
    for name in args.metrics:
        start = time.perf_counter()

        def estimator(name: str = name) -> ShapleyEstimator:
            if name == "neg_fid":
                return PermutationShapley(budget=args.fid_budget, seed=0)
            return ExactShapley()

        base = shares_of(samples, sizes, metrics[name], empty[name], estimator())
        print(f"\n=== {name} ({'permutation, fixed seed' if name == 'neg_fid' else 'exact'}) ===")
        for k in args.sizes:
            if full_k % k or full_k // k < 2:
                raise SystemExit(f"K = {k} must divide K_full = {full_k} at least twice")
            subsets = full_k // k
            moves = np.zeros((len(sizes), subsets))
            for j in range(len(sizes)):
                for s in range(subsets):
                    cut = with_bank(samples, j, slice(s * k, (s + 1) * k))
                    moved = shares_of(cut, sizes, metrics[name], empty[name], estimator())
                    moves[j, s] = moved[j] - base[j]
            bias = 100.0 * moves.mean(axis=1)
            stderr = 100.0 * moves.std(axis=1, ddof=1) / np.sqrt(subsets)
            sd = 100.0 * moves.std(axis=1, ddof=1)
            worst = int(np.argmax(np.abs(bias)))
            z = np.abs(bias) / np.where(stderr > 0, stderr, np.inf)
            ratio = np.abs(bias).max() / np.median(sd)
            print(
                f"K = {k:>4} ({subsets} subsets): worst bias {bias[worst]:+.3f} pp "
                f"(contributor {worst}, ± {stderr[worst]:.3f} stderr); mean bias over "
                f"contributors {bias.mean():+.3f} pp; |bias| > 2 stderr for {int((z > 2).sum())} "
                f"of {len(sizes)}; share sd of one bank of K {np.median(sd):.3f} pp (median), so "
                f"the bias is {ratio:.2f}× that noise at worst"
            )
        print(f"({time.perf_counter() - start:.0f} s)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--chunks", type=int, default=40, help="use the first N chunks on disk (0: all of them)"
    )
    parser.add_argument("--sizes", default="320,640", help="small bank sizes, comma-separated")
    parser.add_argument("--fid-budget", type=int, default=20_000, help="neg FID evaluations")
    parser.add_argument("--metrics", default="label_fidelity,inception_score,neg_fid")
    args = parser.parse_args(argv)
    args.sizes = [int(k) for k in args.sizes.split(",")]
    args.metrics = args.metrics.split(",")
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    print_machine(
        "Does a smaller bank bias its contributor's share? (digits proxy games)",
        ("numpy",),
        "numpy 1 thread",
    )
    run(args)
    print(f"\ntotal wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main(sys.argv[1:])
