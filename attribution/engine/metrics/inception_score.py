"""Inception score of a coalition's pool, from per-bank class-probability statistics.

IS = exp(E_x KL(p(y|x) ‖ p(y))) with p(y) = E_x p(y|x) over the pool. Splitting the KL,

    log IS = E_x Σ_y p(y|x) log p(y|x) − Σ_y p̄_y log p̄_y,

and both terms are linear in the mixture once p̄ = Σ_i π_i probability_mean_i is known, so

    IS(S) = exp( Σ_i π_i negative_entropy_mean_i − Σ_y p̄_y log p̄_y ).

It lies in [1, C]: 1 when every sample's prediction is the same (no information), C for confident
predictions spread evenly over C classes.
"""

from __future__ import annotations

import numpy as np

from attribution.engine.metrics.statistics import (
    LOG_CLIP,
    BankStatistics,
    FloatArray,
    check_mixture_weights,
)


class InceptionScore:
    """IS of each coalition's pool (higher is better; no data scores the floor, 1).

    Attributes:
        name: ``"inception_score"``.
        floor: 1.0, the score of a pool whose predictions carry no class information.
    """

    name = "inception_score"
    floor: float | None = 1.0

    def __call__(self, statistics: BankStatistics, weights: FloatArray) -> FloatArray:
        """Return IS per coalition, shape (m,), for mixture weights of shape (m, n)."""
        weights = check_mixture_weights(weights, statistics.n_contributors)
        return self.from_pooled(statistics, weights @ self.bank_rows(statistics))

    def bank_rows(self, statistics: BankStatistics) -> FloatArray:
        """Shape (n, C + 1): each bank's mean class probabilities, then its mean Σ p log p."""
        means = statistics.require("probability_mean", self.name)
        negative_entropies = statistics.require("negative_entropy_mean", self.name)
        return np.column_stack([means, negative_entropies])

    def from_pooled(self, statistics: BankStatistics, pooled: FloatArray) -> FloatArray:
        """IS per pool, shape (m,), from the pools' mixed rows (m, C + 1) (see ``bank_rows``)."""
        mean_probabilities, negative_entropy = pooled[:, :-1], pooled[:, -1]
        marginal_entropy = -(
            mean_probabilities * np.log(np.clip(mean_probabilities, LOG_CLIP, None))
        ).sum(axis=1)
        scores: FloatArray = np.exp(negative_entropy + marginal_entropy)
        return scores

    def __repr__(self) -> str:
        return "InceptionScore()"
