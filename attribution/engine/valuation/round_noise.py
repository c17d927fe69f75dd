"""A round's bank noise: bootstrap the banks after the valuation and size K from the tolerance.

``run_round`` calls :func:`measure_round_noise` once per metric when asked. It replays the
valuation on resampled banks (:func:`bootstrap_bank_noise`) with a replicate estimator chosen
by the measured cost of a coalition — exact values when all 2^n coalitions of every replicate fit
the time budget, else antithetic permutation sampling with one fixed seed (common random numbers,
so the replicates' spread is the banks', not fresh sampling noise) at the budget that fits — and
turns the spread into the three things a round reports:

* an interval for every value that holds both errors, φ ± z·√(se_est² + sd_bank²);
* the precision the round achieved in percentage points of the pool, both errors included;
* the bank size K the tolerance needs, or by how much the round's K misses it
  (:func:`plan_bank_size`), naming the contributors whose banks drive the uncertainty.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attribution.engine.coalitions import sample_coalitions
from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import ExactShapley, PermutationShapley, ShapleyEstimator
from attribution.engine.estimators.permutation import permutation_cost
from attribution.engine.games.base import incremental_prefix_game
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.metrics import BankStatistics
from attribution.engine.progress import Progress
from attribution.engine.valuation.bank_noise import BankNoise, BankSamples, bootstrap_bank_noise
from attribution.engine.valuation.bank_size import BankSizePlan, plan_bank_size
from attribution.engine.valuation.selection import sampling_cost
from attribution.engine.valuation.tolerance import PayoutTolerance

PROBE_COALITIONS = 128
DEFAULT_REPLICATES = 20
DEFAULT_MAX_EXACT_PLAYERS = 20
MAX_REPLICATE_EVALUATIONS = 2_000_000
"""Permutation replicates memoise their coalitions; this caps that memory per replicate."""
REPLICATE_PAIRS = 256
"""Antithetic pairs per permutation replicate at most: every replicate draws the same orders, so
their shared estimation error cancels from the spread and a modest number of orders suffices."""
MAX_RESAMPLE_BYTES = 2 * 2**30
"""A resample copies every per-sample row as float64; banks larger than this are not resampled
(10,000 contributors × 64 samples × 1,008 Inception classes would copy 5 GB per replicate)."""
DRIVERS = 5
"""How many of the contributors whose banks need the most samples the report names."""


@dataclass(frozen=True)
class NoiseOptions:
    """What a round asks of its bank-noise measurement.

    Attributes:
        tolerance: The payout tolerance K is sized for.
        replicates: Bootstrap replicates, at least 2 (the round's ``n_bootstrap``).
        time_budget_s: Wall-clock budget for all replicates of one metric, positive.
        seed: Seed of the resampling and of the replicate estimator.
        max_exact_players: Replicates never enumerate games with more players.
    """

    tolerance: PayoutTolerance = field(default_factory=PayoutTolerance)
    replicates: int = DEFAULT_REPLICATES
    time_budget_s: float = 60.0
    seed: int = 0
    max_exact_players: int = DEFAULT_MAX_EXACT_PLAYERS

    def __post_init__(self) -> None:
        if isinstance(self.replicates, bool) or not isinstance(self.replicates, int):
            raise EngineInputError(f"replicates must be an integer, got {self.replicates!r}.")
        if self.replicates < 2:
            raise EngineInputError(f"replicates must be at least 2, got {self.replicates}.")
        if not self.time_budget_s > 0:
            raise EngineInputError(f"time_budget_s must be positive, got {self.time_budget_s}.")


@dataclass(frozen=True)
class RoundNoise:
    """Bank noise of one metric's valuation, and what it means for the money.

    Attributes:
        noise: The bootstrap replicates (None when even the cheapest replicates did not fit the
            time budget; ``reason`` says so).
        plan: K for the tolerance, and the round's K against it (None with ``noise``).
        combined_stderr: √(se_est² + sd_bank²) of every value, shape (n,), or None.
        combined_points: The worst share's half-width, in pp of the pool, both errors included
            (None with ``noise`` or when v(N) = v(∅)).
        bank_points: The same for bank noise alone.
        drivers: Indices of the contributors whose shares need the largest K, worst first.
        replicate_estimator: ``"exact"`` or ``"permutation"`` (or ``""`` when skipped).
        reason: One sentence: how the noise was measured and what K the tolerance needs.
        seconds: Wall time of the measurement.
    """

    noise: BankNoise | None
    plan: BankSizePlan | None
    combined_stderr: NDArray[np.float64] | None
    combined_points: float | None
    bank_points: float | None
    drivers: tuple[int, ...]
    replicate_estimator: str
    reason: str
    seconds: float

    def interval(self, values: ArrayLike, level: float = 0.95) -> NDArray[np.float64] | None:
        """(n, 2) intervals for the values with both errors, or None without a measurement."""
        if self.noise is None or self.combined_stderr is None:
            return None
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        middle = np.asarray(values, dtype=np.float64)
        half = z * self.combined_stderr
        return np.column_stack([middle - half, middle + half])


def measure_round_noise(
    samples: BankSamples,
    data_sizes: ArrayLike,
    metric: Metric,
    empty_value: EmptyValue,
    estimation_stderr: ArrayLike | None,
    options: NoiseOptions | None = None,
    progress: Progress | None = None,
    *,
    game: ProxyGame | None = None,
) -> RoundNoise:
    """Bootstrap the banks of one metric's valuation (see the module notes).

    Args:
        samples: The banks' per-sample rows (what the round's statistics were computed from).
        data_sizes: |C_i| per contributor.
        metric: The metric the round valued.
        empty_value: Its v(∅) policy.
        estimation_stderr: The valuation's standard errors, shape (n,), or None (exact values).
        options: Tolerance, replicates, time budget, seed.
        progress: Optional ``progress(stage, done, total)`` callback.
        game: The round's own proxy game on these banks, to time a coalition on (built from
            ``samples`` when None; the round passes its own, so the statistics of every sample
            are not computed a second time).
    """
    options = options or NoiseOptions()
    started = time.perf_counter()
    resample_bytes = 8 * samples.n_values
    if resample_bytes > MAX_RESAMPLE_BYTES:
        return _not_measured(
            f"bank noise not measured: one resample of these banks would copy "
            f"{resample_bytes / 2**30:.1f} GiB (more than {MAX_RESAMPLE_BYTES / 2**30:.0f} GiB); "
            "the intervals hold estimation error only",
            started,
        )
    if game is None:
        game = ProxyGame(samples.statistics(), data_sizes, metric, empty_value)
    n = game.n_players
    probe = sample_coalitions(n, PROBE_COALITIONS, strategy="kernel", seed=options.seed)
    probe_start = time.perf_counter()
    game(probe)
    cost = max((time.perf_counter() - probe_start) / len(probe), 1e-9)
    # A prefix of an incremental game costs O(1) in n where a coalition costs O(n).
    step = sampling_cost(game, cost, options.seed)
    capped = incremental_prefix_game(game) is None
    per_replicate = (options.time_budget_s - (time.perf_counter() - started)) / options.replicates
    choice = _replicate_estimator(n, cost, step, capped, per_replicate, options)
    if choice is None:
        return _skipped(n, step, options, started)
    name, make = choice

    def valuer(statistics: BankStatistics) -> tuple[NDArray[np.float64], float]:
        fitted = make().fit(ProxyGame(statistics, data_sizes, metric, empty_value))
        return fitted.values_, fitted.grand_value_ - fitted.baseline_

    noise = bootstrap_bank_noise(samples, valuer, options.replicates, options.seed, progress)
    return _report(noise, estimation_stderr, name, options, started)


def _replicate_estimator(
    n: int,
    cost: float,
    step: float,
    capped: bool,
    per_replicate_s: float,
    options: NoiseOptions,
) -> tuple[str, Callable[[], ShapleyEstimator]] | None:
    """The cheapest replicate estimator that fits ``per_replicate_s``, or None.

    ``cost`` is a coalition's measured cost, ``step`` a permutation step's (a prefix of an
    incremental game, else a coalition); ``capped``: the permutation path memoises coalitions.
    """
    if n <= options.max_exact_players and 2.0 ** min(n, 1023) * cost <= per_replicate_s:
        return "exact", lambda: ExactShapley(max_players=options.max_exact_players)
    minimum = 2 + 4 * permutation_cost(n)  # two antithetic pairs
    wanted = 2 + 2 * REPLICATE_PAIRS * permutation_cost(n)
    affordable = max(per_replicate_s, 0.0) / step
    budget = int(min(affordable, wanted, MAX_REPLICATE_EVALUATIONS if capped else wanted))
    if budget < minimum:
        return None
    seed = options.seed
    return "permutation", lambda: PermutationShapley(budget=budget, seed=seed)


def _skipped(n: int, cost: float, options: NoiseOptions, started: float) -> RoundNoise:
    minimum = 2 + 4 * permutation_cost(n)
    return _not_measured(
        f"bank noise not measured: {options.replicates} replicates of even {minimum:,} "
        f"evaluations at {cost * 1e6:.1f} µs each would not fit the {options.time_budget_s:g} "
        "s budget; the intervals hold estimation error only",
        started,
    )


def _not_measured(reason: str, started: float) -> RoundNoise:
    return RoundNoise(
        noise=None,
        plan=None,
        combined_stderr=None,
        combined_points=None,
        bank_points=None,
        drivers=(),
        replicate_estimator="",
        reason=reason,
        seconds=time.perf_counter() - started,
    )


def _report(
    noise: BankNoise,
    estimation_stderr: ArrayLike | None,
    name: str,
    options: NoiseOptions,
    started: float,
) -> RoundNoise:
    tolerance = options.tolerance
    n = noise.values.shape[1]
    est = np.zeros(n) if estimation_stderr is None else np.asarray(estimation_stderr, float)
    combined = noise.combined_stderr(est)
    total = float(np.median(noise.totals))
    k = int(noise.n_samples.min())
    if total == 0.0 or not np.isfinite(noise.share_sd).all():
        return RoundNoise(
            noise=noise,
            plan=None,
            combined_stderr=combined,
            combined_points=None,
            bank_points=None,
            drivers=(),
            replicate_estimator=name,
            reason=(
                f"bank noise measured over {options.replicates} resampled banks ({name} "
                "replicates); v(N) − v(∅) = 0, so there are no shares to size K for"
            ),
            seconds=time.perf_counter() - started,
        )
    share_est = est / abs(total)
    sizes = noise.n_samples
    equal = bool((sizes == k).all())
    plan = plan_bank_size(
        noise.share_sd,
        k,
        tolerance,
        estimation_share_sd=share_est,
        requested_k=k if equal else None,
        measured_sizes=None if equal else sizes,
    )
    order = np.argsort(-plan.per_contributor_k, kind="stable")
    drivers = tuple(int(i) for i in order[: min(DRIVERS, n)])
    bank_points = tolerance.half_width_points(float(noise.share_sd.max()))
    return RoundNoise(
        noise=noise,
        plan=plan,
        combined_stderr=combined,
        combined_points=plan.predicted_points,
        bank_points=bank_points,
        drivers=drivers,
        replicate_estimator=name,
        reason=(
            f"bank noise measured over {options.replicates} resampled banks of K = "
            f"{k:,}{'' if equal else f'–{int(sizes.max()):,}'} "
            f"({name} replicates): ±{bank_points:.3f} pp alone, ±{plan.predicted_points:.3f} pp "
            f"with the estimation error; {plan.reason}"
        ),
        seconds=time.perf_counter() - started,
    )
