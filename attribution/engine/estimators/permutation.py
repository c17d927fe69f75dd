"""Monte Carlo Shapley values from random permutations, with antithetic pairs.

Each permutation needs the utilities of its n + 1 prefixes. A game that values prefixes
incrementally (:class:`~attribution.engine.games.base.PrefixGame`, as the proxy game does for
every pooled metric) is asked for them order by order, O(n) metric work per permutation and no
mask matrix; any other game gets the prefix masks through the memoising counter, a block of
permutations at a time. Per-player means and variances are merged block by block (Chan et al.),
so memory stays O(block · n) whatever the number of permutations.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import NDArray

from attribution.engine.estimators.base import ShapleyEstimator, check_budget
from attribution.engine.games.base import (
    EvaluationCounter,
    Game,
    PrefixGame,
    incremental_prefix_game,
    prefix_masks,
)
from attribution.engine.progress import Progress, report

DEFAULT_MIN_SAMPLES = 32
"""The default budget buys at least this many samples (antithetic pairs), 1,000 evaluations at
least: enough for a standard error worth reading at any n."""
MASK_ELEMENTS = 2**25
"""Mask-path blocks hold at most this many prefix-mask entries (32 MiB of booleans)."""


def permutation_cost(n_players: int) -> int:
    """Evaluations one permutation may need: its prefixes of size 1..n-1 (∅ and N are shared)."""
    return n_players - 1


def default_permutation_budget(n_players: int, antithetic: bool = True) -> int:
    """The budget used when none is given: ``DEFAULT_MIN_SAMPLES`` samples, 1,000 at least."""
    group = 2 if antithetic else 1
    return max(1000, 2 + DEFAULT_MIN_SAMPLES * group * permutation_cost(n_players))


class PermutationShapley(ShapleyEstimator):
    """Average marginal contributions over random player orders.

    Every permutation's marginal contributions sum to v(N) − v(∅), so the estimate satisfies the
    efficiency axiom exactly. With ``antithetic=True`` each permutation is followed by its reverse
    and the pair's average is one sample; the standard error is the spread of those samples.

    Args:
        budget: Most utility evaluations to spend; the number of permutations is
            ⌊(budget − 2) / (n − 1)⌋ (rounded down to whole pairs). None (the default): enough
            for ``DEFAULT_MIN_SAMPLES`` samples and at least 1,000 (see
            :func:`default_permutation_budget`), so no n is refused.
        seed: Seed or generator.
        antithetic: Pair every permutation with its reverse.
        max_stderr: Stop early once the largest per-player standard error is at most this.
        min_samples: Never stop early before this many samples (pairs, or permutations without
            ``antithetic``): a standard error from a handful of samples is itself noisy.
        batch_size: Permutations evaluated per game call (and between stopping checks); the mask
            path takes fewer when their masks would pass ``MASK_ELEMENTS``.
        progress: Optional ``progress(stage, done, total)`` callback (in permutations).

    Attributes (besides the base class's):
        n_permutations_: Permutations evaluated (both members of each pair).
        incremental_: Whether the game's incremental prefix path was used.
    """

    def __init__(
        self,
        budget: int | None = None,
        seed: int | np.random.Generator | None = None,
        antithetic: bool = True,
        max_stderr: float | None = None,
        min_samples: int = 2,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> None:
        self.budget = budget
        self.seed = seed
        self.antithetic = antithetic
        self.max_stderr = max_stderr
        self.min_samples = min_samples
        self.batch_size = batch_size
        self.progress = progress

    def fit(self, game: Game) -> Self:
        counter = self._start(game)
        n = counter.n_players
        group = 2 if self.antithetic else 1
        # Two independent samples are the fewest that give a standard error.
        minimum = 2 + 2 * group * permutation_cost(n)
        requested = (
            default_permutation_budget(n, self.antithetic) if self.budget is None else self.budget
        )
        budget = check_budget(
            requested,
            minimum,
            "PermutationShapley",
            f"two {'antithetic pairs' if group == 2 else 'permutations'} of {n} players",
        )
        n_samples = (budget - 2) // (group * permutation_cost(n))
        rng = np.random.default_rng(self.seed)
        prefix_game = incremental_prefix_game(game)
        batch = max(1, self.batch_size // group)
        if prefix_game is None:
            batch = max(1, min(batch, MASK_ELEMENTS // (group * (n + 1) * n)))
        moments = _RunningMoments(n)
        while moments.count < n_samples:
            count = min(batch, n_samples - moments.count)
            orders = np.argsort(rng.random((count, n)), axis=1)
            if group == 2:
                orders = np.concatenate([orders, orders[:, ::-1]])
            utilities = _prefix_utilities(prefix_game, counter, orders)
            moments.add(_marginals(orders, utilities, count, group))
            report(self.progress, "permutations", moments.count * group, n_samples * group)
            if (
                self.max_stderr is not None
                and moments.count >= max(2, self.min_samples)
                and moments.stderr().max() <= self.max_stderr
            ):
                break
        endpoints = counter(np.array([np.zeros(n, bool), np.ones(n, bool)]))
        self.n_permutations_ = int(moments.count * group)
        self.incremental_ = prefix_game is not None
        self._finish(counter, moments.mean, moments.stderr(), endpoints[0], endpoints[1])
        if prefix_game is not None:  # prefixes were evaluated outside the memo
            self.n_evaluations_ += self.n_permutations_ * permutation_cost(n)
        return self


def _prefix_utilities(
    prefix_game: PrefixGame | None, counter: EvaluationCounter, orders: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Utilities of every prefix of ``orders``, shape (perms, n + 1)."""
    if prefix_game is not None:
        return np.asarray(prefix_game.prefix_utilities(orders), dtype=np.float64)
    n = orders.shape[1]
    return counter(prefix_masks(orders).reshape(-1, n)).reshape(len(orders), n + 1)


def _marginals(
    orders: NDArray[np.intp], utilities: NDArray[np.float64], count: int, group: int
) -> NDArray[np.float64]:
    """Marginal contributions averaged per sample, shape (count, n_players)."""
    positions = np.argsort(orders, axis=1)  # positions[p, i] = where player i comes in order p
    rows = np.arange(len(orders))[:, None]
    marginals = utilities[rows, positions + 1] - utilities[rows, positions]
    if group == 2:
        marginals = 0.5 * (marginals[:count] + marginals[count:])
    return np.asarray(marginals, dtype=np.float64)


class _RunningMoments:
    """Per-column count, mean and sum of squared deviations, merged block by block."""

    def __init__(self, n: int) -> None:
        self.count = 0
        self.mean = np.zeros(n)
        self._squares = np.zeros(n)

    def add(self, samples: NDArray[np.float64]) -> None:
        size = samples.shape[0]
        block_mean = samples.mean(axis=0)
        block_squares = ((samples - block_mean) ** 2).sum(axis=0)
        total = self.count + size
        delta = block_mean - self.mean
        self._squares += block_squares + delta**2 * (self.count * size / total)
        self.mean = self.mean + delta * (size / total)
        self.count = total

    def stderr(self) -> NDArray[np.float64]:
        """Standard error of each column's mean (inf below two samples)."""
        if self.count < 2:
            return np.full(self.mean.shape[0], np.inf)
        variance = np.clip(self._squares, 0.0, None) / (self.count - 1)
        return np.asarray(np.sqrt(variance / self.count), dtype=np.float64)
