"""Metrics of a pool's mean statistics: the ones permutation sampling can update incrementally.

Every metric here except the Fréchet distance is a function of a few per-bank averages mixed with
the pool weights: the pool's mean class probabilities p̄ = Σ_i π_i m_i, its mean score, its mean
negative entropy. Such a metric is *pooled*: it names the per-bank rows r_i it mixes
(``bank_rows(statistics)``, shape (n, k)) and the utility of a pool from their mixture
(``from_pooled(statistics, pooled)``, pooled of shape (m, k)); its ``__call__`` is exactly
``from_pooled(statistics, weights @ bank_rows(statistics))``.

Why it matters: with π_i(S) = |C_i| / Σ_{j∈S} |C_j|, the pooled rows of a coalition are a ratio of
running sums, Σ_{j∈S} |C_j| r_j / Σ_{j∈S} |C_j|, so adding one contributor to a coalition updates
them in O(k) work. Along a permutation every prefix's utility then costs O(k) instead of the
O(n · k) of building its weight row (see :meth:`ProxyGame.prefix_utilities
<attribution.engine.games.proxy.ProxyGame.prefix_utilities>`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from attribution.engine.metrics.statistics import BankStatistics, FloatArray


@runtime_checkable
class PooledMetric(Protocol):
    """A metric that is a function of the π-weighted mean of k per-bank numbers."""

    name: str
    floor: float | None

    def bank_rows(self, statistics: BankStatistics) -> FloatArray:
        """The per-bank rows r_i the pool mixes, shape (n, k), validated."""
        ...

    def from_pooled(self, statistics: BankStatistics, pooled: FloatArray) -> FloatArray:
        """Utilities, shape (m,), of pools whose mixed rows Σ_i π_i r_i are ``pooled`` (m, k)."""
        ...

    def __call__(self, statistics: BankStatistics, weights: FloatArray) -> FloatArray:
        """``from_pooled(statistics, weights @ bank_rows(statistics))``."""
        ...
