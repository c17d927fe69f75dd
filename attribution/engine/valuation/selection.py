"""Choose and size the estimator that meets a round's payout tolerance within a time budget.

1. Measure the game: v(∅), v(N) and the wall time of a probe batch of kernel coalitions, giving
   the cost of one coalition.
2. **Exact** when 2^n × cost fits the remaining budget (and n ≤ ``max_exact_players``): zero
   estimation error, nothing to tune.
3. Otherwise **sample with a stopping rule on the money**: the target is a value standard error of
   h / z × |v(N) − v(∅)| (see :class:`PayoutTolerance`).

   * Cheap games (an evaluation costs less than ``surrogate_above_s``: a coalition, or a prefix
     for a game that values prefixes incrementally): antithetic permutation
     sampling, stopped as soon as the worst contributor's standard error meets the target (after
     at least ``MIN_PERMUTATION_SAMPLES`` pairs, so the standard error itself is worth reading)
     or the time budget is spent. At these costs millions of evaluations take seconds, and
     permutation sampling's standard errors are plain sample statistics (the money-grade
     benchmark measures their coverage). A game that values order prefixes incrementally
     (:class:`~attribution.engine.games.base.PrefixGame`: the proxy game on every metric but the
     Fréchet distance) is sized by the measured cost of a *prefix*, which is O(1) in n, and is
     not memoised, so no memory cap applies; other games are sized by the probe's cost per
     coalition and capped at ``MAX_SAMPLING_EVALUATIONS`` memoised coalitions.
   * Expensive games: the cross-fitted surrogate (:class:`CrossFitSurrogateShapley`), whose error
     goes to zero as the budget grows, at a budget doubled from ``initial_budget`` until its
     standard errors meet the target or the next doubling would not fit the time left.

The uniform efficiency patch of :class:`SurrogateShapley` is never chosen here; it stays in the
catalog as a documented fallback, and :func:`efficiency_patch` reports its size wherever it runs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from attribution.engine.coalitions import sample_coalitions
from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import (
    CrossFitSurrogateShapley,
    ExactShapley,
    PermutationShapley,
    ShapleyEstimator,
    SurrogateShapley,
)
from attribution.engine.estimators.base import endpoint_masks
from attribution.engine.games.base import (
    EvaluationCounter,
    Game,
    PrefixGame,
    check_game,
    incremental_prefix_game,
)
from attribution.engine.progress import Progress
from attribution.engine.valuation.tolerance import PayoutTolerance

PROBE_COALITIONS = 256
DEFAULT_TIME_BUDGET_S = 60.0
DEFAULT_MAX_EXACT_PLAYERS = 22
# Below 1 ms per coalition, a second of evaluations buys more accuracy than a second of CatBoost.
DEFAULT_SURROGATE_ABOVE_S = 1e-3
DEFAULT_INITIAL_BUDGET = 512
# Permutation sampling memoises every coalition it evaluates; this caps that memory (~0.5 GB).
MAX_SAMPLING_EVALUATIONS = 4_000_000
# Antithetic pairs sampled before the stopping rule may stop: a standard error from two samples is
# itself too noisy to pay on (at large n every share is tiny and the target is met at once).
MIN_PERMUTATION_SAMPLES = 32
# Prefixes valued to measure the cost of one prefix on an incremental game.
PROBE_PREFIXES = 65_536


@dataclass
class ToleranceValuation:
    """Values to a payout tolerance, with the precision achieved and why this estimator ran.

    Attributes:
        values: φ, shape (n,).
        stderr: Estimation standard errors of φ, shape (n,) (zeros for exact values).
        shares: φ / (v(N) − v(∅)), shape (n,), or None when v(N) = v(∅) (no pool to share).
        share_stderr: stderr / |v(N) − v(∅)|, or None with ``shares``.
        achieved_points: z · max share stderr in percentage points of the pool (inf when shares
            are undefined).
        met: Whether ``achieved_points`` ≤ the tolerance.
        estimator: ``"exact"``, ``"permutation"`` or ``"crossfit_surrogate"``.
        reason: One sentence: why this estimator, and how it was sized.
        n_evaluations: Utility evaluations spent, the probe included.
        seconds: Wall time of the whole valuation.
        seconds_per_coalition: The measured cost of one coalition.
        baseline: v(∅).
        grand_value: v(N).
        tolerance: The tolerance asked for.
        fitted: The fitted estimator.
    """

    values: NDArray[np.float64]
    stderr: NDArray[np.float64]
    shares: NDArray[np.float64] | None
    share_stderr: NDArray[np.float64] | None
    achieved_points: float
    met: bool
    estimator: str
    reason: str
    n_evaluations: int
    seconds: float
    seconds_per_coalition: float
    baseline: float
    grand_value: float
    tolerance: PayoutTolerance
    fitted: ShapleyEstimator


def value_to_tolerance(
    game: Game,
    tolerance: PayoutTolerance | None = None,
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    seed: int = 0,
    *,
    max_exact_players: int = DEFAULT_MAX_EXACT_PLAYERS,
    surrogate_above_s: float = DEFAULT_SURROGATE_ABOVE_S,
    initial_budget: int = DEFAULT_INITIAL_BUDGET,
    progress: Progress | None = None,
) -> ToleranceValuation:
    """Value ``game``'s players to ``tolerance`` within about ``time_budget_s`` seconds.

    Args:
        game: Any game (n_players, ``__call__(masks) -> utilities``).
        tolerance: The payout tolerance; ±0.25 pp at 95% by default.
        time_budget_s: Wall-clock budget for evaluations and fitting, positive.
        seed: Seed for the probe and the sampling estimators.
        max_exact_players: Never enumerate games with more players.
        surrogate_above_s: Cost per evaluation (per prefix on an incremental game, see
            :class:`~attribution.engine.games.base.PrefixGame`) from which the cross-fitted
            surrogate is used.
        initial_budget: The surrogate's first budget (doubled until the tolerance is met).
        progress: Optional ``progress(stage, done, total)`` callback, passed to the estimator.

    Raises:
        EngineInputError: A non-positive time budget or a malformed game.
    """
    tolerance = tolerance or PayoutTolerance()
    if not time_budget_s > 0:
        raise EngineInputError(f"time_budget_s must be positive, got {time_budget_s}.")
    started = time.perf_counter()
    n = check_game(game)
    counter = EvaluationCounter(game)
    baseline, grand = counter(endpoint_masks(n))
    total = float(grand - baseline)
    probe = sample_coalitions(n, PROBE_COALITIONS, strategy="kernel", seed=seed, paired=True)
    probe_start = time.perf_counter()
    counter(probe)
    cost = max((time.perf_counter() - probe_start) / len(probe), 1e-9)
    remaining = time_budget_s - (time.perf_counter() - started)
    # 2.0**n overflows a float from n = 1,024; such a game is never enumerated anyway.
    exact_seconds = math.ldexp(cost, n) if n < 1000 else math.inf
    if n <= max_exact_players and exact_seconds <= remaining:
        fitted: ShapleyEstimator = ExactShapley(max_players=max_exact_players, progress=progress)
        fitted.fit(game)
        name = "exact"
        reason = (
            f"exact: 2^{n} coalitions × {cost * 1e6:.2f} µs measured = {exact_seconds:.1f} s fits "
            f"the {remaining:.1f} s left of the time budget"
        )
    elif (step_cost := sampling_cost(game, cost, seed)) < surrogate_above_s:
        remaining = time_budget_s - (time.perf_counter() - started)
        fitted, reason = _permutation(game, tolerance, total, remaining, step_cost, seed, progress)
        name = "permutation"
    else:
        fitted, reason = _surrogate(
            counter, tolerance, total, started, time_budget_s, cost, seed, initial_budget, progress
        )
        name = "crossfit_surrogate"
    if name != "exact":
        reason = (
            f"{reason} (exact would need 2^{n} × {cost * 1e6:.2f} µs = {exact_seconds:.3g} s, "
            f"{'over' if exact_seconds > remaining else 'within'} the {remaining:.1f} s left"
            f"{'' if n <= max_exact_players else f', and {n} > {max_exact_players} players'})"
        )
    return _outcome(fitted, name, reason, tolerance, total, counter, started, cost)


def sampling_cost(game: Game, cost: float, seed: int) -> float:
    """What one evaluation of permutation sampling costs: a prefix of an incremental game
    (measured, O(1) in n), else the probe's coalition. A pooled metric at large n costs
    ~1 ms per coalition (a weight row of n) but microseconds per prefix, so it samples."""
    prefix_game = incremental_prefix_game(game)
    return cost if prefix_game is None else _prefix_cost(prefix_game, seed)


def _permutation(
    game: Game,
    tolerance: PayoutTolerance,
    total: float,
    remaining: float,
    cost: float,
    seed: int,
    progress: Progress | None,
) -> tuple[ShapleyEstimator, str]:
    """Permutation sampling sized by ``cost``, the measured cost of one evaluation (a prefix of
    an incremental game, else a coalition; see ``sampling_cost``)."""
    n = game.n_players
    prefix_game = incremental_prefix_game(game)
    if prefix_game is not None:
        affordable = int(max(remaining, 0.0) / cost)
        path = f"incremental prefixes at {cost * 1e6:.3g} µs each"
    else:
        affordable = int(min(max(remaining, 0.0) / cost, MAX_SAMPLING_EVALUATIONS))
        path = "prefix coalitions memoised"
    budget = max(affordable, 2 + 4 * (n - 1))
    target = tolerance.value_stderr(total)
    fitted = PermutationShapley(
        budget=budget,
        seed=seed,
        max_stderr=target,
        min_samples=MIN_PERMUTATION_SAMPLES,
        progress=progress,
    ).fit(game)
    counted = "prefixes valued" if prefix_game is not None else "distinct coalitions"
    return fitted, (
        f"permutation sampling (antithetic, {path}) to a worst standard error of {target:.3g} "
        f"(= ±{tolerance.percentage_points} pp at {tolerance.level:.0%}, after at least "
        f"{MIN_PERMUTATION_SAMPLES} pairs), capped at {budget:,} prefix evaluations; "
        f"{fitted.n_permutations_:,} permutations, {fitted.n_evaluations_:,} {counted}"
    )


def _prefix_cost(game: PrefixGame, seed: int) -> float:
    """Measured seconds per prefix of ``game.prefix_utilities``, marginals included, on about
    ``PROBE_PREFIXES`` prefixes (one antithetic pair at least)."""
    n = game.n_players
    pairs = max(1, PROBE_PREFIXES // (2 * n))
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random((pairs, n)), axis=1)
    orders = np.concatenate([orders, orders[:, ::-1]])
    start = time.perf_counter()
    game.prefix_utilities(orders)
    np.argsort(orders, axis=1)  # the positions every sample needs for its marginals
    return max((time.perf_counter() - start) / (len(orders) * (n - 1)), 1e-9)


def _surrogate(
    counter: EvaluationCounter,
    tolerance: PayoutTolerance,
    total: float,
    started: float,
    time_budget_s: float,
    cost: float,
    seed: int,
    initial_budget: int,
    progress: Progress | None,
) -> tuple[ShapleyEstimator, str]:
    target = tolerance.value_stderr(total)
    budget = initial_budget
    while True:
        fit_start = time.perf_counter()
        before = counter.n_evaluations
        fitted = CrossFitSurrogateShapley(budget=budget, seed=seed, progress=progress).fit(counter)
        fit_seconds = time.perf_counter() - fit_start
        new = counter.n_evaluations - before
        overhead = max(fit_seconds - new * cost, 0.0)
        assert fitted.stderr_ is not None
        worst = float(fitted.stderr_.max())
        left = time_budget_s - (time.perf_counter() - started)
        next_seconds = 2.0 * overhead + budget * cost  # about `budget` new coalitions, 2x the fit
        # With no pool (target 0) only a game the surrogate values exactly (all equal) stops early.
        if worst <= target or next_seconds > left:
            break
        budget *= 2
    return fitted, (
        f"cross-fitted surrogate at budget {budget:,} (doubled from {initial_budget:,} until the "
        f"worst standard error {worst:.3g} met {target:.3g} or the next doubling would overrun "
        "the time budget)"
    )


def _outcome(
    fitted: ShapleyEstimator,
    name: str,
    reason: str,
    tolerance: PayoutTolerance,
    total: float,
    counter: EvaluationCounter,
    started: float,
    cost: float,
) -> ToleranceValuation:
    stderr = np.zeros(len(fitted.values_)) if fitted.stderr_ is None else fitted.stderr_
    if total != 0.0:
        shares: NDArray[np.float64] | None = fitted.values_ / total
        share_stderr: NDArray[np.float64] | None = stderr / abs(total)
        assert share_stderr is not None
        achieved = tolerance.half_width_points(float(share_stderr.max()))
    else:
        shares = share_stderr = None
        achieved = float("inf")
        reason += "; v(N) − v(∅) = 0, so there is no pool to share and shares are undefined"
    return ToleranceValuation(
        values=fitted.values_,
        stderr=stderr,
        shares=shares,
        share_stderr=share_stderr,
        achieved_points=achieved,
        met=achieved <= tolerance.percentage_points,
        estimator=name,
        reason=reason,
        # The surrogate runs on the probe's memo; exact and permutation call the game afresh.
        n_evaluations=counter.n_evaluations
        + (0 if name == "crossfit_surrogate" else fitted.n_evaluations_),
        seconds=time.perf_counter() - started,
        seconds_per_coalition=cost,
        baseline=fitted.baseline_,
        grand_value=fitted.grand_value_,
        tolerance=tolerance,
        fitted=fitted,
    )


def efficiency_patch(estimator: ShapleyEstimator) -> float:
    """The amount the uniform efficiency patch spread over everyone, as a share of the pool.

    |v(N) − v(∅) − Σφ_tree| / |v(N) − v(∅)| for a :class:`SurrogateShapley` fitted with
    ``efficiency="uniform"`` and no bias correction (0 for every other estimator, which satisfy
    efficiency without a patch; NaN when v(N) = v(∅)).
    """
    if not isinstance(estimator, SurrogateShapley) or estimator.bias_correction:
        return 0.0
    if estimator.efficiency != "uniform":
        return 0.0
    total = estimator.grand_value_ - estimator.baseline_
    if total == 0.0:
        return float("nan")
    return abs(estimator.raw_efficiency_gap_) / abs(total)
