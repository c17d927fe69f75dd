"""Whether a surrogate's values have settled: refits on growing prefixes of its coalitions."""

from __future__ import annotations

from collections.abc import Sequence

from attribution.engine.estimators import SurrogateShapley


def surrogate_convergence(
    estimator: SurrogateShapley, keys: Sequence[str]
) -> tuple[list[int], dict[str, list[float]]]:
    """Values refitted on the first 25%, 50%, 75% and all evaluated coalitions (same depth).

    Shows whether the values have settled as coalitions were added; costs four CatBoost fits.

    Returns:
        The number of coalitions of each refit (∅ and N included) and, per key, its values.
    """
    masks, utilities = estimator.masks_, estimator.utilities_
    inner = len(masks) - 2  # rows 0 and 1 are ∅ and N
    counts = sorted(
        {max(4, round(inner * f)) for f in (0.25, 0.5, 0.75, 1.0)} & set(range(inner + 1))
    )
    values: dict[str, list[float]] = {key: [] for key in keys}
    for count in counts:
        refit = SurrogateShapley(seed=estimator.seed, depth=estimator.depth_, cv_folds=0)
        refit.fit_table(masks[: count + 2], utilities[: count + 2])
        for key, value in zip(keys, refit.values_, strict=True):
            values[key].append(float(value))
    return [count + 2 for count in counts], values
