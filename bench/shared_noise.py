"""Should contributors' banks share their initial noise? Common random numbers, measured.

A round draws each contributor's bank from its own seed, so the banks are independent. With
*shared noise* (``bench/digits_banks.py --shared-noise``) every contributor's sample k starts
from the same initial noise instead: each bank is still an i.i.d. sample of its contributor's
model, but the banks are coupled. Coupling is the classic variance reduction for comparing
systems (common random numbers); this benchmark measures whether it shrinks the shares' bank
noise on the digits proxy games.

It splits the first ``--groups`` × ``--per`` chunks of each kind into ``--groups`` disjoint
rounds of K = 64 × ``--per`` samples per contributor, values each round exactly and prints, per
metric, the spread of every contributor's share across the rounds (worst and median sd, in pp)
for independent and for shared noise, and their ratio (below 1: sharing helps). It also
bootstraps the first shared round both ways — positions resampled jointly across contributors
(the bootstrap that matches shared noise) and each bank on its own (the round's bootstrap) — to
show what the round's per-contributor bootstrap would report for coupled banks.

    PYTHONPATH=. .venv/bin/python bench/digits_banks.py --chunks 12
    PYTHONPATH=. .venv/bin/python bench/digits_banks.py --shared-noise --chunks 12
    PYTHONPATH=. .venv/bin/python bench/shared_noise.py                # about 2 minutes

The sd of 12 rounds is itself uncertain by about ±20%, so ratios within 0.8–1.2 are no effect.
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

from attribution.engine.games.proxy import EmptyValue, Metric
from attribution.engine.valuation.bank_noise import BankSamples
from bench.bank_drivers import shares_of
from bench.digits_banks import DEFAULT_OUT, SHARED_OUT, available_chunks
from bench.machine import print_machine
from bench.money_grade import CHUNK, bank_samples, digits_setup

Values = NDArray[np.float64]


def round_spread(
    where: Path, chunks: list[int], per: int, sizes: list[int], metric: Metric, empty: EmptyValue
) -> Values:
    """Every contributor's share sd (pp) across the disjoint rounds of ``per`` chunks each."""
    shares = [
        shares_of(bank_samples(where, chunks[start : start + per]), sizes, metric, empty)
        for start in range(0, len(chunks) - per + 1, per)
    ]
    return np.asarray(100.0 * np.std(shares, axis=0, ddof=1), dtype=np.float64)


def bootstrap_spread(
    samples: BankSamples,
    sizes: list[int],
    metric: Metric,
    empty: EmptyValue,
    replicates: int,
    joint: bool,
    seed: int,
) -> Values:
    """Share sd (pp) over bootstrap replicates: positions drawn jointly or bank by bank."""
    rng = np.random.default_rng(seed)
    k = int(samples.n_samples[0])
    shares = []
    for _ in range(replicates):
        common = rng.integers(0, k, k)  # drawn either way, so both variants share one stream
        rows = [common] * len(sizes) if joint else samples.resample_rows(rng)
        shares.append(shares_of(samples, sizes, metric, empty, rows=rows))
    return np.asarray(100.0 * np.std(shares, axis=0, ddof=1), dtype=np.float64)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--shared", type=Path, default=SHARED_OUT)
    parser.add_argument("--groups", type=int, default=12, help="disjoint rounds of each kind")
    parser.add_argument("--per", type=int, default=1, help="chunks per round (K = 64 × per)")
    parser.add_argument("--replicates", type=int, default=30, help="bootstrap replicates")
    parser.add_argument("--metrics", default="inception_score,label_fidelity,marker_free")
    args = parser.parse_args(argv)
    needed = args.groups * args.per
    independent = available_chunks(args.banks)[:needed]
    shared = available_chunks(args.shared)[:needed]
    if min(len(independent), len(shared)) < needed or args.groups < 2:
        raise SystemExit(
            f"{args.groups} rounds of {args.per} chunks need {needed} chunks of each kind "
            f"(found {len(independent)} independent, {len(shared)} shared; see the docstring)"
        )
    print_machine(
        "Shared initial noise (common random numbers) vs independent banks, digits proxy games",
        ("numpy", "torch"),
    )
    print(f"{args.groups} disjoint rounds of K = {CHUNK * args.per} of each kind, exact values\n")
    sizes, metrics, empty = digits_setup()
    for name in args.metrics.split(","):
        start = time.perf_counter()
        spreads = {
            label: round_spread(where, chunks, args.per, sizes, metrics[name], empty[name])
            for label, where, chunks in (
                ("independent", args.banks, independent),
                ("shared", args.shared, shared),
            )
        }
        first = bank_samples(args.shared, shared[: args.per])
        joint, alone = (
            bootstrap_spread(first, sizes, metrics[name], empty[name], args.replicates, j, seed=0)
            for j in (True, False)
        )
        ratio = spreads["shared"].max() / spreads["independent"].max()
        per_contributor = np.median(spreads["shared"] / spreads["independent"])
        print(f"{name}:")
        for label, spread in spreads.items():
            print(
                f"  {label:11s} share sd across rounds: worst {spread.max():.3f} pp, "
                f"median {np.median(spread):.3f} pp"
            )
        print(
            f"  shared / independent: worst sd {ratio:.2f}×, "
            f"median of the per-contributor ratios {per_contributor:.2f}×"
        )
        print(
            f"  bootstrap of one shared round: positions drawn jointly worst sd "
            f"{joint.max():.3f} pp, each bank on its own {alone.max():.3f} pp "
            f"({time.perf_counter() - start:.0f} s)\n",
            flush=True,
        )


if __name__ == "__main__":
    with threadpool_limits(1):
        main(sys.argv[1:])
