"""Monte Carlo Shapley values from random permutations, with antithetic pairs."""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import NDArray

from attribution.engine.estimators.base import ShapleyEstimator, check_budget
from attribution.engine.games.base import EvaluationCounter, Game
from attribution.engine.progress import Progress, report


def permutation_cost(n_players: int) -> int:
    """Evaluations one permutation may need: its prefixes of size 1..n-1 (∅ and N are shared)."""
    return n_players - 1


class PermutationShapley(ShapleyEstimator):
    """Average marginal contributions over random player orders.

    Every permutation's marginal contributions sum to v(N) − v(∅), so the estimate satisfies the
    efficiency axiom exactly. With ``antithetic=True`` each permutation is followed by its reverse
    and the pair's average is one sample; the standard error is the spread of those samples.

    Args:
        budget: Most utility evaluations to spend; the number of permutations is
            ⌊(budget − 2) / (n − 1)⌋ (rounded down to whole pairs).
        seed: Seed or generator.
        antithetic: Pair every permutation with its reverse.
        max_stderr: Stop early once the largest per-player standard error is at most this.
        batch_size: Permutations evaluated per game call (and between stopping checks).
        progress: Optional ``progress(stage, done, total)`` callback (in permutations).
    """

    def __init__(
        self,
        budget: int = 1000,
        seed: int | np.random.Generator | None = None,
        antithetic: bool = True,
        max_stderr: float | None = None,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> None:
        self.budget = budget
        self.seed = seed
        self.antithetic = antithetic
        self.max_stderr = max_stderr
        self.batch_size = batch_size
        self.progress = progress

    def fit(self, game: Game) -> Self:
        counter = self._start(game)
        n = counter.n_players
        group = 2 if self.antithetic else 1
        # Two independent samples are the fewest that give a standard error.
        minimum = 2 + 2 * group * permutation_cost(n)
        budget = check_budget(
            self.budget,
            minimum,
            "PermutationShapley",
            f"two {'antithetic pairs' if group == 2 else 'permutations'} of {n} players",
        )
        n_samples = (budget - 2) // (group * permutation_cost(n))
        rng = np.random.default_rng(self.seed)
        batch = max(1, self.batch_size // group)
        samples: list[NDArray[np.float64]] = []
        done = 0
        while done < n_samples:
            count = min(batch, n_samples - done)
            samples.append(self._sample(counter, rng, count, group))
            done += count
            report(self.progress, "permutations", done * group, n_samples * group)
            if self.max_stderr is not None and done >= 2:
                stacked = np.concatenate(samples)
                if _stderr(stacked).max() <= self.max_stderr:
                    break
        marginals = np.concatenate(samples)
        endpoints = counter(np.array([np.zeros(n, bool), np.ones(n, bool)]))
        self.n_permutations_ = int(marginals.shape[0] * group)
        self._finish(
            counter, marginals.mean(axis=0), _stderr(marginals), endpoints[0], endpoints[1]
        )
        return self

    @staticmethod
    def _sample(
        counter: EvaluationCounter, rng: np.random.Generator, count: int, group: int
    ) -> NDArray[np.float64]:
        """Marginal contributions averaged per sample, shape (count, n_players)."""
        n = counter.n_players
        orders = np.argsort(rng.random((count, n)), axis=1)
        if group == 2:
            orders = np.concatenate([orders, orders[:, ::-1]])
        positions = np.argsort(orders, axis=1)  # positions[p, i] = where player i comes in order p
        sizes = np.arange(n + 1)
        masks = positions[:, None, :] < sizes[None, :, None]  # (perms, n+1 prefixes, n)
        utilities = counter(masks.reshape(-1, n)).reshape(len(orders), n + 1)
        rows = np.arange(len(orders))[:, None]
        marginals = utilities[rows, positions + 1] - utilities[rows, positions]
        if group == 2:
            marginals = 0.5 * (marginals[:count] + marginals[count:])
        return marginals


def _stderr(samples: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standard error of the mean of each column."""
    if samples.shape[0] < 2:
        return np.full(samples.shape[1], np.inf)
    return np.asarray(samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0]), dtype=np.float64)
