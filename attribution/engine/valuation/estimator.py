"""``ToleranceShapley``: :func:`value_to_tolerance` behind the estimator contract.

So the estimator catalog and ``run_round`` (which take estimator factories) can ask for "values to
the payout tolerance" like any other method; the full outcome (which estimator ran and why, the
achieved precision) is kept in ``valuation_``.
"""

from __future__ import annotations

import math
from typing import Self

from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import ShapleyEstimator
from attribution.engine.games.base import Game
from attribution.engine.progress import Progress
from attribution.engine.valuation.selection import (
    DEFAULT_MAX_EXACT_PLAYERS,
    DEFAULT_TIME_BUDGET_S,
    ToleranceValuation,
    value_to_tolerance,
)
from attribution.engine.valuation.tolerance import (
    DEFAULT_LEVEL,
    DEFAULT_PERCENTAGE_POINTS,
    PayoutTolerance,
)


class ToleranceShapley(ShapleyEstimator):
    """Values to a payout tolerance: exact when affordable, else sampled to the money target.

    Args:
        percentage_points: Share half-width in pp of the pool (see :class:`PayoutTolerance`).
        level: Its confidence level.
        time_budget_s: Wall-clock budget for the valuation.
        seed: Seed for the probe and the sampling estimators.
        max_exact_players: Never enumerate games with more players.
        estimation_variance_share: The part of the tolerance's variance the estimation may use
            (1: all of it; a round that also measures bank noise gives estimation half, so
            estimation and banks together can meet the tolerance: ±h/√2 for estimation).
        progress: Optional ``progress(stage, done, total)`` callback.

    Attributes (besides the base class's):
        valuation_: The :class:`ToleranceValuation` (estimator chosen, reason, achieved pp).
    """

    def __init__(
        self,
        percentage_points: float = DEFAULT_PERCENTAGE_POINTS,
        level: float = DEFAULT_LEVEL,
        time_budget_s: float = DEFAULT_TIME_BUDGET_S,
        seed: int = 0,
        max_exact_players: int = DEFAULT_MAX_EXACT_PLAYERS,
        estimation_variance_share: float = 1.0,
        progress: Progress | None = None,
    ) -> None:
        if not 0.0 < estimation_variance_share <= 1.0:
            raise EngineInputError(
                f"estimation_variance_share must lie in (0, 1], got {estimation_variance_share!r}."
            )
        self.estimation_variance_share = estimation_variance_share
        self.percentage_points = percentage_points
        self.level = level
        self.time_budget_s = time_budget_s
        self.seed = seed
        self.max_exact_players = max_exact_players
        self.progress = progress

    def fit(self, game: Game) -> Self:
        share = self.estimation_variance_share
        valuation = value_to_tolerance(
            game,
            PayoutTolerance(self.percentage_points * math.sqrt(share), self.level),
            self.time_budget_s,
            self.seed,
            max_exact_players=self.max_exact_players,
            progress=self.progress,
        )
        if share < 1.0:
            valuation.reason = (
                f"estimation to ±{valuation.tolerance.percentage_points:.3g} pp ({share:.0%} of "
                f"the variance of the round's ±{self.percentage_points:g} pp; the sample banks "
                f"get the rest): {valuation.reason}"
            )
        self.valuation_: ToleranceValuation = valuation
        self.values_ = valuation.values
        self.stderr_ = valuation.stderr
        self.n_evaluations_ = valuation.n_evaluations
        self.baseline_ = valuation.baseline
        self.grand_value_ = valuation.grand_value
        return self
