"""What every Shapley estimator shares: the scikit-learn contract and the fitted attributes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from statistics import NormalDist
from typing import Self

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import BudgetTooSmallError, EngineInputError
from attribution.engine.games.base import EvaluationCounter, Game, check_game


class ShapleyEstimator(ABC):
    """Base class: ``__init__`` stores parameters, ``fit(game)`` fills the learned attributes.

    Attributes set by ``fit``:
        values_: Estimated Shapley values, shape (n_players,).
        stderr_: Per-player standard errors, shape (n_players,), or None when the method has none.
        n_evaluations_: Distinct utility evaluations spent.
        baseline_: v(∅), the utility of the empty coalition.
        grand_value_: v(N), the utility of the grand coalition.
    """

    values_: NDArray[np.float64]
    stderr_: NDArray[np.float64] | None
    n_evaluations_: int
    baseline_: float
    grand_value_: float

    @abstractmethod
    def fit(self, game: Game) -> Self:
        """Estimate the Shapley values of ``game`` and return ``self``."""

    @property
    def efficiency_gap_(self) -> float:
        """Σφ − (v(N) − v(∅)): zero for estimators that satisfy the efficiency axiom."""
        self._check_fitted()
        return float(self.values_.sum() - (self.grand_value_ - self.baseline_))

    def confidence_interval(self, level: float = 0.95) -> NDArray[np.float64]:
        """Normal-approximation interval values_ ± z·stderr_, shape (n_players, 2).

        Raises:
            EngineInputError: If the method has no standard errors or ``level`` is not in (0, 1).
        """
        self._check_fitted()
        if not 0.0 < level < 1.0:
            raise EngineInputError(f"level must lie strictly between 0 and 1, got {level}.")
        if self.stderr_ is None:
            raise EngineInputError(f"{type(self).__name__} gives no standard errors.")
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        return np.column_stack([self.values_ - z * self.stderr_, self.values_ + z * self.stderr_])

    def _check_fitted(self) -> None:
        if not hasattr(self, "values_"):
            raise EngineInputError(
                f"{type(self).__name__} is not fitted yet; call fit(game) first."
            )

    def _start(self, game: Game) -> EvaluationCounter:
        """Validate the game and wrap it so evaluations are memoised and counted."""
        check_game(game)
        return EvaluationCounter(game)

    def _finish(
        self,
        counter: EvaluationCounter,
        values: NDArray[np.float64],
        stderr: NDArray[np.float64] | None,
        baseline: float,
        grand_value: float,
    ) -> None:
        self.values_ = np.asarray(values, dtype=np.float64)
        self.stderr_ = None if stderr is None else np.asarray(stderr, dtype=np.float64)
        self.n_evaluations_ = counter.n_evaluations
        self.baseline_ = float(baseline)
        self.grand_value_ = float(grand_value)


def check_budget(budget: object, minimum: int, method: str, why: str) -> int:
    """Return ``budget`` as an int or raise a clear error if it is below ``minimum``."""
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
        raise EngineInputError(f"budget must be an integer number of evaluations, got {budget!r}.")
    if budget < minimum:
        raise BudgetTooSmallError(
            f"{method} needs a budget of at least {minimum} utility evaluations ({why}); "
            f"got {budget}."
        )
    return int(budget)


def endpoint_masks(n_players: int) -> NDArray[np.bool_]:
    """The empty and the grand coalition, in that order, shape (2, n_players)."""
    return np.array([np.zeros(n_players, dtype=np.bool_), np.ones(n_players, dtype=np.bool_)])
