"""Shapley value estimators; all follow the scikit-learn contract (see ``base``)."""

from attribution.engine.estimators.base import ShapleyEstimator
from attribution.engine.estimators.crossfit import CrossFitSurrogateShapley
from attribution.engine.estimators.exact import ExactShapley, shapley_from_table
from attribution.engine.estimators.kernel import KernelShapley
from attribution.engine.estimators.loo import LeaveOneOut
from attribution.engine.estimators.permutation import PermutationShapley
from attribution.engine.estimators.surrogate import SurrogateShapley

__all__ = [
    "CrossFitSurrogateShapley",
    "ExactShapley",
    "KernelShapley",
    "LeaveOneOut",
    "PermutationShapley",
    "ShapleyEstimator",
    "SurrogateShapley",
    "shapley_from_table",
]
