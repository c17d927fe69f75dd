"""Class entropy from bank statistics equals the entropy of the materialised pool's mean."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics import ClassEntropy, compute_bank_statistics, mixture_weights

SEED = 5
N_CONTRIBUTORS = 5
BANK_SIZE = 30
N_CLASSES = 8
DATA_SIZES = np.array([2, 5, 1, 3, 4])
RTOL = 1e-8


def _all_coalitions(n: int) -> np.ndarray:
    """Every non-empty coalition of n players, shape (2^n − 1, n)."""
    codes = np.arange(1, 2**n)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(bool)


def test_class_entropy_equals_the_entropy_of_the_materialised_pool() -> None:
    rng = np.random.default_rng(SEED)
    banks = [rng.dirichlet(np.full(N_CLASSES, 0.5), size=BANK_SIZE) for _ in range(N_CONTRIBUTORS)]
    stats = compute_bank_statistics(banks, None)
    masks = _all_coalitions(N_CONTRIBUTORS)

    entropies = ClassEntropy()(stats, mixture_weights(masks, DATA_SIZES))

    for mask, entropy in zip(masks, entropies, strict=True):
        pool = np.concatenate(
            [np.repeat(banks[i], DATA_SIZES[i], axis=0) for i in np.flatnonzero(mask)]
        )
        marginal = pool.mean(axis=0)
        assert entropy == pytest.approx(-np.sum(marginal * np.log(marginal)), rel=RTOL)


def test_one_class_scores_the_floor_and_balanced_classes_log_c() -> None:
    one_hot = [np.eye(4)[[c, c]] for c in range(4)]
    stats = compute_bank_statistics(one_hot, None)
    metric = ClassEntropy()

    entropies = metric(stats, np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]]))

    assert entropies[0] == metric.floor == 0.0
    assert entropies[1] == pytest.approx(np.log(4), rel=1e-12)


def test_class_entropy_needs_class_probabilities() -> None:
    stats = compute_bank_statistics(None, None, {"aesthetic": [np.ones(2), np.ones(3)]})

    with pytest.raises(EngineInputError, match=r"class_entropy.*'probability_mean'"):
        ClassEntropy()(stats, np.array([[0.5, 0.5]]))
