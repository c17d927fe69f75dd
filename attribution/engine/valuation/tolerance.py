"""The money tolerance a round's payouts need: every share within ±h percentage points at a level.

A contributor's *share* is φ_i / (v(N) − v(∅)): under the efficiency axiom the shares sum to one,
so an error of 0.0025 in a share is 0.25 percentage points of the pool (EUR 25 of EUR 10,000).
The tolerance is a statement about the worst contributor: the round meets it when
z · max_i se(share_i) ≤ h, with z the normal quantile of the level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from attribution.engine.errors import EngineInputError

DEFAULT_PERCENTAGE_POINTS = 0.25
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class PayoutTolerance:
    """Every contributor's share within ±``percentage_points`` of the pool at ``level``.

    Args:
        percentage_points: Half-width h of the allowed share error, in percentage points of the
            pool (0.25 means ±0.25 pp), positive.
        level: Confidence level of the statement, strictly between 0 and 1.
    """

    percentage_points: float = DEFAULT_PERCENTAGE_POINTS
    level: float = DEFAULT_LEVEL

    def __post_init__(self) -> None:
        points = self.percentage_points
        if isinstance(points, bool) or not isinstance(points, int | float) or not points > 0:
            raise EngineInputError(
                f"percentage_points must be a positive number, got {self.percentage_points!r}."
            )
        if not math.isfinite(points) or points >= 100:
            raise EngineInputError(f"percentage_points must be below 100, got {points}.")
        if isinstance(self.level, bool) or not 0.0 < float(self.level) < 1.0:
            raise EngineInputError(f"level must lie strictly between 0 and 1, got {self.level}.")

    @property
    def z(self) -> float:
        """The two-sided normal quantile of ``level`` (1.96 at 95%)."""
        return NormalDist().inv_cdf(0.5 + float(self.level) / 2.0)

    @property
    def share_half_width(self) -> float:
        """h as a fraction of the pool (0.0025 for 0.25 pp)."""
        return float(self.percentage_points) / 100.0

    @property
    def share_stderr(self) -> float:
        """The largest share standard error that meets the tolerance: h / z."""
        return self.share_half_width / self.z

    def value_stderr(self, total: float) -> float:
        """The largest standard error of a *value* that meets it, for v(N) − v(∅) = ``total``."""
        return self.share_stderr * abs(float(total))

    def half_width_points(self, share_stderr: float) -> float:
        """The 'level' half-width, in percentage points, of a share with this standard error."""
        return 100.0 * self.z * float(share_stderr)
