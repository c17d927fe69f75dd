"""How good are attribution values? The linear datamodeling score and counterfactual removal.

Both follow the protocol of the data-attribution papers for diffusion models (Park et al. 2023,
TRAK; Lin et al. 2024, arXiv 2407.03153; SurrogateSHAP):

Linear datamodeling score (LDS)
    Draw held-out coalitions S of size ⌊αn⌋, evaluate the true utility v(S) of each, and take the
    Spearman rank correlation between the additive prediction Σ_{i∈S} φ_i and v(S). Spearman is
    invariant to monotone maps, so the constant v(∅) and any rescaling of φ do not matter. The score
    is reported as a mean and a t-interval over several independent held-out sets.
Counterfactual removal
    Remove the top contributors by value ("retrain without the top 40%") and keep only the top ones
    ("with only the top 60%"); a good ranking makes the first drop the utility most.

Ground-truth games (retraining) are expensive and several methods are scored on the same held-out
coalitions, so ``evaluate_heldout_sets`` returns the evaluated sets for the caller to cache and
pass to ``lds_over_sets(values, heldout=...)`` once per method. For counterfactual removal, wrap
the game in ``EvaluationCounter`` so v(N) and v(∅) are evaluated once across methods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from attribution.engine.coalitions import sample_coalitions
from attribution.engine.errors import EngineInputError
from attribution.engine.games.base import (
    Game,
    Masks,
    Utilities,
    check_game,
    check_masks,
    check_n_players,
    check_utilities,
)
from attribution.engine.progress import Progress, report

# A rank correlation of two points is always ±1; three is the least that says anything.
MIN_HELDOUT_COALITIONS = 3
# Same guard as the fixed-size sampler: 0.3 * 10 = 2.9999999999999996 must select 3 players.
_FRACTION_EPSILON = 1e-9


@dataclass(frozen=True)
class HeldoutSet:
    """Held-out coalitions and their true utilities, shared by every method scored on them.

    Attributes:
        masks: Boolean, shape (n_subsets, n_players): the coalitions, one per row.
        utilities: Float, shape (n_subsets,): the true utility v(S) of each row.
    """

    masks: Masks
    utilities: Utilities


@dataclass(frozen=True)
class LdsResult:
    """The LDS of one value vector over several held-out sets.

    Attributes:
        mean: Mean LDS over the sets (a Spearman correlation, in [-1, 1]).
        ci_low: Lower end of the two-sided t-interval for the mean.
        ci_high: Upper end of that interval.
        confidence: Confidence level of the interval (0.95 by default).
        scores: Shape (n_sets,): the LDS on each held-out set.
        heldout: The held-out sets scored, for the caller to cache and reuse for other methods.
    """

    mean: float
    ci_low: float
    ci_high: float
    confidence: float
    scores: NDArray[np.float64]
    heldout: tuple[HeldoutSet, ...]


@dataclass(frozen=True)
class CounterfactualResult:
    """Utilities after removing the top contributors, and after keeping only the top ones.

    Relative changes are (v(S) − v(N)) / |v(N) − v(∅)|: the change as a fraction of everything the
    contributors add together, so −1 means "as bad as no data" (for a monotone game) whatever the
    metric's units. Negative is a drop.

    Attributes:
        fraction: Fraction of players removed (0.4 in the papers).
        grand_utility: v(N), everyone included.
        empty_utility: v(∅), no one included (only used as the normaliser).
        removed: Boolean, shape (n_players,): the top ``fraction`` by value.
        without_top_utility: v(N ∖ removed).
        without_top_change: Relative change of v(N ∖ removed).
        kept: Boolean, shape (n_players,): the top ``1 − fraction`` by value.
        only_top_utility: v(kept).
        only_top_change: Relative change of v(kept).
    """

    fraction: float
    grand_utility: float
    empty_utility: float
    removed: NDArray[np.bool_]
    without_top_utility: float
    without_top_change: float
    kept: NDArray[np.bool_]
    only_top_utility: float
    only_top_change: float


def heldout_coalitions(
    n_players: int,
    alpha: float,
    n_subsets: int,
    seed: int | np.random.Generator | None = None,
) -> Masks:
    """Distinct coalitions of size ⌊α n⌋, drawn uniformly without repeats.

    Args:
        n_players: Number of players n (>= 2).
        alpha: Fraction of players in each coalition, strictly between 0 and 1.
        n_subsets: Number of coalitions m (>= 3, at most C(n, ⌊αn⌋)).
        seed: Seed or generator; the same seed gives the same coalitions.

    Returns:
        Boolean array of shape (n_subsets, n_players), every row with ⌊α n⌋ members.

    Raises:
        EngineInputError: ⌊α n⌋ is 0, fewer than 3 coalitions asked for, or more than exist.
    """
    n_players = check_n_players(n_players)
    _check_count(n_subsets, "n_subsets", MIN_HELDOUT_COALITIONS)
    if not 0.0 < alpha < 1.0:
        raise EngineInputError(f"alpha must lie strictly between 0 and 1, got {alpha}.")
    if math.floor(alpha * n_players + _FRACTION_EPSILON) == 0:
        raise EngineInputError(
            f"alpha = {alpha} gives empty held-out coalitions for {n_players} players; "
            f"use alpha >= {1 / n_players:.3g}."
        )
    return sample_coalitions(
        n_players, n_subsets, strategy="fixed_size", alpha=alpha, seed=seed, deduplicate=True
    )


def linear_datamodeling_score(values: ArrayLike, masks: ArrayLike, utilities: ArrayLike) -> float:
    """Spearman correlation between Σ_{i∈S} φ_i and v(S) over held-out coalitions S.

    Args:
        values: Attribution values φ, shape (n_players,).
        masks: Held-out coalitions, boolean, shape (n_subsets, n_players), n_subsets >= 3.
        utilities: True utilities v(S), shape (n_subsets,).

    Returns:
        The LDS, a float in [-1, 1].

    Raises:
        EngineInputError: Mismatched shapes, NaN or infinite inputs, or a constant prediction or
            utility vector (the rank correlation is then undefined, not zero).
    """
    checked_masks = check_masks(masks)
    phi = _check_values(values, checked_masks.shape[1])
    n_subsets = checked_masks.shape[0]
    if n_subsets < MIN_HELDOUT_COALITIONS:
        raise EngineInputError(
            f"the LDS needs at least {MIN_HELDOUT_COALITIONS} held-out coalitions, got {n_subsets}."
        )
    truth = check_utilities(utilities, n_subsets)
    predicted = checked_masks.astype(np.float64) @ phi
    if np.ptp(predicted) == 0.0:
        raise EngineInputError(
            "the values predict the same utility for every held-out coalition (e.g. all values "
            "equal, with coalitions of one size), so the LDS is undefined; check the values."
        )
    if np.ptp(truth) == 0.0:
        raise EngineInputError(
            "every held-out coalition has the same true utility, so the LDS is undefined; "
            "use more or larger held-out coalitions, or a game that tells them apart."
        )
    return _spearman(predicted, truth)


def evaluate_heldout_sets(
    game: Game,
    *,
    alpha: float = 0.5,
    n_sets: int = 3,
    n_subsets: int = 100,
    seed: int | np.random.Generator | None = None,
    progress: Progress | None = None,
) -> tuple[HeldoutSet, ...]:
    """Draw ``n_sets`` independent held-out sets and evaluate the game on each.

    The sets use independent child streams of ``seed`` (a coalition may appear in two sets; within
    a set they are distinct).

    Args:
        game: The ground-truth game.
        alpha: Fraction of players per coalition.
        n_sets: Number of independent sets (>= 1).
        n_subsets: Coalitions per set.
        seed: Seed or generator.
        progress: Optional ``progress("heldout", done, n_sets)`` callback.

    Returns:
        ``n_sets`` held-out sets, each with masks (n_subsets, n_players) and utilities (n_subsets,).
    """
    n_players = check_game(game)
    _check_count(n_sets, "n_sets", 1)
    streams = np.random.default_rng(seed).spawn(n_sets)
    sets = []
    report(progress, "heldout", 0, n_sets)
    for done, stream in enumerate(streams, start=1):
        masks = heldout_coalitions(n_players, alpha, n_subsets, stream)
        sets.append(HeldoutSet(masks, check_utilities(game(masks), n_subsets)))
        report(progress, "heldout", done, n_sets)
    return tuple(sets)


def lds_over_sets(
    values: ArrayLike,
    game: Game | None = None,
    *,
    heldout: Sequence[HeldoutSet] | None = None,
    alpha: float = 0.5,
    n_sets: int = 3,
    n_subsets: int = 100,
    seed: int | np.random.Generator | None = None,
    confidence: float = 0.95,
    progress: Progress | None = None,
) -> LdsResult:
    """LDS on several independent held-out sets: mean, t-interval and per-set scores.

    Pass either ``game`` (held-out sets are drawn with ``alpha``, ``n_sets``, ``n_subsets`` and
    ``seed`` and evaluated, see ``evaluate_heldout_sets``) or ``heldout`` (precomputed sets, e.g.
    ``result.heldout`` of an earlier call; the game is then never called).

    Args:
        values: Attribution values φ, shape (n_players,).
        game: The ground-truth game, or None when ``heldout`` is given.
        heldout: Precomputed held-out sets (at least 2), or None.
        alpha: Fraction of players per held-out coalition (with ``game``).
        n_sets: Number of held-out sets (with ``game``), at least 2 for an interval.
        n_subsets: Coalitions per set (with ``game``).
        seed: Seed or generator for drawing the sets (with ``game``).
        confidence: Level of the two-sided t-interval, strictly between 0 and 1.
        progress: Optional callback while evaluating the game.

    Returns:
        An ``LdsResult`` whose ``heldout`` holds the sets scored.

    Raises:
        EngineInputError: Neither or both of ``game`` and ``heldout``, fewer than 2 sets, or any
            error of ``linear_datamodeling_score`` on a set.
    """
    if (game is None) == (heldout is None):
        got = "neither" if game is None else "both"
        raise EngineInputError(
            f"pass either a game or precomputed held-out sets (heldout=...); got {got}."
        )
    if not 0.0 < confidence < 1.0:
        raise EngineInputError(f"confidence must lie strictly between 0 and 1, got {confidence}.")
    if game is not None:
        _check_count(n_sets, "n_sets", 2)
        sets = evaluate_heldout_sets(
            game, alpha=alpha, n_sets=n_sets, n_subsets=n_subsets, seed=seed, progress=progress
        )
    else:
        sets = tuple(heldout or ())
    if len(sets) < 2:
        raise EngineInputError(
            f"a confidence interval needs at least 2 held-out sets, got {len(sets)}; for one set "
            "call linear_datamodeling_score."
        )
    scores = np.array([linear_datamodeling_score(values, s.masks, s.utilities) for s in sets])
    mean = float(scores.mean())
    critical = float(stats.t.ppf(0.5 + confidence / 2.0, df=len(scores) - 1))
    half_width = critical * float(scores.std(ddof=1)) / math.sqrt(len(scores))
    return LdsResult(mean, mean - half_width, mean + half_width, confidence, scores, sets)


def replicate_agreement(heldout: HeldoutSet, replica: Game) -> float:
    """Spearman correlation between a held-out set's utilities and a replica game's on its masks.

    The replica is the ground-truth game rerun with other random seeds (initial weights, batches,
    sampling noise). Its agreement with the original is the LDS that the *true* utilities
    themselves would score against a rerun: a noise ceiling that no valuation can be expected to
    beat on that ground truth.

    Raises:
        EngineInputError: If the replica's player count differs from the set's, or either utility
            vector is constant.
    """
    n_players = check_game(replica)
    if heldout.masks.shape[1] != n_players:
        raise EngineInputError(
            f"the held-out set has {heldout.masks.shape[1]} players, the replica game {n_players}."
        )
    replicated = check_utilities(replica(heldout.masks), len(heldout.utilities))
    if np.ptp(replicated) == 0.0 or np.ptp(heldout.utilities) == 0.0:
        raise EngineInputError("a constant utility vector has no rank correlation.")
    return _spearman(np.asarray(heldout.utilities, np.float64), replicated)


def top_fraction_mask(values: ArrayLike, fraction: float) -> NDArray[np.bool_]:
    """The ⌊fraction · n⌋ players with the largest values; ties go to the lower index.

    Args:
        values: Shape (n_players,), finite.
        fraction: Strictly between 0 and 1, large enough to select at least one player.

    Returns:
        Boolean array of shape (n_players,).
    """
    phi = _check_values(values, None)
    count = _top_count(phi.shape[0], fraction)
    # A stable sort of −φ keeps equal values in index order, so ties break deterministically.
    order = np.argsort(-phi, kind="stable")
    mask = np.zeros(phi.shape[0], dtype=np.bool_)
    mask[order[:count]] = True
    return mask


def counterfactual_change(
    game: Game, values: ArrayLike, fraction: float = 0.4
) -> CounterfactualResult:
    """Utility without the top ``fraction`` of contributors, and with only the top ``1 − fraction``.

    Evaluates four coalitions in one game call: N, ∅, N ∖ top(fraction) and top(1 − fraction),
    where top(f) is ``top_fraction_mask(values, f)``. Relative changes are
    (v(S) − v(N)) / |v(N) − v(∅)| (see ``CounterfactualResult``).

    Args:
        game: The ground-truth game (wrap it in ``EvaluationCounter`` to share v(N) and v(∅)
            across methods).
        values: Attribution values φ, shape (n_players,).
        fraction: Fraction removed, strictly between 0 and 1 (0.4 in the papers).

    Returns:
        A ``CounterfactualResult``.

    Raises:
        EngineInputError: Values of the wrong length, a fraction selecting no one, or v(N) = v(∅)
            (nothing to normalise by).
    """
    n_players = check_game(game)
    phi = _check_values(values, n_players)
    removed = top_fraction_mask(phi, fraction)
    kept = top_fraction_mask(phi, 1.0 - fraction)
    masks = np.stack([np.ones(n_players, np.bool_), np.zeros(n_players, np.bool_), ~removed, kept])
    grand, empty, without_top, only_top = check_utilities(game(masks), 4).tolist()
    scale = abs(grand - empty)
    if scale == 0.0:
        raise EngineInputError(
            f"v(N) = v(∅) = {grand}, so relative changes are undefined; this game gives the "
            "contributors no value to remove."
        )
    return CounterfactualResult(
        fraction=fraction,
        grand_utility=grand,
        empty_utility=empty,
        removed=removed,
        without_top_utility=without_top,
        without_top_change=(without_top - grand) / scale,
        kept=kept,
        only_top_utility=only_top,
        only_top_change=(only_top - grand) / scale,
    )


def _spearman(first: NDArray[np.float64], second: NDArray[np.float64]) -> float:
    """Spearman's rho of two non-constant vectors: Pearson's r of their (average) ranks.

    Centred average ranks are multiples of 1/2, so the sums below are exact and identical rankings
    give exactly 1.0 (``scipy.stats.spearmanr`` returns 0.9999999999999999 there).
    """
    a = stats.rankdata(first) - (len(first) + 1) / 2.0
    b = stats.rankdata(second) - (len(second) + 1) / 2.0
    rho = float(np.dot(a, b) / math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b))))
    return min(1.0, max(-1.0, rho))


def _check_values(values: ArrayLike, n_players: int | None) -> NDArray[np.float64]:
    """Return values as a finite float64 vector, of length ``n_players`` when given."""
    try:
        phi = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EngineInputError(f"values must be numbers: {error}.") from error
    if phi.ndim != 1:
        raise EngineInputError(f"values must be a 1-D vector, got shape {phi.shape}.")
    if n_players is not None and phi.shape[0] != n_players:
        raise EngineInputError(f"expected {n_players} values (one per player), got {phi.shape[0]}.")
    if not np.isfinite(phi).all():
        first = int(np.flatnonzero(~np.isfinite(phi))[0])
        raise EngineInputError(f"values must be finite; entry {first} is {phi[first]}.")
    return phi


def _top_count(n_players: int, fraction: float) -> int:
    """⌊fraction · n⌋, checked to select at least one player and not everyone."""
    if not 0.0 < fraction < 1.0:
        raise EngineInputError(f"fraction must lie strictly between 0 and 1, got {fraction}.")
    count = math.floor(fraction * n_players + _FRACTION_EPSILON)
    if count == 0:
        raise EngineInputError(
            f"fraction {fraction} of {n_players} players selects no one; use at least "
            f"{1 / n_players:.3g}."
        )
    return count


def _check_count(count: object, name: str, minimum: int) -> int:
    """Return ``count`` as an int, or raise unless it is an integer >= ``minimum``."""
    if isinstance(count, bool) or not isinstance(count, int | np.integer):
        raise EngineInputError(f"{name} must be an integer, got {type(count).__name__}.")
    if count < minimum:
        raise EngineInputError(f"{name} must be at least {minimum}, got {count}.")
    return int(count)
