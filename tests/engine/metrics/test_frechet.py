"""Negative Fréchet distance from bank moments equals FD computed directly on the pool."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics import (
    BankStatistics,
    NegativeFrechetDistance,
    compute_bank_statistics,
    mixture_weights,
    reference_statistics,
)

SEED = 21
N_CONTRIBUTORS = 5
BANK_SIZE = 30
DIM = 6
DATA_SIZES = np.array([3, 1, 4, 2, 5])
RTOL = 1e-6  # sqrtm of a non-symmetric product in the reference limits agreement
SELF_TOLERANCE = 1e-8


def _all_coalitions(n: int) -> np.ndarray:
    """Every non-empty coalition of n players, shape (2^n − 1, n)."""
    codes = np.arange(1, 2**n)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(bool)


def _feature_banks(seed: int = SEED) -> list[np.ndarray]:
    """Per contributor (K, d): Gaussian features with its own mean and random covariance."""
    rng = np.random.default_rng(seed)
    banks = []
    for _ in range(N_CONTRIBUTORS):
        mixing = rng.normal(size=(DIM, DIM)) * rng.uniform(0.3, 1.5)
        banks.append(rng.normal(size=(BANK_SIZE, DIM)) @ mixing + rng.normal(0.0, 2.0, DIM))
    return banks


def _reference_frechet_distance(
    pool: np.ndarray, reference_mean: np.ndarray, reference_covariance: np.ndarray
) -> float:
    """The textbook FD with scipy's sqrtm, on the pool's population covariance."""
    covariance = np.cov(pool, rowvar=False, bias=True)
    root = scipy.linalg.sqrtm(covariance @ reference_covariance)
    return float(
        np.sum((pool.mean(axis=0) - reference_mean) ** 2)
        + np.trace(covariance)
        + np.trace(reference_covariance)
        - 2.0 * np.trace(root).real
    )


def test_negative_fd_equals_fd_of_the_materialised_pool() -> None:
    banks = _feature_banks()
    stats = compute_bank_statistics(None, banks)
    rng = np.random.default_rng(SEED + 1)
    reference_mean, reference_covariance = reference_statistics(rng.normal(size=(200, DIM)) * 2.0)
    metric = NegativeFrechetDistance(reference_mean, reference_covariance)
    masks = _all_coalitions(N_CONTRIBUTORS)

    utilities = metric(stats, mixture_weights(masks, DATA_SIZES))

    for mask, utility in zip(masks, utilities, strict=True):
        pool = np.concatenate(
            [np.repeat(banks[i], DATA_SIZES[i], axis=0) for i in np.flatnonzero(mask)]
        )
        expected = _reference_frechet_distance(pool, reference_mean, reference_covariance)
        assert -utility == pytest.approx(expected, rel=RTOL)


def test_a_pool_against_its_own_statistics_is_at_distance_zero() -> None:
    banks = _feature_banks()
    stats = compute_bank_statistics(None, banks)
    grand = np.ones((1, N_CONTRIBUTORS), dtype=bool)
    pool = np.concatenate([np.repeat(b, s, axis=0) for b, s in zip(banks, DATA_SIZES, strict=True)])

    pooled = NegativeFrechetDistance(*reference_statistics(pool))(
        stats, mixture_weights(grand, DATA_SIZES)
    )
    single = NegativeFrechetDistance(*reference_statistics(banks[2]))(stats, np.eye(5)[[2]])

    assert abs(pooled[0]) <= SELF_TOLERANCE
    assert abs(single[0]) <= SELF_TOLERANCE


def test_one_dimensional_gaussians_follow_the_closed_form() -> None:
    # FD between N(μ1, σ1²) and N(μ2, σ2²) is (μ1 − μ2)² + (σ1 − σ2)².
    bank = np.array([[-1.0], [1.0]]) * 3.0 + 2.0  # mean 2, population std 3
    stats = compute_bank_statistics(None, [bank, bank])
    metric = NegativeFrechetDistance(np.array([-1.0]), np.array([[4.0]]))  # mean −1, std 2

    utility = metric(stats, np.array([[0.5, 0.5]]))

    assert utility[0] == pytest.approx(-(3.0**2 + 1.0**2), rel=1e-12)


def test_reference_statistics_use_the_population_covariance() -> None:
    features = np.random.default_rng(SEED).normal(size=(50, 4))

    mean, covariance = reference_statistics(features)

    np.testing.assert_allclose(mean, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(covariance, np.cov(features, rowvar=False, bias=True), rtol=1e-12)


def test_bank_products_are_recomputed_for_new_statistics() -> None:
    banks = _feature_banks()
    metric = NegativeFrechetDistance(np.zeros(DIM), np.eye(DIM))
    first = compute_bank_statistics(None, banks)
    second = compute_bank_statistics(None, [b * 2.0 for b in banks])
    weights = mixture_weights(np.eye(N_CONTRIBUTORS, dtype=bool), DATA_SIZES)

    before = metric(first, weights)
    other = metric(second, weights)

    np.testing.assert_array_equal(metric(first, weights), before)
    assert not np.allclose(before, other)
    np.testing.assert_array_equal(
        NegativeFrechetDistance(np.zeros(DIM), np.eye(DIM))(second, weights), other
    )


def test_bad_references_and_missing_features_are_rejected() -> None:
    with pytest.raises(EngineInputError, match="symmetric"):
        NegativeFrechetDistance(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(EngineInputError, match=r"shape \(d, d\)"):
        NegativeFrechetDistance(np.zeros(2), np.eye(3))
    with pytest.raises(EngineInputError, match="finite"):
        NegativeFrechetDistance(np.array([0.0, np.nan]), np.eye(2))
    with pytest.raises(EngineInputError, match=r"shape \(N, d\)"):
        reference_statistics(np.zeros((0, 3)))

    metric = NegativeFrechetDistance(np.zeros(3), np.eye(3))
    features_only = compute_bank_statistics(None, [np.ones((2, 4)), np.zeros((2, 4))])
    with pytest.raises(EngineInputError, match="4 features but the reference has 3"):
        metric(features_only, np.array([[0.5, 0.5]]))
    no_features = compute_bank_statistics([np.eye(3), np.eye(3)], None)
    with pytest.raises(EngineInputError, match=r"neg_frechet_distance.*'feature_mean'"):
        metric(no_features, np.array([[0.5, 0.5]]))


# --- the factored forms: Gram matrix (R ≤ d), row blocks (R > d), torch --------------------------

WIDE_DIM = 24  # wider than the small coalitions' R (Gram form), narrower than the large ones'
WIDE_SIZES = (6, 9, 12, 7, 10)  # K_i: R ranges over 6 … 44
FORMS = {
    "dense moments": {"backend": "numpy"},
    "rows in 3-row blocks": {"backend": "numpy", "memory_bytes": 4 * WIDE_DIM * 8 * 3},
    "torch on cpu": {"backend": "torch", "device": "cpu"},
    "torch, rows in blocks": {
        "backend": "torch",
        "device": "cpu",
        "memory_bytes": 4 * WIDE_DIM * 8 * 5,
    },
}


def _wide_banks(seed: int = SEED) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(k, WIDE_DIM)) @ rng.normal(size=(WIDE_DIM, WIDE_DIM)) * 0.3
        + rng.normal(0.0, 1.0, WIDE_DIM)
        for k in WIDE_SIZES
    ]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_equals_fd_of_the_explicitly_pooled_samples(form: str) -> None:
    banks = _wide_banks()
    stats = compute_bank_statistics(None, banks)
    rng = np.random.default_rng(SEED + 2)
    reference = reference_statistics(
        rng.normal(size=(300, WIDE_DIM)) @ rng.normal(size=(WIDE_DIM, WIDE_DIM))
    )
    metric = NegativeFrechetDistance(*reference, **FORMS[form])
    masks = _all_coalitions(N_CONTRIBUTORS)
    sizes = masks @ np.array(WIDE_SIZES)
    assert (sizes <= WIDE_DIM).any()  # the Gram form is exercised
    assert (sizes > WIDE_DIM).any()  # and the d × d one

    utilities = metric(stats, mixture_weights(masks, DATA_SIZES))

    for mask, utility in zip(masks, utilities, strict=True):
        members = np.flatnonzero(mask)
        # The pool weighs each sample of bank i by π_i / K_i: repeat it |C_i| · Π_{j≠i} K_j times.
        product = int(np.prod([WIDE_SIZES[j] for j in members]))
        pool = np.concatenate(
            [np.repeat(banks[i], DATA_SIZES[i] * product // WIDE_SIZES[i], axis=0) for i in members]
        )
        expected = _reference_frechet_distance(pool, *reference)
        assert -utility == pytest.approx(expected, rel=RTOL, abs=1e-9)


def test_a_tight_memory_budget_drops_the_dense_moments_and_changes_nothing() -> None:
    banks = _wide_banks()
    stats = compute_bank_statistics(None, banks)
    reference = reference_statistics(np.random.default_rng(3).normal(size=(100, WIDE_DIM)))
    weights = mixture_weights(_all_coalitions(N_CONTRIBUTORS), DATA_SIZES)
    roomy = NegativeFrechetDistance(*reference, backend="numpy")
    tight = NegativeFrechetDistance(*reference, backend="numpy", memory_bytes=1)

    np.testing.assert_allclose(tight(stats, weights), roomy(stats, weights), rtol=1e-10)
    assert roomy.keeps_dense_moments is True
    assert tight.keeps_dense_moments is False


def test_the_metric_takes_reference_statistics_and_checks_its_arguments() -> None:
    from attribution.engine.metrics import ReferenceStatistics

    reference = ReferenceStatistics(np.zeros(3), np.eye(3), 10)
    banks = [np.eye(3), -np.eye(3)]
    stats = compute_bank_statistics(None, banks)
    from_object = NegativeFrechetDistance(reference)(stats, np.array([[0.5, 0.5]]))
    from_arrays = NegativeFrechetDistance(np.zeros(3), np.eye(3))(stats, np.array([[0.5, 0.5]]))

    np.testing.assert_allclose(from_object, from_arrays, rtol=1e-12)
    with pytest.raises(EngineInputError, match="backend"):
        NegativeFrechetDistance(reference, backend="jax")  # type: ignore[arg-type]
    with pytest.raises(EngineInputError, match="memory_bytes"):
        NegativeFrechetDistance(reference, memory_bytes=0)
    with pytest.raises(EngineInputError, match="reference_covariance is required"):
        NegativeFrechetDistance(np.zeros(3))
    with pytest.raises(EngineInputError, match="feature_rows"):
        NegativeFrechetDistance(reference)(
            BankStatistics(n_samples=np.array([3, 3]), feature_mean=np.zeros((2, 3))),
            np.array([[0.5, 0.5]]),
        )


def _weighted_frechet_distance(
    banks: list[np.ndarray], weights: np.ndarray, mean: np.ndarray, covariance: np.ndarray
) -> float:
    """FD of the pool where every sample of bank i weighs π_i / K_i, with scipy's sqrtm."""
    samples = np.concatenate(banks)
    sample_weights = np.concatenate(
        [np.full(len(b), w / len(b)) for b, w in zip(banks, weights, strict=True)]
    )
    pool_mean = sample_weights @ samples
    centred = samples - pool_mean
    pool_covariance = (centred * sample_weights[:, None]).T @ centred
    root = scipy.linalg.sqrtm(pool_covariance @ covariance)
    return float(
        np.sum((pool_mean - mean) ** 2)
        + np.trace(pool_covariance)
        + np.trace(covariance)
        - 2.0 * np.trace(root).real
    )


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_large_coalitions_use_the_grand_sum_only_for_proportional_weights(backend: str) -> None:
    banks = _wide_banks()
    stats = compute_bank_statistics(None, banks)
    reference = reference_statistics(np.random.default_rng(9).normal(size=(100, WIDE_DIM)))
    grand = mixture_weights(np.ones((1, N_CONTRIBUTORS), dtype=bool), DATA_SIZES)
    large = mixture_weights(np.array([[1, 1, 1, 0, 1], [0, 1, 1, 1, 1]], dtype=bool), DATA_SIZES)
    skewed = np.array([[0.1, 0.2, 0.3, 0.0, 0.4], [0.05, 0.05, 0.3, 0.3, 0.3]])  # not ∝ |C_i|
    rows = np.concatenate([grand, large, skewed])
    options = {"backend": backend, "device": "cpu", "memory_bytes": 4 * WIDE_DIM * 8 * 4}

    at_once = NegativeFrechetDistance(*reference, **options)(stats, rows)
    no_grand_yet = NegativeFrechetDistance(*reference, **options)(stats, rows[1:])

    expected = [_weighted_frechet_distance(banks, row, *reference) for row in rows]
    np.testing.assert_allclose(-at_once, expected, rtol=RTOL)
    np.testing.assert_allclose(no_grand_yet, at_once[1:], rtol=1e-9)


def test_the_floor_is_the_mean_score_of_a_point_mass_at_a_reference_row_and_ignores_banks() -> None:
    rng = np.random.default_rng(SEED + 4)
    reference = rng.normal(size=(200, DIM)) * 2.0
    reference_mean, reference_covariance = reference_statistics(reference)
    metric = NegativeFrechetDistance(reference_mean, reference_covariance)
    point_masses = compute_bank_statistics(None, [np.tile(row, (4, 1)) for row in reference])

    memorised = metric(point_masses, np.eye(len(reference))).mean()
    metric(compute_bank_statistics(None, _feature_banks()), np.eye(N_CONTRIBUTORS))

    assert metric.floor == pytest.approx(memorised, rel=1e-6)
    assert metric.floor == pytest.approx(-2.0 * np.trace(reference_covariance))
