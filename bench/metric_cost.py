"""Per-coalition cost and peak memory of each pool metric at its real feature width.

The metrics the text-to-image profile composes (aesthetic, prompt_fidelity, artefact_free,
clip_diversity, inception_score, neg_fid) on synthetic sufficient statistics for n = 20, 100 and
1,000 contributors with K = 64 samples per bank: scalar scores for the mean-score metrics, C = 16
zero-shot classes for clip_diversity, Inception's C = 1008 classes for the Inception Score, and for
the Fréchet distance Gaussian feature rows at CLIP ViT-L/14's d = 768 and Inception's d = 2048
against a reference with a full-rank covariance.

The cheap metrics are timed through ``ProxyGame`` on 4,096 random coalitions (mixture weights
included; the fastest of 5 calls); their peak memory is tracemalloc's. The Fréchet distance runs
in a child process per (n, d), so its peak resident memory (VmHWM) is its own. Its table gives the
one-off setup (the reference square root; the rotation of every bank's rows), the cost of one
coalition of 1 member, of the grand coalition N (whose call also builds the dense moments or the
grand sum), of n/2 and of n − 1 members (R = 64, 64 n, 32 n and 64 (n − 1) rows), and the form
each took: "Gram" when R ≤ d; else "dense" (the per-bank moments, when they fit in half the
2 GiB budget); else "compl" (the grand sum minus the missing banks' rows, when those are fewer);
else "blocks" (the coalition's rows in blocks). Memory: the statistics' rows, and the child's peak
above its resident size before the metric existed. Ratios are against n = 20 in the same run.
One BLAS/OpenMP thread throughout.

    PYTHONPATH=. .venv/bin/python bench/metric_cost.py            # n = 20, 100, 1,000 (minutes)
    PYTHONPATH=. .venv/bin/python bench/metric_cost.py --quick    # n = 20 and 100 only
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread: must be set before numpy loads its BLAS (threadpoolctl enforces it too).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from attribution.engine.games.proxy import Metric, ProxyGame
from attribution.engine.metrics import (
    AestheticScore,
    ArtefactFreeRate,
    BankStatistics,
    InceptionScore,
    NegativeFrechetDistance,
    PromptFidelity,
    ZeroShotDiversity,
    mixture_weights,
)

K = 64
N_COALITIONS = 4096
ZERO_SHOT_CLASSES = 16
INCEPTION_CLASSES = 1008
WIDTHS = {"CLIP ViT-L/14": 768, "Inception-v3": 2048}
SEED = 0
REPEATS = 5
MiB = 2**20


def random_masks(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """m coalitions with sizes uniform in 1 … n, members uniform given the size."""
    sizes = rng.integers(1, n + 1, size=m)
    order = rng.random((m, n)).argsort(axis=1)
    return order < sizes[:, None]


def cheap_statistics(n: int, rng: np.random.Generator) -> BankStatistics:
    """Bank means of every score the cheap metrics read, and class means for IS."""
    classes = rng.dirichlet(np.full(INCEPTION_CLASSES, 0.05), size=n)
    return BankStatistics(
        n_samples=np.full(n, K),
        probability_mean=classes,
        negative_entropy_mean=-rng.uniform(0.1, 2.0, size=n),
        score_means={
            "aesthetic": rng.normal(5.0, 1.0, size=n),
            "prompt_fidelity": rng.uniform(0.1, 0.4, size=n),
            "artefact": rng.uniform(0.0, 0.3, size=n),
            "zero_shot": rng.dirichlet(np.ones(ZERO_SHOT_CLASSES), size=n),
        },
    )


CHEAP: dict[str, tuple[Callable[[], Metric], str]] = {
    "aesthetic": (AestheticScore, "scalar per bank"),
    "prompt_fidelity": (PromptFidelity, "scalar per bank"),
    "artefact_free": (ArtefactFreeRate, "scalar per bank"),
    "clip_diversity": (ZeroShotDiversity, f"C = {ZERO_SHOT_CLASSES}"),
    "inception_score": (InceptionScore, f"C = {INCEPTION_CLASSES}"),
}


def time_cheap(n: int) -> dict[str, tuple[float, float]]:
    """Metric name → (µs per coalition, tracemalloc peak MiB) over 4,096 coalitions."""
    rng = np.random.default_rng(SEED)
    statistics = cheap_statistics(n, rng)
    masks = random_masks(n, N_COALITIONS, rng)
    sizes = rng.integers(1, 100, size=n)
    result = {}
    for name, (factory, _) in CHEAP.items():
        game = ProxyGame(statistics, sizes, factory(), empty_value=0.0)
        game(masks[:16])  # warm-up
        tracemalloc.start()
        game(masks)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        seconds = []
        for _ in range(REPEATS):  # the fastest of a few: other processes only ever slow it down
            start = time.perf_counter()
            game(masks)
            seconds.append(time.perf_counter() - start)
        result[name] = (min(seconds) / N_COALITIONS * 1e6, peak / MiB)
    return result


def resident_mib(field: str) -> float:
    """VmRSS or VmHWM of this process in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def frechet_child(n: int, d: int) -> dict[str, Any]:
    """One (n, d) Fréchet measurement; run in its own process for an honest VmHWM."""
    rng = np.random.default_rng(SEED)
    rows = rng.standard_normal((n * K, d))
    rows += np.repeat(rng.normal(0.0, 0.5, size=(n, d)), K, axis=0)  # a mean per bank
    rows.setflags(write=False)
    means = rows.reshape(n, K, d).mean(axis=1)
    statistics = BankStatistics(n_samples=np.full(n, K), feature_mean=means, feature_rows=rows)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    reference_covariance = mixing @ mixing.T + 0.1 * np.eye(d)
    reference_mean = rng.normal(0.0, 0.3, size=d)
    before = resident_mib("VmRSS")
    start = time.perf_counter()
    metric = NegativeFrechetDistance(reference_mean, reference_covariance, backend="numpy")
    root_seconds = time.perf_counter() - start
    sizes = rng.integers(1, 100, size=n)
    first = np.zeros((1, n), dtype=bool)
    first[0, 0] = True  # not np.eye(n)[:1]: that builds n² booleans (10 GB at n = 100,000)
    singleton = mixture_weights(first, sizes)
    start = time.perf_counter()
    metric(statistics, singleton)  # the first call rotates every bank's rows once
    rotate_seconds = time.perf_counter() - start
    timings = {}
    for label, members in (("1", 1), ("N", n), ("n/2", n // 2), ("n-1", n - 1)):
        mask = np.zeros((1, n), dtype=bool)
        mask[0, rng.permutation(n)[:members]] = True
        weights = mixture_weights(mask, sizes)
        repeats = 20 if members * K <= d else 1
        start = time.perf_counter()
        for _ in range(repeats):
            metric(statistics, weights)
        timings[label] = (time.perf_counter() - start) / repeats
    return {
        "root_s": root_seconds,
        "rotate_s": rotate_seconds - timings["1"],
        "per_coalition_s": timings,
        "dense": metric.keeps_dense_moments,
        "rows_mib": rows.nbytes / MiB,
        "before_mib": before,
        "peak_mib": resident_mib("VmHWM"),
    }


def form(members: int, n: int, d: int, dense: bool | None) -> str:
    """Which form the metric takes for a coalition of ``members`` banks (see frechet.py)."""
    rows, missing = members * K, (n - members) * K
    if rows <= d:
        return "Gram"
    if dense:
        return "dense"
    return "compl" if missing < rows else "blocks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 20 and 100 only")
    parser.add_argument("--child", nargs=2, type=int, metavar=("N", "D"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with threadpool_limits(1):
            print(json.dumps(frechet_child(*args.child)))
        return

    from bench.machine import print_machine

    print_machine("Pool metrics: per-coalition cost and memory at real widths", ("numpy",))
    ns = (20, 100) if args.quick else (20, 100, 1000)
    print(f"\nK = {K} samples per bank; cheap metrics over {N_COALITIONS:,} random coalitions")
    print(f"{'metric':16} {'statistic':16}" + "".join(f" {f'n={n} µs':>11}" for n in ns), end="")
    print(f" {'ratio n=' + str(ns[-1]) + '/20':>14} {'peak MiB (max n)':>17}")
    with threadpool_limits(1):
        cheap = {n: time_cheap(n) for n in ns}
    for name, (_, statistic) in CHEAP.items():
        costs = [cheap[n][name][0] for n in ns]
        print(f"{name:16} {statistic:16}" + "".join(f" {c:11.2f}" for c in costs), end="")
        print(f" {costs[-1] / costs[0]:14.1f} {cheap[ns[-1]][name][1]:17.1f}")

    print(
        "\nneg_fid (Fréchet distance), one coalition per call, seconds (N: the first large "
        "coalition also builds the dense moments or the grand sum);\n×n=20: the n − 1 member "
        "cost over n = 20's;\nrows: the statistics' feature rows; peak+: the process's peak "
        "resident memory above its size before the metric existed (MiB)"
    )
    header = (
        f"{'space':14} {'d':>5} {'n':>5} {'sqrt Σ_r':>9} {'rotate':>8}   "
        + "".join(f"{c:>16}   " for c in ("1 member", "N (first large)", "n/2", "n-1"))
        + f"{'×n=20':>6} {'rows':>7} {'peak+':>7}"
    )
    print(header)
    for space, d in WIDTHS.items():
        base: dict[str, float] = {}
        for n in ns:
            output = subprocess.run(
                [sys.executable, __file__, "--child", str(n), str(d)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(output.strip().splitlines()[-1])
            per = result["per_coalition_s"]
            cells = []
            for label, members in (("1", 1), ("N", n), ("n/2", n // 2), ("n-1", n - 1)):
                kind = form(members, n, d, result["dense"])
                cells.append(f"{per[label]:9.4f} {kind:>6}   ")
                base.setdefault(label, per[label])
            extra = result["peak_mib"] - result["before_mib"]
            ratio = per["n-1"] / base["n-1"]
            print(
                f"{space:14} {d:5d} {n:5d} {result['root_s']:9.2f} {result['rotate_s']:8.2f}   "
                + "".join(cells)
                + f"{ratio:6.1f} {result['rows_mib']:7.0f} {extra:7.0f}",
                flush=True,
            )
    print(
        "\nThe previous dense form needed n·d²·8 bytes of per-bank moments (n = 1,000, d = 2048: "
        f"{1000 * 2048**2 * 8 / 2**30:.1f} GiB) and batch·d²·8 per batch of coalitions (4,096 at "
        f"d = 2048: {4096 * 2048**2 * 8 / 2**30:.0f} GiB); computed, not run."
    )


if __name__ == "__main__":
    main()
