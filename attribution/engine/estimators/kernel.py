"""KernelSHAP in closed form with the efficiency constraint (Covert & Lee 2021)."""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import NDArray

from attribution.engine.coalitions import sample_coalitions
from attribution.engine.estimators.base import ShapleyEstimator, check_budget, endpoint_masks
from attribution.engine.estimators.regression import solve_efficient_regression
from attribution.engine.games.base import Game
from attribution.engine.progress import Progress, report

DEFAULT_BOOTSTRAP = 100
BOOTSTRAP_PLAYER_REFITS = 20_000
"""Above 200 players the default bootstrap makes max(10, 20,000 / n) refits: each refit is a
least-squares solve on (2n + 2) × n, O(n³), about 0.5 s at n = 1,000 on one CPU thread."""


def default_kernel_budget(n_players: int) -> int:
    """The budget used when none is given: 1,000, or twice the players (plus ∅ and N) if more."""
    return max(1000, 2 * n_players + 2)


def default_kernel_bootstrap(n_players: int) -> int:
    """Bootstrap refits when none are given: 100 up to 200 players, then max(10, 20,000 / n)."""
    return min(DEFAULT_BOOTSTRAP, max(10, BOOTSTRAP_PLAYER_REFITS // n_players))


class KernelShapley(ShapleyEstimator):
    """KernelSHAP: sample coalitions from the Shapley kernel, solve the constrained regression.

    Σφ = v(N) − v(∅) holds exactly (the constraint is solved, not penalised). Standard errors come
    from refitting on bootstrap resamples of the sampled coalitions (pairs resampled together).

    Args:
        budget: Most utility evaluations to spend: ∅ and N plus ``budget − 2`` sampled coalitions.
            At least n + 2, so the regression is determined. None (the default):
            :func:`default_kernel_budget`, 1,000 or 2n + 2, so no n is refused.
        seed: Seed or generator.
        paired: Sample each coalition together with its complement (variance reduction).
        n_bootstrap: Bootstrap refits for ``stderr_`` (0 leaves ``stderr_`` None). None (the
            default): :func:`default_kernel_bootstrap`, 100 up to 200 players and fewer above
            (each refit is an O(n³) solve).
        progress: Optional ``progress(stage, done, total)`` callback.
    """

    def __init__(
        self,
        budget: int | None = None,
        seed: int | np.random.Generator | None = None,
        paired: bool = True,
        n_bootstrap: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.budget = budget
        self.seed = seed
        self.paired = paired
        self.n_bootstrap = n_bootstrap
        self.progress = progress

    def fit(self, game: Game) -> Self:
        counter = self._start(game)
        n = counter.n_players
        requested = default_kernel_budget(n) if self.budget is None else self.budget
        budget = check_budget(
            requested, n + 2, "KernelShapley", f"∅, N and at least one coalition per player ({n})"
        )
        n_bootstrap = default_kernel_bootstrap(n) if self.n_bootstrap is None else self.n_bootstrap
        rng = np.random.default_rng(self.seed)
        masks = sample_coalitions(n, budget - 2, strategy="kernel", seed=rng, paired=self.paired)
        report(self.progress, "evaluate", 0, 1)
        baseline, grand = counter(endpoint_masks(n))
        targets = counter(masks) - baseline
        report(self.progress, "evaluate", 1, 1)
        total = grand - baseline
        values = solve_efficient_regression(masks, targets, total)
        stderr = (
            self._bootstrap(masks, targets, total, rng, n_bootstrap) if n_bootstrap > 0 else None
        )
        self.masks_ = masks
        self._finish(counter, values, stderr, baseline, grand)
        return self

    def _bootstrap(
        self,
        masks: NDArray[np.bool_],
        targets: NDArray[np.float64],
        total: float,
        rng: np.random.Generator,
        n_bootstrap: int,
    ) -> NDArray[np.float64]:
        """Standard deviation of the estimate over resamples of the sampling units."""
        unit = np.arange(len(masks)) // 2 if self.paired else np.arange(len(masks))
        n_units = int(unit.max()) + 1
        draws = np.empty((n_bootstrap, masks.shape[1]))
        for b in range(n_bootstrap):
            counts = np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)
            weights = counts[unit].astype(np.float64)
            draws[b] = solve_efficient_regression(masks, targets, total, weights)
            report(self.progress, "bootstrap", b + 1, n_bootstrap)
        return np.asarray(draws.std(axis=0, ddof=1), dtype=np.float64)
