"""clip_diversity: the entropy of the pool's mean zero-shot distribution, from bank means."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics import (
    BankStatistics,
    ZeroShotDiversity,
    compute_bank_statistics,
    mixture_weights,
)

SEED = 4
SIZES = (5, 9, 3, 7)  # K_i
DATA_SIZES = np.array([2, 6, 1, 3])  # |C_i|


def _all_coalitions(n: int) -> np.ndarray:
    codes = np.arange(1, 2**n)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(bool)


def _banks(n_classes: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(SEED)
    return [rng.dirichlet(np.full(n_classes, 0.3), size=k) for k in SIZES]


def test_diversity_equals_the_entropy_of_the_explicitly_pooled_samples() -> None:
    banks = _banks()
    statistics = compute_bank_statistics(None, None, {"zero_shot": banks})
    masks = _all_coalitions(len(SIZES))
    weights = mixture_weights(masks, DATA_SIZES)

    utilities = ZeroShotDiversity()(statistics, weights)

    for row, utility in zip(weights, utilities, strict=True):
        # Every sample of bank i weighs π_i / K_i in the pool.
        sample_weights = np.concatenate([np.full(k, row[i] / k) for i, k in enumerate(SIZES)])
        mean = sample_weights @ np.concatenate(banks)
        assert utility == pytest.approx(-(mean * np.log(mean)).sum(), rel=1e-12)


def test_one_class_scores_the_floor_and_even_coverage_log_c() -> None:
    one_class = [np.eye(3)[[1, 1]], np.eye(3)[[1]]]
    spread = [np.eye(3)[[0]], np.eye(3)[[1]], np.eye(3)[[2]]]
    metric = ZeroShotDiversity()

    single = metric(compute_bank_statistics(None, None, {"zero_shot": one_class}), [[0.3, 0.7]])
    even = metric(compute_bank_statistics(None, None, {"zero_shot": spread}), [[1 / 3] * 3])

    assert single[0] == pytest.approx(metric.floor, abs=1e-9)
    assert even[0] == pytest.approx(np.log(3), rel=1e-12)
    assert metric.name == "clip_diversity"


def test_a_scalar_score_or_a_non_distribution_is_refused() -> None:
    scalar = compute_bank_statistics(None, None, {"zero_shot": [np.ones(2), np.ones(3)]})
    with pytest.raises(EngineInputError, match="to be a vector per sample"):
        ZeroShotDiversity()(scalar, np.array([[0.5, 0.5]]))
    logits = BankStatistics(n_samples=np.array([2, 2]), score_means={"zero_shot": np.ones((2, 3))})
    with pytest.raises(EngineInputError, match="probability vector per sample"):
        ZeroShotDiversity()(logits, np.array([[0.5, 0.5]]))
    with pytest.raises(EngineInputError, match="'zero_shot'"):
        ZeroShotDiversity()(BankStatistics(n_samples=np.array([1, 1])), np.array([[0.5, 0.5]]))
    with pytest.raises(EngineInputError, match="same width"):
        compute_bank_statistics(None, None, {"zero_shot": [np.ones((2, 3)) / 3, np.ones((2, 2))]})
