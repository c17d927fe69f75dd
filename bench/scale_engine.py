"""The engine at 20 … 100,000 contributors: metric cost and memory, valuation time, the chord.

Four parts, each measured in this one run (``--parts`` picks some):

1. ``metrics``: per-coalition cost and peak memory of every proxy metric by n and feature width.
   The cheap metrics (aesthetic, prompt_fidelity, artefact_free: a scalar per bank;
   clip_diversity: 16 zero-shot classes; inception_score: Inception's 1008 classes) do not read
   the features, so their cost is the same at every width; each is timed two ways on the same
   statistics: a random coalition through ``ProxyGame(masks)`` (a weight row of n per
   coalition, O(n · k)) and one prefix step of ``ProxyGame.prefix_utilities`` (the incremental
   path permutation sampling uses, O(k)); memory is tracemalloc's peak of each call. The Fréchet
   distance (neg_fid, the one metric that is not pooled, so permutation sampling evaluates its
   prefixes as coalitions) is ``bench/metric_cost.py``'s child process per (n, d), its peak
   resident memory its own; a combination whose estimated memory passes ``--max-gib`` is skipped
   with the estimate.
2. ``valuation``: wall time of each estimator's default on the inception_score proxy game (the
   costliest cheap metric) at n = 100, 1,000, 10,000, one child process per run, killed at
   ``--cap-s`` ("over cap"): ToleranceShapley (the round's default, its default time budget),
   PermutationShapley (incremental prefixes; and on the mask path, the game wrapped so it cannot
   offer prefixes), KernelShapley, SurrogateShapley and CrossFitSurrogateShapley at the round's
   default budget of 512. The precision column is 1.96 × the worst standard error over
   |v(N) − v(∅)|, in percentage points of the pool (the money-grade target is ±0.25 pp).
3. ``chord``: a distributed round of n contributors with instant fake generation
   (``tests/attribution/fake_units.py`` with 0 s per bank: the real store writes, no model), in a
   throwaway test database: the same calls the Celery tasks make, in one process and without a
   broker (claim, ``plan_units``, every ``run_bank_unit``, ``value_claimed_round``): messages and
   their size, queries and wall time per unit and per contributor, total wall time.
4. ``web-postgres``: a throwaway PostgreSQL cluster on 127.0.0.1 (``tests/attribution/servers.py``,
   started and stopped within ``--pg-timeout-s``) running ``bench/scale_web.py``'s page figures
   and this script's chord part on PostgreSQL.

One BLAS/OpenMP thread throughout; CatBoost ``thread_count=1``.

    PYTHONPATH=. nice -n 10 .venv/bin/python bench/scale_engine.py           # full (~25 min)
    PYTHONPATH=. .venv/bin/python bench/scale_engine.py --quick              # a few minutes
    PYTHONPATH=. .venv/bin/python bench/scale_engine.py --parts valuation --cap-s 60
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
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.metric_cost import CHEAP, INCEPTION_CLASSES, K, MiB, cheap_statistics, random_masks

ROOT = Path(__file__).resolve().parents[1]
GiB = 2**30
SEED = 0
ESTIMATORS = ("tolerance", "permutation", "permutation (masks)", "kernel", "surrogate", "crossfit")
EXTRA_ESTIMATORS = ("surrogate (cv search)", "crossfit (cv search)")
"""Not run by default: the depth searches as they were (every candidate depth cross-validated
on every fold at full iterations), for the before/after ratio."""
ROUND_BUDGET = 512
MASK_PATH_MAX_N = 1000  # the mask path's memo and (2, n + 1, n) masks: pointless beyond


def resident_mib(field: str) -> float:
    """VmRSS or VmHWM of this process in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_child(arguments: list[str], timeout: float, env: dict[str, str] | None = None) -> Any:
    """Run this script with ``arguments`` and return the JSON of its last line, or None after
    ``timeout`` seconds (the child is killed)."""
    try:
        output = subprocess.run(
            [sys.executable, __file__, *arguments],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
        ).stdout
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as error:
        tail = (error.stderr or "").strip().splitlines()[-3:]
        return {"error": " / ".join(tail)}
    return json.loads(output.strip().splitlines()[-1])


# ---------------------------------------------------------------- 1. metrics


def cheap_child(n: int) -> dict[str, Any]:
    """Per metric: µs per coalition (masks) and per prefix (incremental), tracemalloc peaks."""
    from attribution.engine.games.proxy import ProxyGame

    rng = np.random.default_rng(SEED)
    statistics = cheap_statistics(n, rng)
    sizes = rng.integers(1, 100, size=n)
    n_masks = int(min(4096, max(8, 2**22 // n)))
    masks = random_masks(n, n_masks, rng)
    n_orders = int(max(2, 2**17 // n))
    orders = np.argsort(rng.random((n_orders, n)), axis=1)
    result: dict[str, Any] = {"coalitions": n_masks, "prefixes": n_orders * n}
    for name, (factory, _) in CHEAP.items():
        game = ProxyGame(statistics, sizes, factory(), empty_value=0.0)
        game(masks[:2])
        game.prefix_utilities(orders[:1])  # warm-up
        row = {}
        for label, call, count in (
            ("mask", lambda game=game: game(masks), n_masks),
            ("prefix", lambda game=game: game.prefix_utilities(orders), n_orders * n),
        ):
            tracemalloc.start()
            call()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            seconds = []
            for _ in range(3 if n <= 10_000 else 1):
                start = time.perf_counter()
                call()
                seconds.append(time.perf_counter() - start)
            row[label] = (min(seconds) / count * 1e6, peak / MiB)
        result[name] = row
    result["statistics_mib"] = (
        statistics.probability_mean.nbytes  # type: ignore[union-attr]
        + sum(array.nbytes for array in statistics.score_means.values())
    ) / MiB
    return result


def frechet_estimate_gib(n: int, d: int) -> float:
    """Peak memory of metric_cost's Fréchet child: the rows three times (drawn, rotated and a
    temporary of the per-bank means), the dense moments when they fit in 1 GiB, d × d work."""
    rows = n * K * d * 8
    dense = n * d * d * 8
    return (3 * rows + (dense if dense <= GiB else 0) + 8 * d * d * 8) / GiB


def metrics_part(ns: list[int], widths: list[int], max_gib: float, cap_s: float) -> None:
    print(
        f"\n== 1. per-coalition cost and memory (K = {K} samples per bank; one thread) ==\n"
        "cheap metrics: the same at every feature width (they read bank means of scores or "
        "classes, never the features);\nmask: one random coalition through ProxyGame(masks); "
        "prefix: one step of ProxyGame.prefix_utilities (permutation sampling's path)"
    )
    cheap: dict[int, Any] = {}
    for n in ns:
        cheap[n] = run_child(["--child-cheap", str(n)], timeout=cap_s)
    header = f"{'metric':16} {'n':>7} {'mask µs':>11} {'prefix µs':>10} {'mask/prefix':>12}"
    print(header + f" {'mask peak MiB':>14} {'prefix peak MiB':>16} {'statistics MiB':>15}")
    for name in CHEAP:
        for n in ns:
            result = cheap[n]
            if result is None or "error" in result:
                why = "over cap" if result is None else result["error"]
                print(f"{name:16} {n:7d} {why}")
                continue
            (mask, mask_peak), (prefix, prefix_peak) = result[name]["mask"], result[name]["prefix"]
            print(
                f"{name:16} {n:7d} {mask:11.2f} {prefix:10.3f} {mask / prefix:12.0f} "
                f"{mask_peak:14.1f} {prefix_peak:16.1f} {result['statistics_mib']:15.1f}"
            )
    first, last = ns[0], ns[-1]
    if cheap[first] and cheap[last] and "error" not in cheap[first] and "error" not in cheap[last]:
        print(f"growth n = {last:,} over n = {first}:")
        for name in CHEAP:
            mask = cheap[last][name]["mask"][0] / cheap[first][name]["mask"][0]
            prefix = cheap[last][name]["prefix"][0] / cheap[first][name]["prefix"][0]
            print(
                f"  {name:16} mask ×{mask:8.1f}   prefix ×{prefix:6.2f}   (n ×{last / first:,.0f})"
            )

    print(
        "\nneg_fid (Fréchet distance, not pooled: permutation prefixes cost a coalition each); "
        "seconds per coalition of 1, n/2 and n − 1 members;\nsetup: the reference square root "
        "and the rotation of every bank's rows (once); peak: the child's peak resident memory"
    )
    print(
        f"{'d':>5} {'n':>7} {'setup s':>8} {'1 member':>10} {'N (first)':>10} {'n/2':>10} "
        f"{'n-1':>10} {'rows MiB':>9} {'peak MiB':>9}"
    )
    for d in widths:
        for n in ns:
            estimate = frechet_estimate_gib(n, d)
            if estimate > max_gib:
                print(
                    f"{d:5d} {n:7d} skipped: needs about {estimate:.1f} GiB "
                    f"(rows {n * K * d * 8 / GiB:.1f} GiB, kept and rotated) > --max-gib {max_gib}"
                )
                continue
            try:
                output = subprocess.run(
                    [sys.executable, str(ROOT / "bench/metric_cost.py"), "--child", str(n), str(d)],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=cap_s,
                    cwd=ROOT,
                ).stdout
            except subprocess.TimeoutExpired:
                print(f"{d:5d} {n:7d} over cap ({cap_s:.0f} s)")
                continue
            result = json.loads(output.strip().splitlines()[-1])
            per = result["per_coalition_s"]
            print(
                f"{d:5d} {n:7d} {result['root_s'] + result['rotate_s']:8.2f} {per['1']:10.5f} "
                f"{per['N']:10.4f} {per['n/2']:10.4f} {per['n-1']:10.4f} "
                f"{result['rows_mib']:9.0f} {result['peak_mib']:9.0f}",
                flush=True,
            )


# ---------------------------------------------------------------- 2. valuation


def valuation_game(n: int) -> Any:
    """The inception_score proxy game on metric_cost's synthetic statistics (C = 1008)."""
    from attribution.engine.games.proxy import ProxyGame
    from attribution.engine.metrics import InceptionScore

    rng = np.random.default_rng(SEED)
    statistics = cheap_statistics(n, rng)
    return ProxyGame(statistics, rng.integers(1, 100, size=n), InceptionScore(), "floor")


def valuation_child(estimator: str, n: int) -> dict[str, Any]:
    """Fit one estimator's defaults and describe the fit."""
    from attribution.engine import FunctionGame, KernelShapley, PermutationShapley, SurrogateShapley
    from attribution.engine.estimators import CrossFitSurrogateShapley
    from attribution.engine.valuation import ToleranceShapley

    game = valuation_game(n)
    factories = {
        "tolerance": lambda: ToleranceShapley(seed=SEED),
        "permutation": lambda: PermutationShapley(seed=SEED),
        "permutation (masks)": lambda: PermutationShapley(seed=SEED),
        "kernel": lambda: KernelShapley(seed=SEED),
        "surrogate": lambda: SurrogateShapley(budget=ROUND_BUDGET, seed=SEED),
        "crossfit": lambda: CrossFitSurrogateShapley(budget=ROUND_BUDGET, seed=SEED),
        "surrogate (cv search)": lambda: SurrogateShapley(
            budget=ROUND_BUDGET, seed=SEED, selection="cross_validation"
        ),
        "crossfit (cv search)": lambda: CrossFitSurrogateShapley(
            budget=ROUND_BUDGET, seed=SEED, selection="cross_fit"
        ),
    }
    target = FunctionGame(n, game) if estimator == "permutation (masks)" else game
    start = time.perf_counter()
    fitted = factories[estimator]().fit(target)
    seconds = time.perf_counter() - start
    total = fitted.grand_value_ - fitted.baseline_
    precision = None
    if fitted.stderr_ is not None and total != 0:
        precision = 100 * 1.96 * float(np.max(fitted.stderr_)) / abs(total)
    notes = []
    if hasattr(fitted, "valuation_"):
        valuation = fitted.valuation_
        notes.append(f"ran {valuation.estimator}, {'met' if valuation.met else 'NOT met'}")
        inner = valuation.fitted
        if hasattr(inner, "n_permutations_"):
            notes.append(f"{inner.n_permutations_:,} permutations")
    elif hasattr(fitted, "n_permutations_"):
        notes.append(f"{fitted.n_permutations_:,} permutations")
    if hasattr(fitted, "n_model_fits_"):
        notes.append(f"{fitted.n_model_fits_} CatBoost fits ({fitted.selection_})")
    for attribute in ("cv_r2_", "oof_r2_"):
        value = getattr(fitted, attribute, None)
        if value is not None:
            notes.append(f"{attribute.rstrip('_')} {value:.2f}")
    shares = fitted.values_ / total if total else np.zeros(n)
    return {
        "seconds": seconds,
        "evaluations": int(fitted.n_evaluations_),
        "precision_pp": precision,
        "largest_share_pp": 100 * float(np.abs(shares).max()),
        "notes": "; ".join(notes),
        "peak_mib": resident_mib("VmHWM"),
    }


def valuation_part(ns: list[int], cap_s: float, estimators: tuple[str, ...] = ESTIMATORS) -> None:
    print(
        f"\n== 2. valuation wall time, inception_score (C = {INCEPTION_CLASSES}) proxy game, "
        f"one thread, each run capped at {cap_s:.0f} s ==\n"
        "precision: 1.96 × worst standard error / |v(N) − v(∅)|, pp of the pool (target ±0.25); "
        f"surrogate and crossfit at the round's default budget of {ROUND_BUDGET}"
    )
    print(
        f"{'estimator':20} {'n':>6} {'wall s':>9} {'evaluations':>12} {'± pp 95%':>9} "
        f"{'max share pp':>13} {'peak MiB':>9}  notes"
    )
    walls: dict[tuple[str, int], float] = {}
    for estimator in estimators:
        for n in ns:
            if estimator == "permutation (masks)" and n > MASK_PATH_MAX_N:
                print(f"{estimator:20} {n:6d} not run (the mask path holds (2, n+1, n) masks)")
                continue
            result = run_child(["--child-valuation", estimator, str(n)], timeout=cap_s)
            if result is None:
                print(f"{estimator:20} {n:6d} over cap (> {cap_s:.0f} s)", flush=True)
                continue
            if "error" in result:
                print(f"{estimator:20} {n:6d} failed: {result['error']}", flush=True)
                continue
            walls[estimator, n] = result["seconds"]
            precision = result["precision_pp"]
            shown = "—" if precision is None else f"{precision:.3f}"
            print(
                f"{estimator:20} {n:6d} {result['seconds']:9.1f} {result['evaluations']:12,d} "
                f"{shown:>9} {result['largest_share_pp']:13.3f} {result['peak_mib']:9.0f}  "
                f"{result['notes']}",
                flush=True,
            )
    for n in ns:
        for slow, fast in (
            ("permutation (masks)", "permutation"),
            ("surrogate (cv search)", "surrogate"),
            ("crossfit (cv search)", "crossfit"),
        ):
            if (slow, n) in walls and (fast, n) in walls:
                ratio = walls[slow, n] / walls[fast, n]
                print(f"{fast} at n = {n:,}: {slow} / default = {ratio:.1f}×")


# ---------------------------------------------------------------- 3. chord


def chord_child(n: int) -> dict[str, Any]:
    """One distributed round of n contributors, in a throwaway test database."""
    import tempfile

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ["CREDITSHARE_FAKE_UNIT_SECONDS"] = "0"
    os.environ.pop("CREDITSHARE_FAKE_UNIT_LOG", None)
    import django

    django.setup()
    from django.db import connection
    from django.test.runner import DiscoverRunner
    from django.test.utils import (
        CaptureQueriesContext,
        override_settings,
        setup_test_environment,
    )

    from attribution.models import ValuationRound
    from attribution.rounds.fanout import (
        claim_for_dispatch,
        plan_units,
        run_bank_unit,
        value_claimed_round,
    )
    from attribution.rounds.services import start_round
    from attribution.synthetic_marketplace import seed_synthetic_marketplace

    setup_test_environment()
    runner = DiscoverRunner(verbosity=0)
    databases = runner.setup_databases()
    try:
        market = seed_synthetic_marketplace(n, prefix="c")
        start_round(market.draft_round_id, enqueue=False)
        owner = "dispatch:scale-bench"
        with (
            tempfile.TemporaryDirectory() as cache,
            override_settings(
                ENGINE_BANK_RUNNER="tests.attribution.fake_units.slow_bank_unit",
                ENGINE_RUNNER="tests.attribution.fake_units.value_from_banks",
                ENGINE_CACHE_DIR=Path(cache),
            ),
        ):
            began = time.perf_counter()
            config = claim_for_dispatch(market.draft_round_id, owner)
            assert config is not None
            units = plan_units(config)
            sizes = [len(json.dumps(unit)) for unit in units]
            dispatch_s = time.perf_counter() - began
            unit_seconds, unit_queries = [], []
            for unit in units:
                # The log keeps 9,000 queries: cleared, or a long round counts 0 once it is full.
                connection.queries_log.clear()
                with CaptureQueriesContext(connection) as queries:
                    start = time.perf_counter()
                    run_bank_unit(market.draft_round_id, unit, owner)
                    unit_seconds.append(time.perf_counter() - start)
                unit_queries.append(len(queries))
            start = time.perf_counter()
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as queries:
                written = value_claimed_round(market.draft_round_id, owner)
            value_s = time.perf_counter() - start
            value_queries = len(queries)
            total_s = time.perf_counter() - began
        state = ValuationRound.objects.get(pk=market.draft_round_id).status
        contributors = [len(unit["contributors"]) for unit in units]
    finally:
        runner.teardown_databases(databases)
    return {
        "database": connection.vendor,
        "messages": len(units),
        "message_bytes_max": max(sizes),
        "message_bytes_mean": float(np.mean(sizes)),
        "contributors_per_unit": max(contributors),
        "unit_s_mean": float(np.mean(unit_seconds)),
        "unit_s_max": float(np.max(unit_seconds)),
        "unit_queries_max": max(unit_queries),
        "unit_queries_min": min(unit_queries),
        "dispatch_s": dispatch_s,
        "value_s": value_s,
        "value_queries": value_queries,
        "total_s": total_s,
        "written": written,
        "status": str(state),
    }


def chord_part(ns: list[int], cap_s: float, env: dict[str, str] | None = None) -> None:
    where = "PostgreSQL" if env and env.get("DATABASE_URL") else "SQLite"
    print(
        f"\n== 3. distributed round on {where}: instant fake generation, the tasks' calls in one "
        "process (no broker) ==\nper unit: one bank-unit message (a batch of contributors sized "
        "by samples); its wall time includes the store writes of its banks"
    )
    print(
        f"{'n':>6} {'messages':>8} {'max kB':>7} {'per unit':>9} {'unit ms':>8} {'ms/contrib':>10} "
        f"{'q/unit':>7} {'valuation s':>11} {'q value':>8} {'total s':>8}  status"
    )
    runs = {}
    for n in ns:
        result = run_child(["--child-chord", str(n)], timeout=cap_s, env=env)
        if result is None or "error" in result:
            print(f"{n:6d} {'over cap' if result is None else result['error']}")
            continue
        runs[n] = result
        per_contributor = result["unit_s_mean"] / result["contributors_per_unit"] * 1e3
        queries = f"{result['unit_queries_min']}-{result['unit_queries_max']}"
        print(
            f"{n:6d} {result['messages']:8d} {result['message_bytes_max'] / 1e3:7.1f} "
            f"{result['contributors_per_unit']:9d} {result['unit_s_mean'] * 1e3:8.0f} "
            f"{per_contributor:10.2f} {queries:>7} {result['value_s']:11.1f} "
            f"{result['value_queries']:8d} {result['total_s']:8.1f}  {result['status']}",
            flush=True,
        )
    if len(runs) >= 2:
        small, large = min(runs), max(runs)
        a, b = runs[small], runs[large]
        print(
            f"{large:,} vs {small:,} contributors ({large / small:.0f}×): messages "
            f"×{b['messages'] / a['messages']:.1f}, per-unit wall "
            f"×{b['unit_s_mean'] / a['unit_s_mean']:.2f}, queries per unit "
            f"{a['unit_queries_max']} → {b['unit_queries_max']}, largest message "
            f"×{b['message_bytes_max'] / a['message_bytes_max']:.2f}, total "
            f"×{b['total_s'] / a['total_s']:.1f}"
        )


# ---------------------------------------------------------------- 4. PostgreSQL


def postgres_part(
    web_sizes: list[int], chord_ns: list[int], cap_s: float, timeout_s: float
) -> None:
    from tests.attribution.servers import ServerError, postgres_server

    print(f"\n== 4. PostgreSQL: a throwaway cluster on 127.0.0.1 (bounded to {timeout_s:.0f} s) ==")
    began = time.monotonic()
    try:
        with postgres_server() as server:
            server.create_database("creditshare_scale")
            env = dict(os.environ, DATABASE_URL=server.url("creditshare_scale"))
            print(f"started in {time.monotonic() - began:.1f} s; bench/scale_web.py:", flush=True)
            left = max(60.0, timeout_s - (time.monotonic() - began))
            try:
                completed = subprocess.run(
                    [sys.executable, str(ROOT / "bench/scale_web.py"), "--sizes"]
                    + [str(size) for size in web_sizes],
                    capture_output=True,
                    text=True,
                    timeout=left,
                    env=env,
                    cwd=ROOT,
                )
                lines = completed.stdout.splitlines()
                # Its machine header is this run's; print from the database line on.
                start = next((i for i, line in enumerate(lines) if line.startswith("database")), 0)
                print("\n".join(lines[start:]))
                if completed.returncode:
                    print("scale_web failed:", completed.stderr.strip().splitlines()[-3:])
            except subprocess.TimeoutExpired:
                print(f"scale_web.py over the {left:.0f} s left")
            left = timeout_s - (time.monotonic() - began)
            if left > 60:
                chord_part(chord_ns, min(cap_s, left), env)
            else:
                print("chord on PostgreSQL not run: no time left in the bound")
    except ServerError as error:
        print(f"PostgreSQL not run: {str(error).splitlines()[0]}")


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short caps")
    parser.add_argument(
        "--parts", default="metrics,valuation,chord,web-postgres", help="comma-separated parts"
    )
    parser.add_argument("--cap-s", type=float, default=None, help="per-run cap, seconds")
    parser.add_argument("--max-gib", type=float, default=6.0, help="skip Fréchet runs above this")
    parser.add_argument("--metric-ns", type=int, nargs="+", default=None)
    parser.add_argument("--valuation-ns", type=int, nargs="+", default=None)
    parser.add_argument("--chord-ns", type=int, nargs="+", default=None)
    parser.add_argument("--pg-timeout-s", type=float, default=None)
    parser.add_argument(
        "--estimators",
        default=",".join(ESTIMATORS),
        help=f"comma-separated, for the valuation; also {', '.join(EXTRA_ESTIMATORS)}",
    )
    parser.add_argument("--child-cheap", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-valuation", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-chord", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_cheap:
        with threadpool_limits(1):
            print(json.dumps(cheap_child(args.child_cheap)))
        return
    if args.child_valuation:
        with threadpool_limits(1):
            print(
                json.dumps(valuation_child(args.child_valuation[0], int(args.child_valuation[1])))
            )
        return
    if args.child_chord:
        print(json.dumps(chord_child(args.child_chord)))
        return

    from bench.machine import print_machine

    quick = args.quick
    metric_ns = args.metric_ns or ([20, 100, 1000] if quick else [20, 100, 1000, 10_000, 100_000])
    widths = [32, 768] if quick else [32, 768, 2048]
    valuation_ns = args.valuation_ns or ([100, 1000] if quick else [100, 1000, 10_000])
    chord_ns = args.chord_ns or ([200, 1000] if quick else [1000, 10_000])
    cap_s = args.cap_s or (60.0 if quick else 300.0)
    pg_timeout = args.pg_timeout_s or (300.0 if quick else 1200.0)
    parts = set(args.parts.split(","))
    print_machine(
        "The engine by number of contributors: metric cost, valuation time, the distributed chord",
        ("numpy", "catboost", "Django"),
    )
    print(f"mode: {'quick' if quick else 'full'}; parts: {', '.join(sorted(parts))}")
    began = time.perf_counter()
    if "metrics" in parts:
        metrics_part(metric_ns, widths, args.max_gib, cap_s)
    if "valuation" in parts:
        valuation_part(valuation_ns, cap_s, tuple(args.estimators.split(",")))
    if "chord" in parts:
        chord_part(chord_ns, max(cap_s, 600.0))
    if "web-postgres" in parts:
        postgres_part([200, 1000] if quick else [1000, 10_000], chord_ns, 600.0, pg_timeout)
    print(f"\ntotal wall time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
