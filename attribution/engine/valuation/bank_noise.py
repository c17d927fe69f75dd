"""Bank noise: how much the values move when every contributor's sample bank is drawn again.

A round's values are a function of K samples per contributor. Regenerating the banks (another
round seed) moves them, by an amount that falls roughly as 1/√K; estimation error (sampling the
coalitions) is a second, independent error. The bootstrap here resamples each contributor's own
per-sample rows with replacement, recomputes the per-contributor sufficient statistics with
:func:`compute_bank_statistics` and values the proxy game again: cheap, because no image is
generated or featurized again. Its spread estimates the bank noise of a round at this K.

Intervals combine both errors, with two meanings:

* ``kind="value"``: φ ± z·√(se_est² + sd_bank²), for the value the round would give with
  infinitely large banks (and exact estimation);
* ``kind="rerun"``: φ ± z·√2·√(se_est² + sd_bank²), for the value an independent rerun (new banks,
  new coalition sample) would report: the difference of two rounds carries both rounds' errors.

Valuers should use exact values or a fixed-seed estimator (common random numbers), so the spread
over replicates is bank noise rather than fresh estimation noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import ShapleyEstimator
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.metrics import BankStatistics, compute_bank_statistics
from attribution.engine.progress import Progress, report

FloatArray = NDArray[np.float64]
RowIndex = NDArray[np.intp]
Valuer = Callable[[BankStatistics], tuple[FloatArray, float]]
"""``valuer(statistics) -> (values (n,), v(N) − v(∅))``: one valuation of one set of banks."""
IntervalKind = Literal["value", "rerun"]


@dataclass(frozen=True)
class BankSamples:
    """The per-sample rows behind every contributor's bank statistics.

    Attributes:
        probabilities: Entry i has shape (K_i, C): class probabilities per sample, or None.
        features: Entry i has shape (K_i, d): a feature vector per sample, or None.
        scores: Score name → one entry per contributor of shape (K_i,).
    """

    probabilities: Sequence[ArrayLike] | None = None
    features: Sequence[ArrayLike] | None = None
    scores: Mapping[str, Sequence[ArrayLike]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = self.n_samples
        if counts.shape[0] < 1:
            raise EngineInputError("bank samples need at least one contributor.")

    @property
    def n_samples(self) -> NDArray[np.int64]:
        """K_i per contributor, shape (n,); raises if the fields disagree on n or K_i."""
        lengths: list[list[int]] = []
        for name, entries in self._fields().items():
            lengths.append([len(np.asarray(entry)) for entry in entries])
            if lengths[-1] != lengths[0]:
                raise EngineInputError(
                    f"bank samples field {name!r} disagrees with the others on the number of "
                    f"contributors or samples per contributor ({lengths[-1]} vs {lengths[0]})."
                )
        if not lengths:
            raise EngineInputError("bank samples need probabilities, features or scores.")
        return np.array(lengths[0], dtype=np.int64)

    @property
    def n_values(self) -> int:
        """How many numbers the per-sample rows hold in all (a resample copies as many)."""
        return sum(
            int(np.asarray(entry).size) for entries in self._fields().values() for entry in entries
        )

    @property
    def n_contributors(self) -> int:
        """n."""
        return int(self.n_samples.shape[0])

    def _fields(self) -> dict[str, Sequence[ArrayLike]]:
        fields: dict[str, Sequence[ArrayLike]] = {}
        if self.probabilities is not None:
            fields["probabilities"] = self.probabilities
        if self.features is not None:
            fields["features"] = self.features
        for name, entries in self.scores.items():
            fields[f"scores[{name!r}]"] = entries
        return fields

    def statistics(self, rows: Sequence[RowIndex] | None = None) -> BankStatistics:
        """Bank statistics of the samples, or of ``rows[i]`` of contributor i's samples."""

        def pick(entries: Sequence[ArrayLike]) -> list[NDArray[np.float64]]:
            # Rows are picked before the cast, so only the picked rows are ever copied.
            arrays = [np.asarray(entry) for entry in entries]
            if rows is not None:
                arrays = [a[r] for a, r in zip(arrays, rows, strict=True)]
            return [np.asarray(a, dtype=np.float64) for a in arrays]

        return compute_bank_statistics(
            probabilities=None if self.probabilities is None else pick(self.probabilities),
            features=None if self.features is None else pick(self.features),
            scores={name: pick(entries) for name, entries in self.scores.items()} or None,
        )

    def followed_by(self, more: BankSamples, positions: Sequence[int] | None = None) -> BankSamples:
        """Every contributor's rows followed by its rows in ``more`` (a bank grown by a second
        draw); both must hold the same fields. ``more`` holds every contributor, or (with
        ``positions``) the contributors at those positions, in that order: the others keep
        their rows as they are."""
        if self._fields().keys() != more._fields().keys():
            raise EngineInputError("grown bank samples must hold the same fields as the first.")
        n = len(self.n_samples)
        at = list(range(n)) if positions is None else [int(p) for p in positions]
        if len(set(at)) != len(at) or any(not 0 <= p < n for p in at):
            raise EngineInputError(f"positions must be distinct contributors in 0..{n - 1}.")
        if len(more.n_samples) != len(at):
            raise EngineInputError(
                f"the grown samples cover {len(more.n_samples)} contributors, not {len(at)}."
            )
        slot = {p: i for i, p in enumerate(at)}

        def join(first: Sequence[ArrayLike], second: Sequence[ArrayLike]) -> list[ArrayLike]:
            return [
                np.concatenate([a, second[slot[j]]]) if j in slot else a
                for j, a in enumerate(first)
            ]

        return BankSamples(
            probabilities=None
            if self.probabilities is None or more.probabilities is None
            else join(self.probabilities, more.probabilities),
            features=None
            if self.features is None or more.features is None
            else join(self.features, more.features),
            scores={name: join(rows, more.scores[name]) for name, rows in self.scores.items()},
        )

    def resample_rows(self, rng: np.random.Generator) -> list[RowIndex]:
        """One bootstrap draw: K_i row indices with replacement for each contributor i."""
        return [rng.integers(0, int(k), int(k)).astype(np.intp) for k in self.n_samples]


@dataclass(frozen=True)
class BankNoise:
    """Bootstrap replicates of a valuation over resampled banks.

    Attributes:
        values: Shape (B, n): the values of each replicate.
        totals: Shape (B,): v(N) − v(∅) of each replicate.
        n_samples: K_i per contributor, shape (n,).
    """

    values: FloatArray
    totals: FloatArray
    n_samples: NDArray[np.int64]

    @property
    def value_sd(self) -> FloatArray:
        """Bank-noise standard deviation of each value, shape (n,)."""
        return np.asarray(self.values.std(axis=0, ddof=1), dtype=np.float64)

    @property
    def share_sd(self) -> FloatArray:
        """Bank-noise standard deviation of each share φ_i / (v(N) − v(∅)), shape (n,).

        Replicates whose total is 0 have no shares and are left out (NaN if all are).
        """
        usable = self.totals != 0.0
        if usable.sum() < 2:
            return np.full(self.values.shape[1], np.nan)
        shares = self.values[usable] / self.totals[usable, None]
        return np.asarray(shares.std(axis=0, ddof=1), dtype=np.float64)

    def combined_stderr(
        self, estimation_stderr: ArrayLike | None = None, *, shares: bool = False
    ) -> FloatArray:
        """√(se_est² + sd_bank²) per contributor, of values (or of shares with ``shares``)."""
        bank = self.share_sd if shares else self.value_sd
        est = np.zeros_like(bank) if estimation_stderr is None else np.asarray(estimation_stderr)
        if est.shape != bank.shape:
            raise EngineInputError(
                f"estimation_stderr must have shape {bank.shape}, got {est.shape}."
            )
        return np.asarray(np.sqrt(est**2 + bank**2), dtype=np.float64)

    def interval(
        self,
        center: ArrayLike,
        estimation_stderr: ArrayLike | None = None,
        *,
        level: float = 0.95,
        kind: IntervalKind = "value",
        shares: bool = False,
    ) -> FloatArray:
        """(n, 2) normal intervals around ``center`` with both errors (see the module notes).

        Args:
            center: The round's values (or shares with ``shares``), shape (n,).
            estimation_stderr: Their estimation standard errors, shape (n,), or None (exact).
            level: Confidence level in (0, 1).
            kind: ``"value"`` or ``"rerun"``.
            shares: Whether ``center`` and ``estimation_stderr`` are shares.
        """
        if not 0.0 < level < 1.0:
            raise EngineInputError(f"level must lie strictly between 0 and 1, got {level}.")
        if kind not in ("value", "rerun"):
            raise EngineInputError(f"kind must be 'value' or 'rerun', got {kind!r}.")
        z = NormalDist().inv_cdf(0.5 + level / 2.0) * (math.sqrt(2.0) if kind == "rerun" else 1.0)
        half = z * self.combined_stderr(estimation_stderr, shares=shares)
        middle = np.asarray(center, dtype=np.float64)
        return np.column_stack([middle - half, middle + half])


def bootstrap_bank_noise(
    samples: BankSamples,
    valuer: Valuer,
    n_bootstrap: int = 50,
    seed: int | np.random.Generator | None = 0,
    progress: Progress | None = None,
) -> BankNoise:
    """Value ``n_bootstrap`` resamples of every contributor's bank (see the module notes).

    Args:
        samples: The banks' per-sample rows.
        valuer: Statistics → (values, v(N) − v(∅)); see :func:`proxy_valuer`.
        n_bootstrap: Replicates, at least 2.
        seed: Seed or generator for the resampling.
        progress: Optional ``progress(stage, done, total)`` callback.
    """
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 2:
        raise EngineInputError(f"n_bootstrap must be an integer of at least 2, got {n_bootstrap}.")
    rng = np.random.default_rng(seed)
    values, totals = [], []
    for b in range(n_bootstrap):
        replicate, total = valuer(samples.statistics(samples.resample_rows(rng)))
        values.append(np.asarray(replicate, dtype=np.float64))
        totals.append(float(total))
        report(progress, "bank bootstrap", b + 1, n_bootstrap)
    return BankNoise(np.stack(values), np.array(totals), samples.n_samples)


def proxy_valuer(
    data_sizes: ArrayLike,
    metric: Metric,
    empty_value: EmptyValue,
    estimator: Callable[[], ShapleyEstimator],
) -> Valuer:
    """A valuer that builds the proxy game of ``metric`` and fits a fresh ``estimator()``.

    Give ``estimator`` a fixed seed (or use exact values) so replicates share their coalitions.
    """

    def value(statistics: BankStatistics) -> tuple[FloatArray, float]:
        fitted = estimator().fit(ProxyGame(statistics, data_sizes, metric, empty_value))
        return fitted.values_, fitted.grand_value_ - fitted.baseline_

    return value
