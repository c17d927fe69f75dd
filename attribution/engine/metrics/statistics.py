"""Per-contributor sufficient statistics of the sample banks, and the mixture weights of a pool.

A pretrained conditional diffusion model generates a *sample bank* per contributor (K_i images
conditioned on contributor i's records). The pool of a coalition S draws from the banks of S with
mixture weights π_i(S) = |C_i| / Σ_{j∈S} |C_j| (|C_i| = contributor i's number of training records).
Every metric in this package is a function of a few per-bank averages mixed with those weights, so
we reduce each bank once to :class:`BankStatistics` and evaluate thousands of coalitions with array
arithmetic, never another pass over images.

Each bank counts as the *distribution* it samples: its averages are means over its own K_i samples,
so a bank's weight in a pool is π_i whatever K_i is (K_i only sets how precisely the bank's
averages are known).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.games.base import check_masks

FloatArray = NDArray[np.float64]

PROBABILITY_SUM_TOLERANCE = 1e-4  # |Σ_y p(y|x) − 1| allowed per sample (float32 softmax outputs)
LOG_CLIP = 1e-12  # probabilities are clipped here inside a log so p log p is finite at p = 0
ROW_MEAN_TOLERANCE = 1e-9  # |mean of bank i's feature_rows − feature_mean_i| / max(1, max |mean|)
WEIGHT_SUM_TOLERANCE = 1e-9  # |Σ_i π_i − 1| allowed per coalition handed to a metric

# Statistic fields a metric may require, and how to produce each one (for error messages).
_HOW_TO_GET = {
    "probability_mean": "pass class probabilities to compute_bank_statistics",
    "negative_entropy_mean": "pass class probabilities to compute_bank_statistics",
    "feature_mean": "pass features to compute_bank_statistics",
    "feature_rows": "pass features to compute_bank_statistics",
}


@dataclass(frozen=True)
class BankStatistics:
    """Sufficient statistics of each contributor's sample bank (float64, read-only).

    Arrays are copied, except a ``feature_rows`` array that is already float64 and read-only
    (``compute_bank_statistics`` passes one), which is kept as is: it can take gigabytes.

    Attributes:
        n_samples: Shape (n,), int64: K_i, the number of samples in bank i (all positive).
        probability_mean: Shape (n, C): mean over the bank of the classifier's p(y|x), or None.
        negative_entropy_mean: Shape (n,), nats: mean over the bank of Σ_y p(y|x) log p(y|x)
            (≤ 0), or None.
        feature_mean: Shape (n, d): mean feature vector of each bank, or None.
        feature_rows: Shape (Σ_i K_i, d): every bank's feature vectors, bank 0's K_0 rows first,
            then bank 1's, ...; or None. The Fréchet distance needs the banks' second moments
            M_i = mean of x xᵀ, which these rows hold in factored form (M_i = X_iᵀ X_i / K_i) at
            Σ K_i · d · 8 bytes instead of n · d² · 8 (1.0 GiB instead of 31 GiB for 1,000
            banks of 64 samples at Inception's d = 2048).
        score_means: Score name → shape (n,) or (n, C): a per-sample score averaged over each
            bank: a scalar (aesthetic score, artefact indicator, label fidelity, ...) or a vector
            (zero-shot class probabilities).
    """

    n_samples: NDArray[np.int64]
    probability_mean: FloatArray | None = None
    negative_entropy_mean: FloatArray | None = None
    feature_mean: FloatArray | None = None
    feature_rows: FloatArray | None = None
    score_means: dict[str, FloatArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = _check_counts(self.n_samples)
        n = counts.shape[0]
        _freeze(self, "n_samples", counts)
        for name, trailing in (
            ("probability_mean", 1),
            ("negative_entropy_mean", 0),
            ("feature_mean", 1),
        ):
            value = getattr(self, name)
            if value is not None:
                _freeze(self, name, _check_statistic(value, name, n, trailing))
        if self.probability_mean is not None:
            _check_probability_means(self.probability_mean)
        if self.negative_entropy_mean is not None and (self.negative_entropy_mean > 0).any():
            raise EngineInputError("negative_entropy_mean must be ≤ 0 (it is E Σ p log p).")
        if self.feature_rows is not None:
            _freeze(self, "feature_rows", _check_rows(self.feature_rows, counts, self.feature_mean))
        scores = {}
        for key, value in dict(self.score_means).items():
            name = f"score_means[{key!r}]"
            trailing = 1 if np.ndim(value) == 2 else 0
            scores[str(key)] = _check_statistic(value, name, n, trailing)
            scores[str(key)].setflags(write=False)
        object.__setattr__(self, "score_means", scores)

    @property
    def n_contributors(self) -> int:
        """n, the number of banks (one per contributor)."""
        return int(self.n_samples.shape[0])

    def require(self, statistic: str, by: str) -> FloatArray:
        """Return a statistic a metric needs, or raise naming what is missing and how to get it.

        Args:
            statistic: A field name: ``probability_mean``, ``negative_entropy_mean``,
                ``feature_mean`` or ``feature_rows``.
            by: The metric's name, for the error message.

        Raises:
            EngineInputError: The statistic was not computed.
        """
        value = getattr(self, statistic, None)
        if value is None:
            hint = _HOW_TO_GET.get(statistic, "compute it")
            raise EngineInputError(
                f"the {by} metric needs the bank statistic {statistic!r}, which these "
                f"statistics lack; {hint}."
            )
        array: FloatArray = value
        return array

    @property
    def row_offsets(self) -> NDArray[np.int64]:
        """Shape (n + 1,): bank i's rows of ``feature_rows`` are ``offsets[i]:offsets[i + 1]``."""
        offsets: NDArray[np.int64] = np.concatenate([[0], np.cumsum(self.n_samples)])
        return offsets

    def require_score(self, score_name: str, by: str, ndim: int = 1) -> FloatArray:
        """Return ``score_means[score_name]``, or raise naming the missing score.

        Args:
            score_name: The score's key.
            by: The metric's name, for the error message.
            ndim: 1 for a scalar score (shape (n,)), 2 for a vector score (shape (n, C)).
        """
        if score_name in self.score_means and self.score_means[score_name].ndim != ndim:
            kind = "a scalar per sample" if ndim == 1 else "a vector per sample"
            raise EngineInputError(
                f"the {by} metric needs {score_name!r} to be {kind}, but its bank means have "
                f"shape {self.score_means[score_name].shape}."
            )
        if score_name not in self.score_means:
            available = sorted(self.score_means) or "none"
            raise EngineInputError(
                f"the {by} metric needs the per-sample score {score_name!r}, which these "
                f"statistics lack (scores present: {available}); pass scores={{{score_name!r}: "
                "...}} to compute_bank_statistics."
            )
        return self.score_means[score_name]


def _check_counts(n_samples: object) -> NDArray[np.int64]:
    """Return K_i as an int64 vector, or raise unless it is n ≥ 1 positive integers."""
    counts = np.array(n_samples)
    if counts.ndim != 1 or counts.shape[0] < 1:
        raise EngineInputError(
            f"n_samples must be a 1-D vector with one count per contributor, got shape "
            f"{counts.shape}."
        )
    if not np.issubdtype(counts.dtype, np.integer) or (counts < 1).any():
        raise EngineInputError(
            f"n_samples must hold positive integers (every bank needs a sample), got {counts}."
        )
    return counts.astype(np.int64)


def _check_probability_means(means: FloatArray) -> None:
    """Raise unless each row of (n, C) ``means`` is a probability vector (within 1e-4)."""
    if means.shape[1] < 1:
        raise EngineInputError("probability_mean needs at least one class column.")
    if (means < 0).any() or (np.abs(means.sum(axis=1) - 1.0) > PROBABILITY_SUM_TOLERANCE).any():
        raise EngineInputError(
            "each row of probability_mean must be non-negative and sum to 1 (a mean of p(y|x))."
        )


def _check_rows(rows: object, counts: NDArray[np.int64], means: FloatArray | None) -> FloatArray:
    """Return ``rows`` as finite float64 of shape (Σ K_i, d), d matching ``means`` when given."""
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EngineInputError(f"feature_rows must be an array of numbers: {error}.") from error
    total = int(counts.sum())
    d = means.shape[1] if means is not None else (array.shape[1] if array.ndim == 2 else 0)
    if array.ndim != 2 or array.shape != (total, d):
        raise EngineInputError(
            f"feature_rows must have shape (Σ K_i, d) = ({total}, {d or 'd'}) (every bank's "
            f"samples, bank by bank{'' if means is None else ', d matching feature_mean'}), got "
            f"{array.shape}."
        )
    if not np.isfinite(array).all():
        raise EngineInputError("feature_rows holds NaN or infinite values.")
    if means is not None:
        sums = np.add.reduceat(array, np.concatenate([[0], np.cumsum(counts)[:-1]]), axis=0)
        scale = max(float(np.abs(means).max()), 1.0)
        if not np.allclose(
            sums / counts[:, None], means, rtol=0.0, atol=ROW_MEAN_TOLERANCE * scale
        ):
            raise EngineInputError(
                "feature_rows do not average to feature_mean bank by bank; both must come from "
                "the same features (compute_bank_statistics computes both)."
            )
    if array is rows and array.flags.writeable:  # never freeze the caller's array
        array = array.copy()
    return array


def _freeze(statistics: BankStatistics, name: str, value: NDArray[np.generic]) -> None:
    """Set a field of the frozen dataclass to a read-only array."""
    value.setflags(write=False)
    object.__setattr__(statistics, name, value)


def _check_statistic(value: object, name: str, n: int, trailing: int) -> FloatArray:
    """Return a float64 copy of a per-bank statistic of shape (n, *trailing dims), finite."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EngineInputError(f"{name} must be an array of numbers: {error}.") from error
    if array.ndim != 1 + trailing or array.shape[0] != n:
        raise EngineInputError(
            f"{name} must have {1 + trailing} dimension(s) with one row per contributor ({n}), "
            f"got shape {array.shape}."
        )
    if not np.isfinite(array).all():
        raise EngineInputError(f"{name} holds NaN or infinite values.")
    return array


def compute_bank_statistics(
    probabilities: Sequence[ArrayLike] | None = None,
    features: Sequence[ArrayLike] | None = None,
    scores: Mapping[str, Sequence[ArrayLike]] | None = None,
) -> BankStatistics:
    """Reduce each contributor's sample bank to its sufficient statistics (one pass, float64).

    Every argument holds one entry per contributor, in the same order; contributor i's entries
    must all describe the same K_i samples.

    Args:
        probabilities: Entry i has shape (K_i, C): the classifier's p(y|x) for each sample of bank
            i; each row non-negative and summing to 1 within 1e-4. None skips the class metrics.
        features: Entry i has shape (K_i, d): a feature vector per sample (Inception, CLIP, ...).
            None skips the Fréchet distance. Memory: the rows are kept, Σ K_i · d · 8 bytes
            (1,000 contributors of 64 samples at d = 2048 is 1.0 GiB).
        scores: Score name → one entry per contributor of shape (K_i,) (a scalar per sample) or
            (K_i, C) (a vector per sample, e.g. zero-shot class probabilities).

    Returns:
        The statistics, with ``n_samples[i] = K_i``.

    Raises:
        EngineInputError: Nothing given, a NaN or infinite value, an empty bank, probabilities
            that are negative or do not sum to 1, different contributor counts across arguments,
            or different K_i for one contributor across arguments.
    """
    sources = {
        name: banks
        for name, banks in (("probabilities", probabilities), ("features", features))
        if banks is not None
    }
    for key, score_banks in (scores or {}).items():
        sources[f"scores[{key!r}]"] = score_banks
    if not sources:
        raise EngineInputError(
            "compute_bank_statistics needs probabilities, features or scores for each bank."
        )
    n_samples = _bank_sizes(sources)
    fields: dict[str, FloatArray] = {}
    if probabilities is not None:
        fields.update(_class_statistics(probabilities))
    if features is not None:
        fields.update(_feature_statistics(features))
    score_means = {str(key): _score_means(banks, key) for key, banks in (scores or {}).items()}
    return BankStatistics(n_samples=n_samples, score_means=score_means, **fields)


def _class_statistics(probabilities: Sequence[ArrayLike]) -> dict[str, FloatArray]:
    """probability_mean (n, C) and negative_entropy_mean (n,) of the banks' p(y|x)."""
    banks = [_bank_array(bank, "probabilities", i, 2) for i, bank in enumerate(probabilities)]
    for i, bank in enumerate(banks):
        _check_probabilities(bank, i)
    if len({bank.shape[1] for bank in banks}) > 1:
        raise EngineInputError("every bank's probabilities must have the same classes (C).")
    return {
        "probability_mean": np.stack([bank.mean(axis=0) for bank in banks]),
        "negative_entropy_mean": np.array(
            [(bank * np.log(np.clip(bank, LOG_CLIP, None))).sum(axis=1).mean() for bank in banks]
        ),
    }


def _score_means(banks: Sequence[ArrayLike], key: str) -> FloatArray:
    """Bank means of one score, shape (n,) for scalar scores or (n, C) for vector scores."""
    name = f"scores[{key!r}]"
    ndim = 2 if np.ndim(banks[0]) == 2 else 1
    arrays = [_bank_array(bank, name, i, ndim) for i, bank in enumerate(banks)]
    if ndim == 2 and len({array.shape[1] for array in arrays}) > 1:
        raise EngineInputError(f"every bank's {name} must have the same width (C).")
    return np.stack([array.mean(axis=0) for array in arrays])


def _feature_statistics(features: Sequence[ArrayLike]) -> dict[str, FloatArray]:
    """feature_mean (n, d) and feature_rows (Σ K_i, d), the banks' rows one after another."""
    banks = [_bank_array(bank, "features", i, 2) for i, bank in enumerate(features)]
    if len({bank.shape[1] for bank in banks}) > 1:
        raise EngineInputError("every bank's features must have the same dimension (d).")
    return {
        "feature_mean": np.stack([bank.mean(axis=0) for bank in banks]),
        "feature_rows": _read_only(np.concatenate(banks)),
    }


def _read_only(array: FloatArray) -> FloatArray:
    """``array`` made read-only, so BankStatistics keeps it without a copy (it may be GBs)."""
    array.setflags(write=False)
    return array


def _bank_sizes(sources: Mapping[str, Sequence[ArrayLike]]) -> NDArray[np.int64]:
    """K_i per contributor, checking every source has n entries and agrees on each K_i."""
    counts = {name: len(banks) for name, banks in sources.items()}
    if len(set(counts.values())) > 1:
        raise EngineInputError(
            f"every argument needs one bank per contributor, but the counts differ: {counts}."
        )
    per_source: dict[str, NDArray[np.int64]] = {}
    for name, banks in sources.items():
        for index, bank in enumerate(banks):
            if np.ndim(bank) == 0:
                raise EngineInputError(
                    f"{name} of contributor {index} must be an array with one row per sample, "
                    "got a scalar."
                )
        per_source[name] = np.array([np.shape(bank)[0] for bank in banks], dtype=np.int64)
    first, sizes = next(iter(per_source.items()))
    for name, these in per_source.items():
        if not np.array_equal(sizes, these):
            bad = int(np.flatnonzero(sizes != these)[0])
            raise EngineInputError(
                f"contributor {bad} has {sizes[bad]} samples in {first} but {these[bad]} in "
                f"{name}; every argument must describe the same samples."
            )
    if sizes.shape[0] == 0:
        raise EngineInputError("there must be at least one contributor's bank.")
    if (sizes == 0).any():
        raise EngineInputError(
            f"contributor {int(np.flatnonzero(sizes == 0)[0])}'s bank is empty; every "
            "contributor needs at least one generated sample."
        )
    return sizes


def _bank_array(bank: ArrayLike, name: str, index: int, ndim: int) -> FloatArray:
    """Contributor ``index``'s bank as a finite float64 array with ``ndim`` dimensions."""
    try:
        array = np.asarray(bank, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EngineInputError(
            f"{name} of contributor {index} must be numbers: {error}."
        ) from error
    if array.ndim != ndim:
        expected = "(K_i, dim)" if ndim == 2 else "(K_i,)"
        raise EngineInputError(
            f"{name} of contributor {index} must have shape {expected}, got {array.shape}."
        )
    if not np.isfinite(array).all():
        raise EngineInputError(f"{name} of contributor {index} hold NaN or infinite values.")
    return array


def _check_probabilities(bank: FloatArray, index: int) -> None:
    """Raise unless every row of bank ``index`` is a probability vector (within 1e-4)."""
    if (bank < 0).any():
        raise EngineInputError(f"probabilities of contributor {index} hold negative values.")
    error = np.abs(bank.sum(axis=1) - 1.0)
    if (error > PROBABILITY_SUM_TOLERANCE).any():
        row = int(np.argmax(error))
        raise EngineInputError(
            f"probabilities of contributor {index} must sum to 1 per sample; row {row} sums to "
            f"{bank[row].sum():.6g}. Pass softmax outputs, not logits."
        )


def mixture_weights(masks: object, data_sizes: ArrayLike) -> FloatArray:
    """π_i(S) = |C_i| / Σ_{j∈S} |C_j| for i ∈ S, else 0: each coalition's pool weights.

    Args:
        masks: Shape (m, n), boolean (or 0/1 integers); row k is coalition S_k.
        data_sizes: Shape (n,): |C_i|, contributor i's number of training records; all positive.

    Returns:
        Shape (m, n), float64: rows of non-empty coalitions sum to 1; the empty coalition's row is
        all zeros.

    Raises:
        EngineInputError: Bad masks, or data sizes that are not n positive finite numbers.
    """
    sizes = check_data_sizes(data_sizes)
    checked = check_masks(masks, sizes.shape[0])
    weighted = checked * sizes
    totals = weighted.sum(axis=1, keepdims=True)
    weights: FloatArray = np.divide(weighted, totals, out=np.zeros_like(weighted), where=totals > 0)
    return weights


def check_data_sizes(data_sizes: ArrayLike, n_contributors: int | None = None) -> FloatArray:
    """Return |C_i| as a float64 vector, or raise unless it is n positive finite numbers."""
    try:
        sizes = np.array(data_sizes, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EngineInputError(f"data_sizes must be numbers: {error}.") from error
    if sizes.ndim != 1 or sizes.shape[0] < 1:
        raise EngineInputError(
            f"data_sizes must be a 1-D vector with one size per contributor, got shape "
            f"{sizes.shape}."
        )
    if n_contributors is not None and sizes.shape[0] != n_contributors:
        raise EngineInputError(
            f"data_sizes has {sizes.shape[0]} entries but there are {n_contributors} contributors."
        )
    if not (np.isfinite(sizes).all() and (sizes > 0).all()):
        raise EngineInputError(
            f"data_sizes must be positive finite numbers (records per contributor), got {sizes}."
        )
    return sizes


def check_mixture_weights(weights: object, n_contributors: int) -> FloatArray:
    """Validate the weights a metric is called with: shape (m, n), non-negative, rows sum to 1.

    Args:
        weights: Shape (m, n): π_i(S_k); the empty coalition has no pool, so no metric takes it.
        n_contributors: n, the number of banks.

    Returns:
        The weights as float64, shape (m, n).

    Raises:
        EngineInputError: Wrong shape, negative or non-finite entries, or a row not summing to 1
            within 1e-9 (an empty coalition's zero row included).
    """
    array = np.asarray(weights, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != n_contributors:
        raise EngineInputError(
            f"mixture weights must have shape (n_coalitions, {n_contributors}), got {array.shape}."
        )
    if not np.isfinite(array).all() or (array < 0).any():
        raise EngineInputError("mixture weights must be finite and non-negative.")
    error = np.abs(array.sum(axis=1) - 1.0)
    if (error > WEIGHT_SUM_TOLERANCE).any():
        row = int(np.argmax(error))
        raise EngineInputError(
            f"each row of mixture weights must sum to 1; row {row} sums to "
            f"{array[row].sum():.12g}. An empty coalition has no pool: give it a value instead "
            "(ProxyGame does, through empty_value)."
        )
    return array
