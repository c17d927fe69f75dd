"""What a round produced, as the worker hands it to the web side: ``RoundOutcome``.

The diagnostics are typed (``Diagnostics``): the worker builds them, ``to_json`` is what the
round row stores, and pages read them back with ``Diagnostics.from_json`` — the one place that
knows the stored keys. Reading is lenient on purpose: a row written by an older release, or by a
fake engine in a drill, gives ``None`` for what it lacks rather than an error on a page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SurrogateFit:
    """How well the surrogate predicted held-out coalitions.

    Attributes:
        cv_r2: Cross-validated R² (None when too few coalitions for cross-validation).
        raw_efficiency_gap: v(N) − v(∅) − Σφ before the efficiency correction.
        depth: The tree depth chosen by cross-validation.
        observed: Utilities of the evaluated coalitions (rows 0 and 1 are ∅ and N).
        predicted: Their cross-validated predictions (None where a coalition was not held out).
    """

    cv_r2: float | None
    raw_efficiency_gap: float | None
    depth: int | None
    observed: list[float | None]
    predicted: list[float | None]


@dataclass(frozen=True)
class Convergence:
    """Values refitted on growing prefixes of the evaluated coalitions."""

    n_coalitions: list[int]
    values: dict[str, list[float]]


@dataclass(frozen=True)
class ToleranceReport:
    """What a round valued to a payout tolerance achieved.

    Attributes:
        estimator: The estimator that ran (``exact``, ``permutation``, ``crossfit_surrogate``).
        reason: One sentence: why it ran and how it was sized.
        achieved_points: The worst share's half-width, in percentage points of the pool.
        met: Whether that is within the tolerance.
    """

    estimator: str
    reason: str
    achieved_points: float | None
    met: bool


@dataclass(frozen=True)
class BankNoiseReport:
    """How much the values move when the sample banks are drawn again, and what K would do.

    Attributes:
        replicates: Bootstrap replicates over resampled banks (0 when not measured).
        samples_per_contributor: K, the bank size the noise was measured at (the smallest,
            when a targeted growth left the banks of different sizes).
        bank_points: The worst share's half-width from bank noise alone, pp of the pool.
        combined_points: With the estimation error too: the round's achieved precision.
        required_k: The K per contributor that meets the payout tolerance (None: none does
            until the estimation is more precise, or not measured).
        met: Whether ``combined_points`` is within the payout tolerance.
        drivers: Keys of the contributors whose banks need the most samples, worst first.
        reason: One sentence, as the engine wrote it.
        requested_k: The K the round was asked for, when it was allowed to grow its banks
            (``samples_per_contributor`` is then the K it reached).
        growth: Whether and how far the banks grew, in one sentence (None: growth not allowed).
        largest_bank: The largest bank's size (None: not recorded, as in rounds stored before
            targeted growth, whose banks were all ``samples_per_contributor``).
        grown_contributors: How many contributors' banks grew (None: none grew, or not recorded).
        required_total: Samples in all that meet the tolerance when each bank grows to its own
            share's need, as a targeted growth does (None: not recorded or no size is enough).
    """

    replicates: int
    samples_per_contributor: int | None
    bank_points: float | None
    combined_points: float | None
    required_k: int | None
    met: bool
    drivers: list[str]
    reason: str
    requested_k: int | None = None
    growth: str | None = None
    largest_bank: int | None = None
    grown_contributors: int | None = None
    required_total: int | None = None


@dataclass(frozen=True)
class Diagnostics:
    """How a round's values were obtained, for the dashboard and the statement."""

    n_evaluations: int | None = None
    efficiency_gap: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    surrogate: SurrogateFit | None = None
    convergence: Convergence | None = None
    tolerance: ToleranceReport | None = None
    bank_noise: BankNoiseReport | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON stored on the round row (flat keys, as rows have always held them)."""
        data: dict[str, Any] = {"timings": dict(self.timings)}
        if self.n_evaluations is not None:
            data["n_evaluations"] = self.n_evaluations
        if self.efficiency_gap is not None:
            data["efficiency_gap"] = self.efficiency_gap
        if self.surrogate is not None:
            data.update(
                cv_r2=self.surrogate.cv_r2,
                raw_efficiency_gap=self.surrogate.raw_efficiency_gap,
                depth=self.surrogate.depth,
                observed=list(self.surrogate.observed),
                predicted=list(self.surrogate.predicted),
            )
        if self.convergence is not None:
            data["convergence"] = {
                "n_coalitions": list(self.convergence.n_coalitions),
                "values": {key: list(v) for key, v in self.convergence.values.items()},
            }
        if self.tolerance is not None:
            data["tolerance"] = {
                "estimator": self.tolerance.estimator,
                "reason": self.tolerance.reason,
                "achieved_points": self.tolerance.achieved_points,
                "met": self.tolerance.met,
            }
        if self.bank_noise is not None:
            noise = self.bank_noise
            data["bank_noise"] = {
                "replicates": noise.replicates,
                "samples_per_contributor": noise.samples_per_contributor,
                "bank_points": noise.bank_points,
                "combined_points": noise.combined_points,
                "required_k": noise.required_k,
                "met": noise.met,
                "drivers": list(noise.drivers),
                "reason": noise.reason,
            }
            if noise.growth is not None:
                data["bank_noise"].update(requested_k=noise.requested_k, growth=noise.growth)
            if noise.largest_bank is not None:
                data["bank_noise"]["largest_bank"] = noise.largest_bank
            if noise.grown_contributors is not None:
                data["bank_noise"]["grown_contributors"] = noise.grown_contributors
            if noise.required_total is not None:
                data["bank_noise"]["required_total"] = noise.required_total
        return data

    @classmethod
    def from_json(cls, data: object) -> Diagnostics:
        """Read stored diagnostics; anything missing or malformed reads as None."""
        if not isinstance(data, Mapping):
            return cls()
        timings = data.get("timings")
        surrogate = None
        if "cv_r2" in data or "observed" in data:
            observed, predicted = data.get("observed"), data.get("predicted")
            surrogate = SurrogateFit(
                cv_r2=_finite(data.get("cv_r2")),
                raw_efficiency_gap=_finite(data.get("raw_efficiency_gap")),
                depth=_integer(data.get("depth")),
                observed=[_finite(o) for o in observed] if isinstance(observed, list) else [],
                predicted=[_finite(p) for p in predicted] if isinstance(predicted, list) else [],
            )
        return cls(
            n_evaluations=_integer(data.get("n_evaluations")),
            efficiency_gap=_finite(data.get("efficiency_gap")),
            timings={
                str(k): float(v)
                for k, v in (timings.items() if isinstance(timings, Mapping) else ())
                if _finite(v) is not None
            },
            surrogate=surrogate,
            convergence=_convergence(data.get("convergence")),
            tolerance=_tolerance(data.get("tolerance")),
            bank_noise=_bank_noise(data.get("bank_noise")),
        )


@dataclass
class RoundOutcome:
    """Per-contributor results of a round, keyed by contributor key (plain numbers only)."""

    values: dict[str, float]
    stderr: dict[str, float] | None
    ci: dict[str, tuple[float, float]] | None
    exact_values: dict[str, float] | None
    baseline: float
    grand_value: float
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _floats(value: object) -> list[float]:
    if not isinstance(value, list):
        return []
    return [v for v in (_finite(item) for item in value) if v is not None]


def _convergence(value: object) -> Convergence | None:
    if not isinstance(value, Mapping):
        return None
    counts, values = value.get("n_coalitions"), value.get("values")
    if not isinstance(counts, list) or not isinstance(values, Mapping):
        return None
    return Convergence(
        n_coalitions=[c for c in counts if isinstance(c, int)],
        values={str(key): _floats(series) for key, series in values.items()},
    )


def _tolerance(value: object) -> ToleranceReport | None:
    if not isinstance(value, Mapping):
        return None
    return ToleranceReport(
        estimator=str(value.get("estimator", "")),
        reason=str(value.get("reason", "")),
        achieved_points=_finite(value.get("achieved_points")),
        met=value.get("met") is True,
    )


def _bank_noise(value: object) -> BankNoiseReport | None:
    if not isinstance(value, Mapping):
        return None
    drivers = value.get("drivers")
    return BankNoiseReport(
        replicates=_integer(value.get("replicates")) or 0,
        samples_per_contributor=_integer(value.get("samples_per_contributor")),
        bank_points=_finite(value.get("bank_points")),
        combined_points=_finite(value.get("combined_points")),
        required_k=_integer(value.get("required_k")),
        met=value.get("met") is True,
        drivers=[str(d) for d in drivers] if isinstance(drivers, list) else [],
        reason=str(value.get("reason", "")),
        requested_k=_integer(value.get("requested_k")),
        growth=str(value["growth"]) if isinstance(value.get("growth"), str) else None,
        largest_bank=_integer(value.get("largest_bank")),
        grown_contributors=_integer(value.get("grown_contributors")),
        required_total=_integer(value.get("required_total")),
    )
