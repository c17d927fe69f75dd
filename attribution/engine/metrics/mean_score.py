"""The pool average of a per-sample score: Σ_i π_i score_means[name]_i.

Any scalar a model assigns to each generated sample (an aesthetic head, label fidelity = the
classifier's probability of the conditioning label, a CLIP text-image similarity, ...) averages
over a pool as the π-weighted mean of the bank averages.
"""

from __future__ import annotations

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics.statistics import BankStatistics, FloatArray, check_mixture_weights


class MeanScore:
    """Mean of a per-sample score over each coalition's pool (higher must mean better).

    Args:
        score_name: The key of the score in ``BankStatistics.score_means``. Orient the score so
            higher is better before computing statistics (negate a loss, for instance).

    Attributes:
        name: ``"mean_<score_name>"``.
        floor: None: a score has no natural no-information value.
    """

    floor: float | None = None

    def __init__(self, score_name: str) -> None:
        if not isinstance(score_name, str) or not score_name:
            raise EngineInputError(f"score_name must be a non-empty string, got {score_name!r}.")
        self.score_name = score_name
        self.name = f"mean_{score_name}"

    def __call__(self, statistics: BankStatistics, weights: FloatArray) -> FloatArray:
        """Return the pool mean score per coalition, shape (m,), for weights of shape (m, n)."""
        weights = check_mixture_weights(weights, statistics.n_contributors)
        return self.from_pooled(statistics, weights @ self.bank_rows(statistics))

    def bank_rows(self, statistics: BankStatistics) -> FloatArray:
        """Each bank's mean score as a column, shape (n, 1) (a pooled metric, see ``pooled``)."""
        return statistics.require_score(self.score_name, self.name)[:, None]

    def from_pooled(self, statistics: BankStatistics, pooled: FloatArray) -> FloatArray:
        """The pools' mean scores, shape (m,), from their mixed rows (m, 1)."""
        means: FloatArray = pooled[:, 0].copy()
        return means

    def __repr__(self) -> str:
        return f"MeanScore({self.score_name!r})"
