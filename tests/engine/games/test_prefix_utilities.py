"""ProxyGame.prefix_utilities: the incremental path equals the prefix masks, for every metric."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.games.base import (
    FunctionGame,
    PrefixGame,
    check_orders,
    incremental_prefix_game,
    prefix_masks,
)
from attribution.engine.games.proxy import ProxyGame
from attribution.engine.metrics import PooledMetric, ZeroShotDiversity, compute_bank_statistics
from tests.engine.games.test_proxy import METRICS, _data_sizes, _statistics

POOLED = [name for name in METRICS if name != "neg_frechet_distance"]


def _orders(count: int, n: int, seed: int = 5) -> np.ndarray:
    return np.argsort(np.random.default_rng(seed).random((count, n)), axis=1)


@pytest.mark.parametrize("metric_name", sorted(METRICS))
@pytest.mark.parametrize("empty_value", ["worst_singleton", 0.25])
def test_prefix_utilities_equal_the_prefix_masks(metric_name: str, empty_value: object) -> None:
    game = ProxyGame(_statistics(), _data_sizes(), METRICS[metric_name](), empty_value)
    orders = _orders(6, game.n_players)
    expected = game(prefix_masks(orders).reshape(-1, game.n_players)).reshape(6, -1)
    got = game.prefix_utilities(orders)
    assert got.shape == (6, game.n_players + 1)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert (got[:, 0] == game.empty_value_).all()


def test_every_metric_but_frechet_is_pooled_and_incremental() -> None:
    for name, make in METRICS.items():
        game = ProxyGame(_statistics(), _data_sizes(), make(), "worst_singleton")
        pooled = name != "neg_frechet_distance"
        assert isinstance(make(), PooledMetric) is pooled
        assert isinstance(game, PrefixGame)
        assert game.incremental_prefixes is pooled
        assert (incremental_prefix_game(game) is game) is pooled
    assert incremental_prefix_game(FunctionGame(3, lambda masks: masks.sum(axis=1))) is None


def test_zero_shot_diversity_prefixes_match_too() -> None:
    rng = np.random.default_rng(2)
    banks = [rng.dirichlet(np.ones(4), size=7) for _ in range(6)]
    statistics = compute_bank_statistics(scores={"zero_shot": banks})
    game = ProxyGame(statistics, np.arange(1, 7), ZeroShotDiversity(), "floor")
    orders = _orders(3, 6)
    expected = game(prefix_masks(orders).reshape(-1, 6)).reshape(3, -1)
    np.testing.assert_allclose(game.prefix_utilities(orders), expected, rtol=1e-12, atol=1e-12)


def test_blocks_of_orders_give_the_same_utilities(monkeypatch: pytest.MonkeyPatch) -> None:
    game = ProxyGame(_statistics(), _data_sizes(), METRICS["inception_score"](), "floor")
    orders = _orders(9, game.n_players)
    whole = game.prefix_utilities(orders)
    # 1: one order at a time, in segments of one position; 30 (k = 6): one order, 5 positions.
    for elements in (1, 30, 6 * 8 * 2):
        monkeypatch.setattr("attribution.engine.games.proxy.PREFIX_ELEMENTS", elements)
        np.testing.assert_allclose(game.prefix_utilities(orders), whole, rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    ("orders", "message"),
    [
        (np.zeros((2, 8), dtype=int), "exactly once"),
        (np.arange(7)[None, :], "shape"),
        (np.arange(8, dtype=float)[None, :], "integers"),
    ],
)
def test_bad_orders_are_refused(orders: np.ndarray, message: str) -> None:
    with pytest.raises(EngineInputError, match=message):
        check_orders(orders, 8)
