"""Exact Shapley values by enumerating all 2^n coalitions, vectorised."""

from __future__ import annotations

import math
from typing import Self

import numpy as np
from numpy.typing import NDArray

from attribution.engine.coalitions import enumerate_masks
from attribution.engine.errors import TooManyPlayersError
from attribution.engine.estimators.base import ShapleyEstimator
from attribution.engine.games.base import Game
from attribution.engine.progress import Progress, report

DEFAULT_MAX_PLAYERS = 20


def shapley_weights(n_players: int) -> NDArray[np.float64]:
    """w(s) = s! (n-s-1)! / n!, s = 0..n-1: the weight of a marginal gain to a size-s set."""
    return np.array(
        [1.0 / (n_players * math.comb(n_players - 1, s)) for s in range(n_players)],
        dtype=np.float64,
    )


def shapley_from_table(utilities: NDArray[np.float64], n_players: int) -> NDArray[np.float64]:
    """Exact Shapley values from the utilities of all 2^n coalitions in binary order.

    Args:
        utilities: Shape (2^n,); entry k is v of the coalition whose members are the bits of k.
        n_players: n.

    Returns:
        Shape (n_players,).
    """
    codes = np.arange(2**n_players, dtype=np.int64)
    sizes = np.zeros(2**n_players, dtype=np.int64)
    for i in range(n_players):
        sizes += (codes >> i) & 1
    weights = shapley_weights(n_players)
    values = np.empty(n_players)
    for i in range(n_players):
        without = codes[((codes >> i) & 1) == 0]
        gains = utilities[without | (1 << i)] - utilities[without]
        values[i] = float(np.dot(weights[sizes[without]], gains))
    return values


class ExactShapley(ShapleyEstimator):
    """Exact Shapley values from all 2^n coalitions.

    Args:
        max_players: Refuse games with more players (2^n evaluations and 8·2^n bytes of utilities;
            20 players is about a million coalitions: under a second for a cheap game, ~40 s
            for a Fréchet-distance proxy game with 32-d features).
        batch_size: Coalitions passed to the game per call.
        progress: Optional ``progress(stage, done, total)`` callback.
    """

    def __init__(
        self,
        max_players: int = DEFAULT_MAX_PLAYERS,
        batch_size: int = 65536,
        progress: Progress | None = None,
    ) -> None:
        self.max_players = max_players
        self.batch_size = batch_size
        self.progress = progress

    def fit(self, game: Game) -> Self:
        counter = self._start(game)
        n = counter.n_players
        if n > self.max_players:
            raise TooManyPlayersError(
                f"exact Shapley values need all 2^{n} = {2**n:,} coalitions; this estimator is "
                f"limited to {self.max_players} players. Use SurrogateShapley, KernelShapley or "
                "PermutationShapley, or raise max_players if you have the time and memory."
            )
        total = 2**n
        utilities = np.empty(total)
        for start in range(0, total, self.batch_size):
            stop = min(start + self.batch_size, total)
            # Enumerated coalitions are distinct, so the game is called directly: memoising a
            # million keys would cost more than the game itself.
            utilities[start:stop] = counter.evaluate_distinct(enumerate_masks(n, start, stop))
            report(self.progress, "exact", stop, total)
        self._finish(
            counter,
            shapley_from_table(utilities, n),
            np.zeros(n),
            baseline=utilities[0],
            grand_value=utilities[-1],
        )
        return self
