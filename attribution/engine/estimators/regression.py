"""KernelSHAP's constrained least squares (Covert & Lee 2021), shared by Kernel and Surrogate.

Shapley values are the solution of

    min_β  E_{z ~ p}[ (v(z) − v(∅) − zᵀβ)² ]   subject to   1ᵀβ = v(N) − v(∅),

with p the Shapley kernel over coalitions of size 1..n−1. Sampling z from p and averaging gives the
KernelSHAP estimator; coalitions drawn from another distribution q are reweighted by p/q.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from attribution.engine.coalitions import Strategy, kernel_size_probabilities, size_probabilities


def solve_efficient_regression(
    masks: NDArray[np.bool_],
    targets: NDArray[np.float64],
    total: float,
    weights: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Weighted least squares of ``targets`` on ``masks`` with coefficients summing to ``total``.

    Substitutes β = (total/n)·1 + Pγ with P = I − 11ᵀ/n, so every γ satisfies the constraint
    exactly, and takes the minimum-norm γ: when the coalitions do not determine β (fewer distinct
    coalitions than players) the undetermined part of β is spread evenly rather than blowing up.

    Args:
        masks: Coalitions, shape (m, n); rows should exclude ∅ and N (they carry no information).
        targets: v(z) − v(∅) per row, shape (m,).
        total: v(N) − v(∅).
        weights: Optional non-negative row weights, shape (m,).

    Returns:
        β, shape (n,), with β.sum() == total up to rounding.
    """
    n = masks.shape[1]
    z = masks.astype(np.float64)
    base = np.full(n, total / n)
    projector = np.eye(n) - 1.0 / n
    design = z @ projector
    response = targets - z @ base
    if weights is not None:
        root = np.sqrt(weights)
        design = design * root[:, None]
        response = response * root
    gamma = np.linalg.lstsq(design, response, rcond=None)[0]
    beta: NDArray[np.float64] = base + projector @ gamma
    # Remove the last rounding drift so Σβ equals the total to machine precision.
    beta += (total - beta.sum()) / n
    return beta


def kernel_importance_weights(
    masks: NDArray[np.bool_], strategy: Strategy, *, alpha: float = 0.5
) -> NDArray[np.float64]:
    """Weights p_kernel(z) / q(z) that turn coalitions drawn by ``strategy`` into kernel samples.

    Both p and q are uniform within a size, so the ratio depends on the size only. Rows of size 0
    or n (outside the kernel's support) get weight 0. Weights are scaled to mean 1 over the rows.
    """
    n = masks.shape[1]
    sizes = masks.sum(axis=1)
    p = kernel_size_probabilities(n)
    q = size_probabilities(n, strategy, alpha=alpha)
    ratio = np.divide(p, q, out=np.zeros_like(p), where=q > 0)
    weights = ratio[sizes]
    mean = weights.mean() if len(weights) else 0.0
    if mean > 0:
        weights = weights / mean
    return np.asarray(weights, dtype=np.float64)


def count_distinct(masks: NDArray[np.bool_]) -> int:
    """Number of distinct rows of a boolean matrix."""
    if masks.shape[0] == 0:
        return 0
    return int(np.unique(np.packbits(masks, axis=1), axis=0).shape[0])
