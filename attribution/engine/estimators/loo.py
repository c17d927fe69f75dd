"""Leave-one-out: each player's value is what the grand coalition loses without them."""

from __future__ import annotations

from typing import Self

import numpy as np

from attribution.engine.estimators.base import ShapleyEstimator
from attribution.engine.games.base import Game


class LeaveOneOut(ShapleyEstimator):
    """φ_i = v(N) − v(N ∖ {i}); n + 2 evaluations (v(∅) is evaluated too, for the baseline).

    Not a Shapley estimator in general: it ignores every smaller coalition, so two players who
    duplicate each other both get (near) zero, and the values need not sum to v(N) − v(∅)
    (see ``efficiency_gap_``). It is here as the classic baseline.
    """

    def fit(self, game: Game) -> Self:
        counter = self._start(game)
        n = counter.n_players
        masks = np.ones((n + 2, n), dtype=np.bool_)
        masks[np.arange(n), np.arange(n)] = False
        masks[n + 1] = False
        utilities = counter(masks)
        grand, baseline = utilities[n], utilities[n + 1]
        self._finish(counter, grand - utilities[:n], None, baseline, grand)
        return self
