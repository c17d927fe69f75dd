"""Negative Fréchet distance between a coalition's pool and a reference, from bank moments.

With Gaussian fits N(μ, Σ) of the pool's features and N(μ_r, Σ_r) of the reference's,

    FD = ‖μ − μ_r‖² + tr Σ + tr Σ_r − 2 tr( (Σ_r^{1/2} Σ Σ_r^{1/2})^{1/2} )

(FID when the features come from Inception-v3). The pool's moments are mixtures of the banks':

    μ = Σ_i π_i m_i,    Σ = Σ_i π_i M_i − μ μᵀ,

where m_i and M_i are bank i's mean and mean of x xᵀ. Σ is the *population* (biased, divide by N)
covariance of the weighted pool — the covariance of the mixture distribution itself — so
:func:`reference_statistics` uses the population covariance too. (The usual FID code divides by
N − 1; at the thousands of samples FID needs the difference is a factor 1 + 1/N.)

Because Σ is linear in π up to the rank-one term μμᵀ, so is A Σ A with A = Σ_r^{1/2}:

    A Σ A = Σ_i π_i (A M_i A) − (A μ)(A μ)ᵀ.

We compute A once (symmetric eigendecomposition, negative eigenvalues clipped), A M_i A once per
bank, and for each batch of coalitions one matrix product, one rank-one update and one stacked
``np.linalg.eigvalsh``; the trace term is Σ √λ over the eigenvalues, clipped at 0 (A Σ A is PSD up
to round-off). Cost per coalition is O(n d² + d³): fine at d = 64, slow at Inception's d = 2048,
where features should be reduced (PCA) first. Memory per call is about 2·m·d²·8 bytes, which
ProxyGame bounds through its batch size.

Computing Σ from uncentred moments loses relative precision of about ε‖μ‖²/σ² (ε = 2.2e-16, σ² the
spread of the features), which is negligible in float64 for any realistic features.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics.statistics import BankStatistics, FloatArray, check_mixture_weights

SYMMETRY_TOLERANCE = 1e-8  # max |Σ_r − Σ_rᵀ| relative to max |Σ_r| before we refuse it


def reference_statistics(features: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Mean and population covariance of reference features (e.g. the real training images).

    Args:
        features: Shape (N, d), N ≥ 1 samples of d features.

    Returns:
        ``(mean, covariance)`` of shapes (d,) and (d, d), float64; the covariance divides by N to
        match the pool covariance of :class:`NegativeFrechetDistance`.

    Raises:
        EngineInputError: Not a finite (N, d) array with N ≥ 1.
    """
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise EngineInputError(
            f"reference features must have shape (N, d) with N, d ≥ 1, got {array.shape}."
        )
    if not np.isfinite(array).all():
        raise EngineInputError("reference features hold NaN or infinite values.")
    mean = array.mean(axis=0)
    centred = array - mean
    covariance: FloatArray = centred.T @ centred / array.shape[0]
    return mean, covariance


def symmetric_square_root(matrix: FloatArray) -> FloatArray:
    """The PSD square root of a symmetric (d, d) matrix, negative eigenvalues clipped to 0."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    root: FloatArray = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    return (root + root.T) / 2.0


class NegativeFrechetDistance:
    """−FD between each coalition's pool and a fixed reference (higher is better).

    Args:
        reference_mean: μ_r, shape (d,).
        reference_covariance: Σ_r, shape (d, d), symmetric PSD (population covariance, as from
            :func:`reference_statistics`).

    Attributes:
        name: ``"neg_frechet_distance"``.
        floor: None: FD has no natural no-information value (an empty pool has no moments).
    """

    name = "neg_frechet_distance"
    floor: float | None = None

    def __init__(self, reference_mean: ArrayLike, reference_covariance: ArrayLike) -> None:
        mean = np.array(reference_mean, dtype=np.float64)
        covariance = np.array(reference_covariance, dtype=np.float64)
        if mean.ndim != 1 or mean.shape[0] < 1:
            raise EngineInputError(f"reference_mean must have shape (d,), got {mean.shape}.")
        d = mean.shape[0]
        if covariance.shape != (d, d):
            raise EngineInputError(
                f"reference_covariance must have shape (d, d) = {(d, d)}, got {covariance.shape}."
            )
        if not (np.isfinite(mean).all() and np.isfinite(covariance).all()):
            raise EngineInputError("the reference mean and covariance must be finite.")
        scale = max(float(np.abs(covariance).max()), np.finfo(np.float64).tiny)
        if float(np.abs(covariance - covariance.T).max()) > SYMMETRY_TOLERANCE * scale:
            raise EngineInputError("reference_covariance must be symmetric.")
        self.reference_mean = mean
        self.reference_covariance = (covariance + covariance.T) / 2.0
        self._root = symmetric_square_root(self.reference_covariance)
        self._reference_trace = float(np.trace(self.reference_covariance))
        # Per-bank products A M_i A, reused across the batches of one ProxyGame (keyed on identity:
        # BankStatistics is frozen with read-only arrays).
        self._cached: tuple[BankStatistics, FloatArray, FloatArray] | None = None

    def __call__(self, statistics: BankStatistics, weights: FloatArray) -> FloatArray:
        """Return −FD per coalition, shape (m,), for mixture weights of shape (m, n)."""
        weights = check_mixture_weights(weights, statistics.n_contributors)
        means = statistics.require("feature_mean", self.name)
        d = self.reference_mean.shape[0]
        if means.shape[1] != d:
            raise EngineInputError(
                f"the banks have {means.shape[1]} features but the reference has {d}; compute "
                "both with the same feature extractor."
            )
        rotated_moments, moment_traces = self._bank_products(statistics)
        m = weights.shape[0]
        pool_mean = weights @ means  # (m, d)
        mean_term = ((pool_mean - self.reference_mean) ** 2).sum(axis=1)
        pool_trace = weights @ moment_traces - (pool_mean**2).sum(axis=1)  # tr Σ
        rotated_mean = pool_mean @ self._root  # (A μ)ᵀ, A symmetric
        product = (weights @ rotated_moments).reshape(m, d, d)  # Σ π_i A M_i A
        product -= rotated_mean[:, :, None] * rotated_mean[:, None, :]  # = A Σ A
        eigenvalues = np.linalg.eigvalsh(product)
        root_trace = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum(axis=1)
        distance = mean_term + pool_trace + self._reference_trace - 2.0 * root_trace
        # FD ≥ 0; tiny negatives are round-off when the pool matches the reference.
        utilities: FloatArray = -np.clip(distance, 0.0, None)
        return utilities

    def _bank_products(self, statistics: BankStatistics) -> tuple[FloatArray, FloatArray]:
        """(A M_i A flattened to (n, d²), tr M_i of shape (n,)), computed once per statistics."""
        if self._cached is not None and self._cached[0] is statistics:
            return self._cached[1], self._cached[2]
        moments = statistics.require("feature_second_moment", self.name)
        rotated = (self._root @ moments @ self._root).reshape(moments.shape[0], -1)
        traces = np.trace(moments, axis1=1, axis2=2)
        self._cached = (statistics, rotated, traces)
        return rotated, traces

    def __repr__(self) -> str:
        return f"NegativeFrechetDistance(d={self.reference_mean.shape[0]})"
