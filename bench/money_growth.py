"""Rounds that grow their banks to the payout tolerance, on the digits proxy games, checked
against banks they never saw.

Uses the per-sample chunks of ``bench/digits_banks.py`` (64 samples per contributor each, every
chunk an independent draw). The chunks are split in two halves; in each *split* one half feeds the
round and the other is the *reference* (exact Shapley values of its proxy game at K_ref = 64 ×
half), so the reference shares no sample with the round — and, being finite, has bank noise of
its own, measured here by the same bootstrap and included in the comparison.

A round does what ``run_round`` does with a growth allowance (``--cap``): the default estimator
(to the tolerance, the catalog's ``tolerance`` entry) and the bank bootstrap at K = 64, the
growth decision (``decide_growth``), then the same valuation and bootstrap on the grown banks.
The growth rules (``--rules``) run from the same first measurement: *targeted* (each bank grows
to the K its own contributor's share needs, and to at least the default floor's fraction of the
largest — a quarter), *targeted:F* (the same with floor F: ``targeted:0`` has none) and *uniform*
(every bank to the largest need). A
grown bank is the first K_j samples of its contributor's half (at most the half's samples; when
both splits' rounds grow every bank to the whole half they compare the same two banks, and the
output says so). It prints, per metric, split and rule: the samples the growth adds, the
achieved precision, the worst share error against the reference, and how often the difference
round − reference lies within z·√(se_round² + sd_ref²) (nominal 95%); and the same for the
round that does not grow (K = 64).

    PYTHONPATH=. .venv/bin/python bench/digits_banks.py --chunks 40   # the chunks first
    PYTHONPATH=. .venv/bin/python bench/money_growth.py --chunks 40   # K_ref = 1,280, cap 1,280
    PYTHONPATH=. .venv/bin/python bench/money_growth.py --cap 5120 --rules targeted,uniform
        # with 160 chunks on disk: K_ref = 5,120, allowance 5,120
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

from attribution.engine.estimators import ExactShapley
from attribution.engine.estimators.catalog import get_estimator
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.run import Valuation, value_contributors
from attribution.engine.valuation import PayoutTolerance
from attribution.engine.valuation.bank_growth import BankGrowth, decide_growth
from attribution.engine.valuation.bank_noise import BankSamples
from attribution.engine.valuation.round_noise import NoiseOptions, measure_round_noise
from bench.digits_banks import DEFAULT_OUT, available_chunks
from bench.machine import print_machine
from bench.money_grade import CHUNK, bank_samples, digits_setup

RULES = ("targeted", "targeted:0", "targeted:0.5", "uniform")
"""``targeted`` (the default floor), ``targeted:F`` (every bank at least F × the largest) and
``uniform``."""


def growth_rule(rule: str, cap: int) -> BankGrowth:
    """The allowance a ``--rules`` entry stands for."""
    if rule == "uniform":
        return BankGrowth(cap, targeted=False)
    if rule == "targeted":
        return BankGrowth(cap)
    return BankGrowth(cap, floor=float(rule.removeprefix("targeted:")))


Values = NDArray[np.float64]
SECONDS_PER_SAMPLE = 0.037
"""Generation + featurization of one digits sample on one thread, from ``digits_banks.py``'s log
(≈ 47 s a chunk of 20 × 64): what the growth would cost a real round."""


@dataclass
class Compared:
    """One round against the reference."""

    k: int
    """The largest bank."""
    added: int
    """Samples the growth added, all contributors together."""
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


def first_samples(samples: BankSamples, sizes: list[int]) -> BankSamples:
    """Each contributor's first ``sizes[j]`` samples (a bank grown to that size)."""

    def cut(entries: Sequence[ArrayLike]) -> list[NDArray[np.float64]]:
        return [np.asarray(e)[:k] for e, k in zip(entries, sizes, strict=True)]

    return BankSamples(
        probabilities=None if samples.probabilities is None else cut(samples.probabilities),
        features=None if samples.features is None else cut(samples.features),
        scores={name: cut(rows) for name, rows in samples.scores.items()},
    )


def reference_floor(reference_sd: Values, draws: int = 20_000) -> float:
    """E max_i |e_i| in pp for e_i ~ N(0, sd_i²): the worst share error the reference's own bank
    noise alone puts on the comparison (what a round with infinite banks would show)."""
    rng = np.random.default_rng(0)
    errors = np.abs(rng.standard_normal((draws, len(reference_sd))) * reference_sd)
    return 100.0 * float(errors.max(axis=1).mean())


def compare(
    valuation: Valuation,
    sizes: list[int],
    reference: tuple[Values, Values],
    seconds: float,
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
        k=max(sizes),
        added=sum(sizes) - CHUNK * len(sizes),
        achieved_points=float(noise.combined_points or math.nan),
        worst_error_points=100.0 * float(np.abs(shares - ref_shares).max()),
        covered=float(within.mean()),
        seconds=seconds,
    )


def run(args: argparse.Namespace) -> None:
    tolerance = PayoutTolerance(args.tolerance)
    sizes, metrics, empty = digits_setup()
    n = len(sizes)
    chunks = available_chunks(args.banks)[: args.chunks or None]
    half = len(chunks) // 2
    if half < 2:
        raise SystemExit(f"{len(chunks)} chunks on disk; run bench/digits_banks.py --chunks 40")
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
        rows: dict[str, list[Compared]] = {"K = 64": [], **{rule: [] for rule in args.rules}}
        for split, (mine, theirs) in enumerate((halves, halves[::-1])):
            start = time.perf_counter()
            reference = reference_of(
                bank_samples(args.banks, theirs), sizes, metric, empty[name], args
            )
            reference_s = time.perf_counter() - start
            full = bank_samples(args.banks, mine)
            start = time.perf_counter()
            first = [CHUNK] * n
            pilot = round_valuation(
                first_samples(full, first), sizes, metric, empty[name], tolerance, args, split
            )
            rows["K = 64"].append(compare(pilot, first, reference, time.perf_counter() - start))
            plan = pilot.noise.plan if pilot.noise is not None else None
            print(
                f"split {split}: reference sd worst {100 * float(reference[1].max()):.3f} pp, so "
                f"even an exact round would show a worst error of "
                f"{reference_floor(reference[1]):.3f} pp against it on average "
                f"({reference_s:.1f} s); the first measurement asks for K = "
                f"{'—' if plan is None or plan.required_k is None else f'{plan.required_k:,}'}"
            )
            for rule in args.rules:
                decision = decide_growth([plan], CHUNK, growth_rule(rule, cap))
                grown_sizes = [CHUNK + extra for extra in decision.extra_samples(n)]
                start = time.perf_counter()
                grown = round_valuation(
                    first_samples(full, grown_sizes),
                    sizes,
                    metric,
                    empty[name],
                    tolerance,
                    args,
                    split,
                )
                rows[rule].append(
                    compare(grown, grown_sizes, reference, time.perf_counter() - start)
                )
                print(f"  {rule}: {decision.reason}")
            for label, runs in rows.items():
                row = runs[-1]
                print(
                    f"  {label:<12} +{row.added:>6,} samples (largest bank {row.k:,}): achieved "
                    f"±{row.achieved_points:.3f} pp; worst share error vs reference "
                    f"{row.worst_error_points:.3f} pp; difference within its interval for "
                    f"{row.covered:.0%}; valuation + bootstrap {row.seconds:.1f} s"
                )
        for rule in args.rules:
            if all(row.added == (CHUNK * half - CHUNK) * n for row in rows[rule]):
                print(
                    f"  ({rule}: both grown rounds used their whole half: the two splits then "
                    "compare the same two banks, so their grown rows are one measurement)"
                )
        for label, runs in rows.items():
            added = sum(row.added for row in runs) / len(runs)
            minutes = added * SECONDS_PER_SAMPLE / 60
            print(
                f"summary {name} {label}: worst share error "
                f"{max(row.worst_error_points for row in runs):.3f} pp (mean of splits "
                f"{np.mean([row.worst_error_points for row in runs]):.3f}); coverage "
                f"{np.mean([row.covered for row in runs]):.0%}; achieved ±"
                f"{max(row.achieved_points for row in runs):.3f} pp; {added:,.0f} more samples "
                f"(≈ {minutes:.0f} min at {SECONDS_PER_SAMPLE * 1000:.0f} ms a sample)"
            )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banks", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--chunks", type=int, default=0, help="use the first N chunks on disk (0: all of them)"
    )
    parser.add_argument("--cap", type=int, default=1280, help="grow to at most this K")
    parser.add_argument("--rules", default=",".join(RULES), help="growth rules to compare")
    parser.add_argument("--tolerance", type=float, default=0.25, help="± pp of the pool at 95%%")
    parser.add_argument("--replicates", type=int, default=20, help="bank bootstrap replicates")
    parser.add_argument("--time-budget", type=float, default=60.0, help="valuation seconds")
    parser.add_argument("--metrics", default="inception_score,neg_fid,label_fidelity,marker_free")
    args = parser.parse_args(argv)
    args.metrics = args.metrics.split(",")
    args.rules = args.rules.split(",")
    for rule in args.rules:
        try:
            growth_rule(rule, 1)
        except ValueError:
            parser.error(f"--rules takes uniform, targeted or targeted:F, got {rule!r}")
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
