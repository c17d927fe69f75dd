"""Artefact-free rate of a coalition's pool: 1 − Σ_i π_i (bank i's artefact rate).

The per-sample score is an artefact detector's output, 0/1 (or a probability of an artefact), so a
bank's mean score is its artefact rate and the pool's rate is the π-weighted mean. The utility is
oriented higher-is-better (fewer artefacts), as every engine utility is.

Shapley values are linear in the game, so the attribution *of the artefact rate itself* (who causes
artefacts) is the negation of the values of this game: a contributor with a large positive value
here lowers the artefact rate, one with a negative value raises it.
"""

from __future__ import annotations

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics.statistics import BankStatistics, FloatArray, check_mixture_weights


class ArtefactFreeRate:
    """Fraction of each coalition's pool free of artefacts (higher is better).

    Args:
        score_name: The key in ``BankStatistics.score_means`` holding each bank's mean detector
            output, which must lie in [0, 1].

    Attributes:
        name: ``"artefact_free_rate"``.
        floor: 1.0: no data, no artefacts.
    """

    name = "artefact_free_rate"
    floor: float | None = 1.0

    def __init__(self, score_name: str = "artefact") -> None:
        if not isinstance(score_name, str) or not score_name:
            raise EngineInputError(f"score_name must be a non-empty string, got {score_name!r}.")
        self.score_name = score_name

    def __call__(self, statistics: BankStatistics, weights: FloatArray) -> FloatArray:
        """Return 1 − (pool artefact rate) per coalition, shape (m,), for weights (m, n)."""
        weights = check_mixture_weights(weights, statistics.n_contributors)
        return self.from_pooled(statistics, weights @ self.bank_rows(statistics))

    def bank_rows(self, statistics: BankStatistics) -> FloatArray:
        """Each bank's artefact rate as a column, shape (n, 1), checked to lie in [0, 1]."""
        rates = statistics.require_score(self.score_name, self.name)
        if (rates < 0).any() or (rates > 1).any():
            raise EngineInputError(
                f"score {self.score_name!r} must be an artefact indicator or probability in "
                f"[0, 1] per sample; its bank means range over [{rates.min():.6g}, "
                f"{rates.max():.6g}]."
            )
        return rates[:, None]

    def from_pooled(self, statistics: BankStatistics, pooled: FloatArray) -> FloatArray:
        """1 − the pools' artefact rates, shape (m,), from their mixed rows (m, 1)."""
        free: FloatArray = 1.0 - pooled[:, 0]
        return free

    def __repr__(self) -> str:
        return f"ArtefactFreeRate({self.score_name!r})"
