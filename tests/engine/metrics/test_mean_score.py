"""Mean score from bank statistics equals the mean over the materialised pool."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics import MeanScore, compute_bank_statistics, mixture_weights

SEED = 8
DATA_SIZES = np.array([4, 1, 3, 2, 6])
RTOL = 1e-8


def _all_coalitions(n: int) -> np.ndarray:
    """Every non-empty coalition of n players, shape (2^n − 1, n)."""
    codes = np.arange(1, 2**n)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(bool)


def test_mean_score_equals_the_mean_of_the_materialised_pool() -> None:
    rng = np.random.default_rng(SEED)
    banks = [rng.normal(5.0 + i, 1.0, size=25) for i in range(5)]
    stats = compute_bank_statistics(None, None, {"aesthetic": banks})
    masks = _all_coalitions(5)

    means = MeanScore("aesthetic")(stats, mixture_weights(masks, DATA_SIZES))

    for mask, mean in zip(masks, means, strict=True):
        pool = np.concatenate([np.repeat(banks[i], DATA_SIZES[i]) for i in np.flatnonzero(mask)])
        assert mean == pytest.approx(pool.mean(), rel=RTOL)


def test_bank_sizes_do_not_change_a_banks_weight_in_the_pool() -> None:
    # Bank sizes 2 and 6: the pool weights each *bank* by π_i, so bank 0 is replicated 3× more
    # per record than bank 1 (lcm 6) when materialising.
    rng = np.random.default_rng(SEED)
    banks = [rng.normal(0.0, 1.0, size=2), rng.normal(3.0, 1.0, size=6)]
    sizes = np.array([2, 5])
    stats = compute_bank_statistics(None, None, {"s": banks})

    mean = MeanScore("s")(stats, mixture_weights(np.ones((1, 2), dtype=bool), sizes))

    lcm = math.lcm(2, 6)
    pool = np.concatenate(
        [np.repeat(bank, size * lcm // bank.size) for bank, size in zip(banks, sizes, strict=True)]
    )
    assert mean[0] == pytest.approx(pool.mean(), rel=RTOL)


def test_mean_score_names_the_missing_score() -> None:
    stats = compute_bank_statistics(None, None, {"aesthetic": [np.ones(2), np.ones(2)]})
    metric = MeanScore("label_fidelity")

    assert metric.name == "mean_label_fidelity"
    assert metric.floor is None
    with pytest.raises(EngineInputError, match=r"'label_fidelity'.*aesthetic"):
        metric(stats, np.array([[0.5, 0.5]]))
    with pytest.raises(EngineInputError, match="non-empty string"):
        MeanScore("")
