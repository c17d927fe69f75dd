"""Artefact-free rate from bank statistics, and the sign of the artefact rate's attribution."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine import ExactShapley
from attribution.engine.errors import EngineInputError
from attribution.engine.games.proxy import ProxyGame
from attribution.engine.metrics import (
    ArtefactFreeRate,
    MeanScore,
    compute_bank_statistics,
    mixture_weights,
)

SEED = 13
DATA_SIZES = np.array([2, 7, 1, 3, 5])
RTOL = 1e-8


def _all_coalitions(n: int) -> np.ndarray:
    """Every non-empty coalition of n players, shape (2^n − 1, n)."""
    codes = np.arange(1, 2**n)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(bool)


def _indicator_banks(seed: int = SEED) -> list[np.ndarray]:
    """0/1 artefact indicators, 50 per contributor, contributor i flawed with rate 0.1·(i+1)."""
    rng = np.random.default_rng(seed)
    return [(rng.random(50) < 0.1 * (i + 1)).astype(float) for i in range(5)]


def test_artefact_free_rate_equals_the_rate_on_the_materialised_pool() -> None:
    banks = _indicator_banks()
    stats = compute_bank_statistics(None, None, {"artefact": banks})
    masks = _all_coalitions(5)

    rates = ArtefactFreeRate()(stats, mixture_weights(masks, DATA_SIZES))

    for mask, rate in zip(masks, rates, strict=True):
        pool = np.concatenate([np.repeat(banks[i], DATA_SIZES[i]) for i in np.flatnonzero(mask)])
        assert rate == pytest.approx(1.0 - pool.mean(), rel=RTOL)


def test_attribution_of_the_artefact_rate_is_the_negated_attribution_of_this_game() -> None:
    stats = compute_bank_statistics(None, None, {"artefact": _indicator_banks()})
    free = ProxyGame(stats, DATA_SIZES, ArtefactFreeRate(), empty_value="floor")
    rate = ProxyGame(stats, DATA_SIZES, MeanScore("artefact"), empty_value=0.0)

    free_values = ExactShapley().fit(free).values_
    rate_values = ExactShapley().fit(rate).values_

    np.testing.assert_allclose(free_values, -rate_values, rtol=0, atol=1e-12)
    assert free.empty_value_ == 1.0


def test_artefact_scores_outside_zero_one_and_missing_scores_are_rejected() -> None:
    stats = compute_bank_statistics(None, None, {"artefact": [np.array([0.0, 3.0]), np.zeros(2)]})
    with pytest.raises(EngineInputError, match=r"\[0, 1\]"):
        ArtefactFreeRate()(stats, np.array([[0.5, 0.5]]))
    with pytest.raises(EngineInputError, match="'nsfw'"):
        ArtefactFreeRate("nsfw")(stats, np.array([[0.5, 0.5]]))
