"""A game whose utilities are all equal: every estimator gives every player exactly zero.

This is the round in which nobody carries the artefact (the marker-free rate is 1 for every
pool): there is nothing to share, and no estimator may fail on it or invent value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from attribution.engine import (
    ExactShapley,
    FunctionGame,
    KernelShapley,
    LeaveOneOut,
    PermutationShapley,
    ShapleyEstimator,
    SurrogateShapley,
)
from attribution.engine.estimators import CrossFitSurrogateShapley

N_PLAYERS = 9

ESTIMATORS: dict[str, Callable[[], ShapleyEstimator]] = {
    "exact": ExactShapley,
    "kernel": lambda: KernelShapley(budget=64, seed=0, n_bootstrap=5),
    "permutation": lambda: PermutationShapley(budget=200, seed=0),
    "leave-one-out": LeaveOneOut,
    "surrogate": lambda: SurrogateShapley(budget=64, seed=0, n_bootstrap=3),
    "surrogate, bias corrected": lambda: SurrogateShapley(budget=64, seed=0, bias_correction=True),
    "surrogate, fixed depth": lambda: SurrogateShapley(budget=64, seed=0, depth=3, cv_folds=0),
    "cross-fit surrogate": lambda: CrossFitSurrogateShapley(budget=128, seed=0, n_bootstrap=5),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("level", [0.0, 1.0, -3.5])
def test_all_equal_utilities_give_exactly_zero(name: str, level: float) -> None:
    game = FunctionGame(N_PLAYERS, lambda masks: np.full(len(masks), level))
    fitted = ESTIMATORS[name]().fit(game)
    np.testing.assert_array_equal(fitted.values_, np.zeros(N_PLAYERS))
    if fitted.stderr_ is not None:
        np.testing.assert_array_equal(fitted.stderr_, np.zeros(N_PLAYERS))
    assert fitted.baseline_ == fitted.grand_value_ == level


def test_surrogate_table_of_equal_utilities_gives_zero() -> None:
    masks = np.random.default_rng(0).random((40, 6)) < 0.5
    masks[0], masks[1] = False, True
    fitted = SurrogateShapley(seed=0).fit_table(masks, np.full(40, 0.25))
    np.testing.assert_array_equal(fitted.values_, np.zeros(6))
    assert fitted.raw_efficiency_gap_ == 0.0
