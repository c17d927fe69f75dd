"""Inception score from bank statistics equals the score of the explicitly materialised pool."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics import InceptionScore, compute_bank_statistics, mixture_weights

SEED = 3
N_CONTRIBUTORS = 5
BANK_SIZE = 40
N_CLASSES = 6
DATA_SIZES = np.array([3, 1, 4, 2, 5])  # integers, so the pool is each bank repeated |C_i| times
RTOL = 1e-8


def _probability_banks(seed: int = SEED) -> list[np.ndarray]:
    """Per contributor (K, C): Dirichlet p(y|x) leaning towards a contributor-specific class."""
    rng = np.random.default_rng(seed)
    banks = []
    for i in range(N_CONTRIBUTORS):
        concentration = np.full(N_CLASSES, 0.7)
        concentration[i % N_CLASSES] += 3.0
        banks.append(rng.dirichlet(concentration, size=BANK_SIZE))
    return banks


def _all_coalitions(n: int) -> np.ndarray:
    """Every non-empty coalition of n players, shape (2^n − 1, n)."""
    codes = np.arange(1, 2**n)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(bool)


def _reference_inception_score(pool: np.ndarray) -> float:
    """exp(mean_x KL(p(y|x) ‖ mean_x p(y|x))) computed directly on a pool of shape (N, C)."""
    marginal = pool.mean(axis=0)
    kl = (pool * (np.log(np.clip(pool, 1e-12, None)) - np.log(marginal))).sum(axis=1)
    return float(np.exp(kl.mean()))


def test_inception_score_equals_the_score_of_the_materialised_pool() -> None:
    banks = _probability_banks()
    stats = compute_bank_statistics(banks, None)
    masks = _all_coalitions(N_CONTRIBUTORS)

    scores = InceptionScore()(stats, mixture_weights(masks, DATA_SIZES))

    for mask, score in zip(masks, scores, strict=True):
        pool = np.concatenate(
            [np.repeat(banks[i], DATA_SIZES[i], axis=0) for i in np.flatnonzero(mask)]
        )
        assert score == pytest.approx(_reference_inception_score(pool), rel=RTOL)


def test_uniform_predictions_score_the_floor() -> None:
    uniform = [np.full((7, 4), 0.25), np.full((3, 4), 0.25)]
    stats = compute_bank_statistics(uniform, None)
    metric = InceptionScore()

    scores = metric(stats, np.array([[1.0, 0.0], [0.3, 0.7]]))

    np.testing.assert_allclose(scores, metric.floor, rtol=0, atol=1e-12)
    assert metric.floor == 1.0


def test_confident_balanced_predictions_score_the_number_of_classes() -> None:
    n_classes = 5
    one_hot = [np.eye(n_classes)[[c]] for c in range(n_classes)]  # one class per contributor
    stats = compute_bank_statistics(one_hot, None)

    balanced = InceptionScore()(stats, np.full((1, n_classes), 1.0 / n_classes))
    one_class = InceptionScore()(stats, np.eye(n_classes)[:1])

    assert balanced[0] == pytest.approx(n_classes, rel=1e-12)
    assert one_class[0] == pytest.approx(1.0, rel=1e-12)


def test_inception_score_needs_class_probabilities() -> None:
    stats = compute_bank_statistics(None, [np.zeros((2, 3)), np.ones((2, 3))])

    with pytest.raises(EngineInputError, match=r"inception_score.*'probability_mean'"):
        InceptionScore()(stats, np.array([[0.5, 0.5]]))
