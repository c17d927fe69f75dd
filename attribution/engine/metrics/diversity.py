"""Class diversity of a coalition's pool: the entropy of its mean class prediction.

H(p̄) = −Σ_y p̄_y log p̄_y (nats) with p̄ = Σ_i π_i probability_mean_i. It is 0 when the pool is all
one class and log C when the pool covers the C classes evenly. Unlike the Inception score it ignores
how confident each prediction is, so it rewards coverage alone.
"""

from __future__ import annotations

import numpy as np

from attribution.engine.metrics.statistics import (
    LOG_CLIP,
    BankStatistics,
    FloatArray,
    check_mixture_weights,
)


class ClassEntropy:
    """Entropy in nats of each coalition's mean class probabilities (higher is better).

    Attributes:
        name: ``"class_entropy"``.
        floor: 0.0, the entropy of a pool concentrated on one class.
    """

    name = "class_entropy"
    floor: float | None = 0.0

    def __call__(self, statistics: BankStatistics, weights: FloatArray) -> FloatArray:
        """Return H(p̄) per coalition in nats, shape (m,), for mixture weights of shape (m, n)."""
        weights = check_mixture_weights(weights, statistics.n_contributors)
        return self.from_pooled(statistics, weights @ self.bank_rows(statistics))

    def bank_rows(self, statistics: BankStatistics) -> FloatArray:
        """Each bank's mean class probabilities, shape (n, C) (a pooled metric, see ``pooled``)."""
        return statistics.require("probability_mean", self.name)

    def from_pooled(self, statistics: BankStatistics, pooled: FloatArray) -> FloatArray:
        """H(p̄) per pool, shape (m,), from the pools' mean class probabilities p̄ (m, C)."""
        entropy: FloatArray = -(pooled * np.log(np.clip(pooled, LOG_CLIP, None))).sum(axis=1)
        return entropy

    def __repr__(self) -> str:
        return "ClassEntropy()"
