"""Rounds that grow their banks to the payout tolerance, on the digits proxy games, checked
against banks they never saw.

Uses the per-sample chunks of ``bench/digits_banks.py`` (64 samples per contributor each, every
chunk an independent draw). The chunks are split in two halves; in each *split* one half feeds the
round and the other is the *reference* (exact Shapley values of its proxy game at K_ref = 64 ×
half), so the reference shares no sample with the round — and, being finite, has bank noise of
its own, measured here by the same bootstrap and included in the comparison.

A round does what ``run_round`` does with a growth allowance (``--cap``): the default estimator
(to the tolerance, the catalog's ``tolerance`` entry) and the bank bootstrap at K = 64, the
growth decision (``decide_growth``), then the same valuation and bootstrap on the grown banks. The
banks grow in whole chunks here (the decided K rounded up to a multiple of 64, at most the
half's samples; when both splits' rounds grow to the whole half they compare the same two
banks, and the output says so). It prints, per metric and split: the K the first measurement
asked for and the K reached, the achieved precision, the worst share error against the
reference, and how often the difference round − reference lies within z·√(se_round² + sd_ref²)
(nominal 95%); and the same for the round that does not grow (K = 64).

    PYTHONPATH=. .venv/bin/python bench/digits_banks.py --chunks 20   # the chunks first
    PYTHONPATH=. .venv/bin/python bench/money_growth.py               # cap 640 (half of 20)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from attribution.engine.estimators import ExactShapley
from attribution.engine.estimators.catalog import get_estimator
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.run import Valuation, value_contributors
from attribution.engine.valuation import PayoutTolerance
from attribution.engine.valuation.bank_growth import BankGrowth, GrowthDecision, decide_growth
from attribution.engine.valuation.bank_noise import BankSamples
from attribution.engine.valuation.round_noise import NoiseOptions, measure_round_noise
from bench.digits_banks import DEFAULT_OUT, available_chunks
from bench.machine import print_machine
from bench.money_grade import CHUNK, bank_samples, digits_setup

Values = NDArray[np.float64]
SECONDS_PER_SAMPLE = 0.037
"""Generation + featurization of one digits sample on one thread, from ``digits_banks.py``'s log
(≈ 47 s a chunk of 20 × 64): what the growth would cost a real round."""


@dataclass
class Compared:
    """One round against the reference."""

    k: int
    achieved_points: float
    worst_error_points: float
    covered: float
    seconds: float


def round_valuation(
    samples: BankSamples,
    sizes: list[int],
    metric: Metric,
    empty: EmptyValue,
    tolerance: PayoutTolerance,
    args: argparse.Namespace,
    seed: int,
) -> Valuation:
    """The round's own valuation and bank-noise measurement, as ``run_engine`` builds them."""
    estimator = get_estimator("tolerance").build(
        512, seed, args.replicates, tolerance=tolerance, time_budget_s=args.time_budget
    )
    return value_contributors(
        samples.statistics(),
        sizes,
        metric,
        estimator,
        empty_value=empty,
        samples=samples,
        noise=NoiseOptions(
            tolerance=tolerance,
            replicates=args.replicates,
            time_budget_s=args.time_budget,
            seed=seed,
        ),
    )


def reference_of(
    samples: BankSamples,
    sizes: list[int],
    metric: Metric,
    empty: EmptyValue,
    args: argparse.Namespace,
) -> tuple[Values, Values]:
    """Exact shares of the reference half and their bank-noise sd (bootstrap)."""
    game = ProxyGame(samples.statistics(), sizes, metric, empty)
    exact = ExactShapley().fit(game)
    total = exact.grand_value_ - exact.baseline_
    options = NoiseOptions(replicates=args.replicates, time_budget_s=args.time_budget, seed=99)
    measured = measure_round_noise(samples, sizes, metric, empty, None, options, game=game)
    if measured.noise is None:
        raise SystemExit(f"the reference's bank noise did not fit: {measured.reason}")
    return exact.values_ / total, measured.noise.share_sd


def compare(
    valuation: Valuation, k: int, reference: tuple[Values, Values], seconds: float
) -> Compared:
    total = valuation.grand_value - valuation.baseline
    shares = valuation.values / total
    noise = valuation.noise
    assert noise is not None
    assert noise.combined_stderr is not None
    round_sd = noise.combined_stderr / abs(total)
    ref_shares, ref_sd = reference
    z = PayoutTolerance().z
    within = np.abs(shares - ref_shares) <= z * np.sqrt(round_sd**2 + ref_sd**2)
    return Compared(
        k=k,
        achieved_points=float(noise.combined_points or math.nan),
        worst_error_points=100.0 * float(np.abs(shares - ref_shares).max()),
        covered=float(within.mean()),
        seconds=seconds,
    )


def run(args: argparse.Namespace) -> None:
    tolerance = PayoutTolerance(args.tolerance)
    sizes, metrics, empty = digits_setup()
    chunks = available_chunks(args.banks)
    half = len(chunks) // 2
    if half < 2:
        raise SystemExit(f"{len(chunks)} chunks on disk; run bench/digits_banks.py --chunks 20")
    cap = min(args.cap, CHUNK * half)
    halves = (chunks[:half], chunks[half : 2 * half])
    print(
        f"splits: 2 × (round on {half} chunks, reference on the other {half}: K_ref = "
        f"{CHUNK * half}); round K = {CHUNK} grows to at most {cap} (±{tolerance.percentage_points}"
        f" pp at 95%, {args.replicates} bootstrap replicates, {args.time_budget:.0f} s budget)"
    )
    for name in args.metrics:
        metric = metrics[name]
        print(f"\n=== {name} ===")
        rows: list[tuple[Compared, Compared, GrowthDecision]] = []
        for split, (mine, theirs) in enumerate((halves, halves[::-1])):
            start = time.perf_counter()
            reference = reference_of(
                bank_samples(args.banks, theirs), sizes, metric, empty[name], args
            )
            reference_s = time.perf_counter() - start
            start = time.perf_counter()
            pilot = round_valuation(
                bank_samples(args.banks, mine[:1]),
                sizes,
                metric,
                empty[name],
                tolerance,
                args,
                split,
            )
            before = compare(pilot, CHUNK, reference, time.perf_counter() - start)
            plan = pilot.noise.plan if pilot.noise is not None else None
            decision = decide_growth([plan], CHUNK, BankGrowth(cap))
            grown_chunks = min(half, max(1, math.ceil(decision.to_k / CHUNK)))
            start = time.perf_counter()
            grown = round_valuation(
                bank_samples(args.banks, mine[:grown_chunks]),
                sizes,
                metric,
                empty[name],
                tolerance,
                args,
                split,
            )
            after = compare(grown, CHUNK * grown_chunks, reference, time.perf_counter() - start)
            rows.append((before, after, decision))
            print(
                f"split {split}: {decision.reason}; reference sd worst "
                f"{100 * float(reference[1].max()):.3f} pp ({reference_s:.1f} s)"
            )
            for label, row in (("K = 64 (no growth)", before), (f"grown to K = {after.k}", after)):
                print(
                    f"  {label:<22} achieved ±{row.achieved_points:.3f} pp; worst share error vs "
                    f"reference {row.worst_error_points:.3f} pp; difference within its interval "
                    f"for {row.covered:.0%}; valuation + bootstrap {row.seconds:.1f} s"
                )
        if all(after.k == CHUNK * half for _, after, _ in rows):
            print(
                "  (both grown rounds used their whole half: the two splits then compare the same "
                "two banks, so their grown rows are one measurement, not two)"
            )
        extra = sum(after.k - CHUNK for _, after, _ in rows) / len(rows)
        minutes = extra * len(sizes) * SECONDS_PER_SAMPLE / 60
        print(
            f"summary {name}: worst share error {max(b.worst_error_points for b, _, _ in rows):.3f}"
            f" pp at K = 64 → {max(a.worst_error_points for _, a, _ in rows):.3f} pp grown; "
            f"coverage {np.mean([b.covered for b, _, _ in rows]):.0%} → "
            f"{np.mean([a.covered for _, a, _ in rows]):.0%}; the growth would generate "
            f"{extra:,.0f} more samples per contributor (≈ {minutes:.0f} min at "
            f"{SECONDS_PER_SAMPLE * 1000:.0f} ms a sample for {len(sizes)} contributors)"
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cap", type=int, default=640, help="grow to at most this K")
    parser.add_argument("--tolerance", type=float, default=0.25, help="± pp of the pool at 95%%")
    parser.add_argument("--replicates", type=int, default=20, help="bank bootstrap replicates")
    parser.add_argument("--time-budget", type=float, default=60.0, help="valuation seconds")
    parser.add_argument("--metrics", default="inception_score,neg_fid,label_fidelity,marker_free")
    args = parser.parse_args(argv)
    args.metrics = args.metrics.split(",")
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    print_machine(
        "Rounds that grow their banks to the payout tolerance (digits proxy games)",
        ("numpy", "catboost", "torch"),
        "torch 1 thread",
    )
    run(args)
    print(f"\ntotal wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main(sys.argv[1:])
