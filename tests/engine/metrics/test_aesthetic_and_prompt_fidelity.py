"""aesthetic and prompt_fidelity: pool means of per-sample scores, from bank means."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics import (
    AestheticScore,
    PromptFidelity,
    compute_bank_statistics,
    mixture_weights,
)

SEED = 8
SIZES = (4, 7, 2)
DATA_SIZES = np.array([5, 1, 3])
MASKS = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=bool)


@pytest.mark.parametrize(
    ("metric", "name"), [(AestheticScore(), "aesthetic"), (PromptFidelity(), "prompt_fidelity")]
)
def test_the_metric_equals_the_mean_over_the_explicitly_pooled_samples(metric, name) -> None:
    rng = np.random.default_rng(SEED)
    banks = [rng.normal(5.0, 2.0, size=k) for k in SIZES]
    statistics = compute_bank_statistics(None, None, {name: banks})
    weights = mixture_weights(MASKS, DATA_SIZES)

    utilities = metric(statistics, weights)

    for mask, utility in zip(MASKS, utilities, strict=True):
        # The pool repeats bank i's samples |C_i| · Π_{j≠i} K_j times: weight π_i / K_i each.
        product = int(np.prod([SIZES[j] for j in np.flatnonzero(mask)]))
        pool = np.concatenate(
            [np.tile(banks[i], DATA_SIZES[i] * product // SIZES[i]) for i in np.flatnonzero(mask)]
        )
        assert utility == pytest.approx(pool.mean(), rel=1e-12)
    assert metric.name == name
    assert metric.floor is None


def test_a_vector_score_under_the_name_is_refused() -> None:
    statistics = compute_bank_statistics(
        None, None, {"aesthetic": [np.ones((2, 3)), np.ones((1, 3))]}
    )
    with pytest.raises(EngineInputError, match="to be a scalar per sample"):
        AestheticScore()(statistics, np.array([[0.5, 0.5]]))
