"""CLIP zero-shot diversity of a coalition's pool: the entropy of its mean class distribution.

Each sample gets CLIP's zero-shot distribution over C class prompts ("a photo of a dress", "a
photo of a shoe", ...) (:class:`~attribution.engine.features.ZeroShotScorer`, a vector score named
``"zero_shot"``). Bank i's mean distribution is ``score_means["zero_shot"][i]``, the pool's is
p̄ = Σ_i π_i of those, and the utility is H(p̄) = −Σ_c p̄_c log p̄_c in nats: 0 for a pool of one
product type, log C for a pool covering the C types evenly (the SurrogateSHAP paper's product
diversity). Like :class:`~attribution.engine.metrics.ClassEntropy`, but on a named score, so the
round's featurizer can stay Inception (whose probabilities feed the Inception Score).
"""

from __future__ import annotations

import numpy as np

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics.statistics import (
    LOG_CLIP,
    PROBABILITY_SUM_TOLERANCE,
    BankStatistics,
    FloatArray,
    check_mixture_weights,
)


class ZeroShotDiversity:
    """Entropy in nats of each coalition's mean zero-shot class distribution (higher is better).

    Args:
        score_name: The vector score in ``BankStatistics.score_means`` (default ``"zero_shot"``),
            shape (n, C), rows probability vectors.

    Attributes:
        name: ``"clip_diversity"``.
        floor: 0.0, the entropy of a pool concentrated on one class.
    """

    name = "clip_diversity"
    floor: float | None = 0.0

    def __init__(self, score_name: str = "zero_shot") -> None:
        if not isinstance(score_name, str) or not score_name:
            raise EngineInputError(f"score_name must be a non-empty string, got {score_name!r}.")
        self.score_name = score_name

    def __call__(self, statistics: BankStatistics, weights: FloatArray) -> FloatArray:
        """Return H(p̄) per coalition in nats, shape (m,), for mixture weights of shape (m, n)."""
        weights = check_mixture_weights(weights, statistics.n_contributors)
        return self.from_pooled(statistics, weights @ self.bank_rows(statistics))

    def bank_rows(self, statistics: BankStatistics) -> FloatArray:
        """Each bank's mean zero-shot distribution, shape (n, C), checked to be probabilities."""
        means = statistics.require_score(self.score_name, self.name, ndim=2)
        if (means < 0).any() or (np.abs(means.sum(axis=1) - 1) > PROBABILITY_SUM_TOLERANCE).any():
            raise EngineInputError(
                f"score {self.score_name!r} must be a probability vector per sample (zero-shot "
                "class probabilities); its bank means are not."
            )
        return means

    def from_pooled(self, statistics: BankStatistics, pooled: FloatArray) -> FloatArray:
        """H(p̄) per pool in nats, shape (m,), from the pools' mean distributions p̄ (m, C)."""
        entropy: FloatArray = -(pooled * np.log(np.clip(pooled, LOG_CLIP, None))).sum(axis=1)
        return entropy

    def __repr__(self) -> str:
        return f"ZeroShotDiversity({self.score_name!r})"
