"""Which bank size K meets a payout tolerance, or by how much a requested K misses it.

Bank noise of a share falls as 1/√K (a bank statistic is a mean over K samples), so a share
standard deviation s measured at K₀ samples per contributor is s·√(K₀/K) at K. With estimation
standard error e (independent of the banks), contributor i meets the tolerance's standard error t
when s_i²·K₀/K + e_i² ≤ t², that is when K ≥ K₀·s_i² / (t² − e_i²). The round needs the largest of
these; if some e_i ≥ t, no K is enough until the estimation is made more precise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.valuation.bank_noise import IntervalKind
from attribution.engine.valuation.tolerance import PayoutTolerance


@dataclass(frozen=True)
class BankSizePlan:
    """The bank size the tolerance needs, and how a requested size fares.

    Attributes:
        measured_k: K₀, the bank size the noise was measured at.
        required_k: The smallest K per contributor that meets the tolerance, or None when the
            estimation error alone exceeds it.
        per_contributor_k: Shape (n,): the K each contributor's own share needs (inf where its
            estimation error alone exceeds the tolerance). The largest entries are the
            contributors that drive the uncertainty.
        requested_k: The K that was asked about, or None.
        predicted_points: The worst contributor's half-width in pp of the pool at ``requested_k``
            (or at ``measured_k`` when none was asked about).
        miss_points: ``predicted_points`` minus the tolerance: positive is a miss by that much.
        meets: ``miss_points`` ≤ 0.
        reason: One sentence for the round's diagnostics.
    """

    measured_k: int
    required_k: int | None
    per_contributor_k: NDArray[np.float64]
    requested_k: int | None
    predicted_points: float
    miss_points: float
    meets: bool
    reason: str


def plan_bank_size(
    bank_share_sd: ArrayLike,
    measured_k: int,
    tolerance: PayoutTolerance | None = None,
    *,
    estimation_share_sd: ArrayLike | None = None,
    requested_k: int | None = None,
    kind: IntervalKind = "value",
    measured_sizes: ArrayLike | None = None,
) -> BankSizePlan:
    """Size the banks for ``tolerance`` from bank noise measured at ``measured_k``.

    Args:
        bank_share_sd: Bank-noise standard deviation of each share at ``measured_k``, shape (n,)
            (e.g. ``BankNoise.share_sd``).
        measured_k: Samples per contributor the noise was measured at, positive.
        tolerance: The payout tolerance (±0.25 pp at 95% by default).
        estimation_share_sd: Estimation standard error of each share, shape (n,) (zero if None).
        requested_k: A bank size to check against the tolerance.
        kind: ``"value"`` (the round's own interval) or ``"rerun"`` (agreement with an
            independent rerun, which doubles both variances).
        measured_sizes: Shape (n,): each contributor's own bank size, when the banks differ
            (a round that grew only some of them). Contributor i's need is then scaled from its
            own K_i (its share's noise comes mostly from its own bank), and without
            ``requested_k`` the prediction is the measured noise itself. ``measured_k`` is then
            the smallest of them.
    """
    tolerance = tolerance or PayoutTolerance()
    bank = np.asarray(bank_share_sd, dtype=np.float64)
    if bank.ndim != 1 or not np.isfinite(bank).all() or (bank < 0).any():
        raise EngineInputError("bank_share_sd must be a vector of finite non-negative numbers.")
    est = np.zeros_like(bank) if estimation_share_sd is None else np.asarray(estimation_share_sd)
    if est.shape != bank.shape:
        raise EngineInputError(f"estimation_share_sd must have shape {bank.shape}.")
    for name, k in (("measured_k", measured_k), ("requested_k", requested_k)):
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise EngineInputError(f"{name} must be a positive integer, got {k!r}.")
    if measured_sizes is None:
        sizes = np.full(bank.shape, float(measured_k))
    else:
        sizes = np.asarray(measured_sizes, dtype=np.float64)
        if sizes.shape != bank.shape or not np.isfinite(sizes).all() or (sizes < 1).any():
            raise EngineInputError(f"measured_sizes must be {bank.shape} positive bank sizes.")
    factor = 2.0 if kind == "rerun" else 1.0
    target = tolerance.share_stderr**2 / factor
    room = target - est**2
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(room > 0, sizes * bank**2 / room, np.inf)
    needed = np.where((bank == 0) & (room > 0), 1.0, needed)
    worst = float(needed.max())
    required = None if math.isinf(worst) else max(1, math.ceil(worst - 1e-9))
    at = sizes if requested_k is None else float(requested_k)
    predicted = tolerance.half_width_points(
        float(np.sqrt(factor * (bank**2 * sizes / at + est**2)).max())
    )
    miss = predicted - tolerance.percentage_points
    if required is None:
        reason = (
            "the estimation error alone exceeds the tolerance for some contributor; no bank size "
            "meets it until the estimator is run with a larger budget"
        )
    else:
        reason = (
            f"K = {required:,} samples per contributor meets ±{tolerance.percentage_points} pp "
            f"at {tolerance.level:.0%} (noise measured at K = {_sizes_text(sizes)})"
        )
    if requested_k is not None:
        reason += f"; the requested K = {requested_k:,} gives ±{predicted:.3f} pp, " + (
            "within the tolerance" if miss <= 0 else f"missing it by {miss:.3f} pp"
        )
    return BankSizePlan(
        measured_k=int(measured_k),
        required_k=required,
        per_contributor_k=np.asarray(needed, dtype=np.float64),
        requested_k=requested_k,
        predicted_points=predicted,
        miss_points=miss,
        meets=miss <= 0,
        reason=reason,
    )


def _sizes_text(sizes: NDArray[np.float64]) -> str:
    """``"64"`` for equal banks, ``"64–640"`` for banks of different sizes."""
    low, high = int(sizes.min()), int(sizes.max())
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"
