"""ProxyGame: mixture weights → metric, the empty-coalition policy, batching, and Shapley on top."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from attribution.engine import ExactShapley, Game
from attribution.engine.errors import EngineInputError
from attribution.engine.games.proxy import Metric, ProxyGame
from attribution.engine.metrics import (
    ArtefactFreeRate,
    BankStatistics,
    ClassEntropy,
    InceptionScore,
    MeanScore,
    NegativeFrechetDistance,
    compute_bank_statistics,
    mixture_weights,
    reference_statistics,
)

SEED = 17
N_CONTRIBUTORS = 8
BANK_SIZE = 20
N_CLASSES = 5
DIM = 4
EFFICIENCY_TOLERANCE = 1e-9


def _statistics(seed: int = SEED, n: int = N_CONTRIBUTORS) -> BankStatistics:
    """Random banks: Dirichlet class probabilities, Gaussian features, 0/1 artefacts, scores."""
    rng = np.random.default_rng(seed)
    probabilities = [rng.dirichlet(np.full(N_CLASSES, 0.6), size=BANK_SIZE) for _ in range(n)]
    features = [
        rng.normal(size=(BANK_SIZE, DIM)) * rng.uniform(0.5, 2.0) + rng.normal(0, 1.5, DIM)
        for _ in range(n)
    ]
    scores = {
        "artefact": [(rng.random(BANK_SIZE) < 0.3).astype(float) for _ in range(n)],
        "aesthetic": [rng.normal(5.0, 1.0, BANK_SIZE) for _ in range(n)],
    }
    return compute_bank_statistics(probabilities, features, scores)


def _data_sizes(n: int = N_CONTRIBUTORS) -> np.ndarray:
    """Positive record counts per contributor, deterministic."""
    return np.random.default_rng(SEED + 1).integers(1, 50, size=n).astype(float)


def _frechet() -> NegativeFrechetDistance:
    """−FD against a fixed standard-normal-ish reference."""
    reference = np.random.default_rng(SEED + 2).normal(size=(300, DIM))
    return NegativeFrechetDistance(*reference_statistics(reference))


def _random_masks(n_coalitions: int, n: int = N_CONTRIBUTORS) -> np.ndarray:
    """Random coalitions with some empty rows and the grand coalition mixed in."""
    masks = np.random.default_rng(SEED + 3).random((n_coalitions, n)) < 0.4
    masks[::7] = False
    masks[3] = True
    return masks


METRICS: dict[str, Callable[[], Metric]] = {
    "inception_score": InceptionScore,
    "class_entropy": ClassEntropy,
    "mean_score": lambda: MeanScore("aesthetic"),
    "artefact_free_rate": ArtefactFreeRate,
    "neg_frechet_distance": _frechet,
}


def test_a_proxy_game_is_a_game() -> None:
    game = ProxyGame(_statistics(), _data_sizes(), InceptionScore())

    assert isinstance(game, Game)
    assert game.n_players == N_CONTRIBUTORS


@pytest.mark.parametrize("empty_value", ["floor", "worst_singleton", -2.5])
def test_the_empty_coalition_gets_the_resolved_empty_value(empty_value: object) -> None:
    game = ProxyGame(_statistics(), _data_sizes(), InceptionScore(), empty_value=empty_value)
    masks = _random_masks(30)

    utilities = game(masks)

    empty = ~masks.any(axis=1)
    assert empty.sum() > 0
    np.testing.assert_array_equal(utilities[empty], game.empty_value_)
    assert isinstance(game.empty_value_, float)
    if empty_value == "floor":
        assert game.empty_value_ == 1.0
    elif not isinstance(empty_value, str):
        assert game.empty_value_ == empty_value


@pytest.mark.parametrize("metric_name", sorted(METRICS))
def test_worst_singleton_is_the_smallest_singleton_utility(metric_name: str) -> None:
    game = ProxyGame(
        _statistics(), _data_sizes(), METRICS[metric_name](), empty_value="worst_singleton"
    )

    singletons = game(np.eye(N_CONTRIBUTORS, dtype=bool))

    assert (game.empty_value_ <= singletons).all()
    assert game.empty_value_ == singletons.min()


@pytest.mark.parametrize("metric_name", sorted(METRICS))
def test_grand_coalition_mixes_the_banks_in_proportion_to_data_size(metric_name: str) -> None:
    stats, sizes, metric = _statistics(), _data_sizes(), METRICS[metric_name]()
    game = ProxyGame(stats, sizes, metric, empty_value=0.0)

    grand = game(np.ones((1, N_CONTRIBUTORS), dtype=bool))

    expected = metric(stats, (sizes / sizes.sum())[None, :])
    np.testing.assert_allclose(grand, expected, rtol=1e-12, atol=0)


def test_masks_are_validated() -> None:
    game = ProxyGame(_statistics(), _data_sizes(), InceptionScore())

    with pytest.raises(EngineInputError, match="7 columns but the game has 8 players"):
        game(np.ones((2, 7), dtype=bool))
    with pytest.raises(EngineInputError, match="boolean"):
        game(np.ones((2, N_CONTRIBUTORS)))
    assert game(np.zeros((0, N_CONTRIBUTORS), dtype=bool)).shape == (0,)


def test_floor_policy_needs_a_metric_with_a_floor() -> None:
    with pytest.raises(EngineInputError, match=r"no floor.*'worst_singleton'.*number"):
        ProxyGame(_statistics(), _data_sizes(), MeanScore("aesthetic"), empty_value="floor")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"empty_value": "noise"}, "'floor', 'worst_singleton' or a number"),
        ({"empty_value": float("nan")}, "finite"),
        ({"empty_value": True}, "a number"),
        ({"batch_size": 0}, "batch_size"),
        ({"data_sizes": np.ones(N_CONTRIBUTORS - 1)}, "7 entries but there are 8"),
        ({"data_sizes": np.zeros(N_CONTRIBUTORS)}, "positive"),
        ({"metric": lambda s, w: w.sum(axis=1)}, "name, floor"),
        ({"statistics": {"n_samples": [1, 2]}}, "BankStatistics"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "statistics": _statistics(),
        "data_sizes": _data_sizes(),
        "metric": InceptionScore(),
    }
    arguments.update(kwargs)
    with pytest.raises(EngineInputError, match=message):
        ProxyGame(**arguments)  # type: ignore[arg-type]


def test_a_metric_returning_the_wrong_shape_is_named_in_the_error() -> None:
    class Broken:
        name = "broken"
        floor: float | None = 0.0

        def __call__(self, statistics: BankStatistics, weights: np.ndarray) -> np.ndarray:
            return weights  # (m, n) instead of (m,)

    game = ProxyGame(_statistics(), _data_sizes(), Broken())
    with pytest.raises(EngineInputError, match="metric 'broken'"):
        game(np.ones((3, N_CONTRIBUTORS), dtype=bool))


@pytest.mark.parametrize("metric_name", sorted(METRICS))
def test_batching_gives_the_same_utilities(metric_name: str) -> None:
    stats, sizes, masks = _statistics(), _data_sizes(), _random_masks(50)
    whole = ProxyGame(stats, sizes, METRICS[metric_name](), empty_value=0.0)
    batched = ProxyGame(stats, sizes, METRICS[metric_name](), empty_value=0.0, batch_size=3)

    # Different batch shapes may change BLAS blocking, hence 1e-13 rather than bit equality.
    np.testing.assert_allclose(batched(masks), whole(masks), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    ("metric_name", "empty_value"),
    [("neg_frechet_distance", "worst_singleton"), ("inception_score", "floor")],
)
def test_exact_shapley_on_a_proxy_game_is_efficient(metric_name: str, empty_value: str) -> None:
    game = ProxyGame(_statistics(), _data_sizes(), METRICS[metric_name](), empty_value=empty_value)

    estimator = ExactShapley().fit(game)

    grand = game(np.ones((1, N_CONTRIBUTORS), dtype=bool))[0]
    assert estimator.baseline_ == game.empty_value_
    assert abs(estimator.values_.sum() - (grand - game.empty_value_)) <= EFFICIENCY_TOLERANCE


def test_shifting_the_empty_value_shifts_every_value_by_minus_c_over_n() -> None:
    stats, sizes, shift = _statistics(), _data_sizes(), 0.7
    base = ProxyGame(stats, sizes, _frechet(), empty_value=-3.0)
    shifted = ProxyGame(stats, sizes, _frechet(), empty_value=-3.0 + shift)

    values = ExactShapley().fit(base).values_
    shifted_values = ExactShapley().fit(shifted).values_

    np.testing.assert_allclose(shifted_values, values - shift / N_CONTRIBUTORS, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.argsort(shifted_values), np.argsort(values))


def test_utilities_use_the_mixture_weights() -> None:
    stats, sizes = _statistics(), _data_sizes()
    masks = _random_masks(20)
    masks = masks[masks.any(axis=1)]
    game = ProxyGame(stats, sizes, MeanScore("aesthetic"), empty_value=0.0)

    expected = mixture_weights(masks, sizes) @ stats.score_means["aesthetic"]

    np.testing.assert_allclose(game(masks), expected, rtol=1e-14)


def test_large_games_evaluate_in_blocks_and_find_the_worst_singleton(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attribution.engine.games import proxy
    from attribution.engine.metrics import MeanScore, compute_bank_statistics

    monkeypatch.setattr(proxy, "WEIGHT_ELEMENTS", 64)  # 64 weights a batch: 8 rows of 8 players
    scores = [np.array([float(i), float(i) + 1.0]) for i in range(8)]
    statistics = compute_bank_statistics(
        probabilities=None, features=[np.zeros((2, 1))] * 8, scores={"s": scores}
    )
    seen: list[int] = []
    metric = MeanScore("s")

    def recording(statistics: object, weights: np.ndarray) -> np.ndarray:
        seen.append(weights.shape[0])
        return metric(statistics, weights)  # type: ignore[arg-type]

    recording.name, recording.floor = "s", None  # type: ignore[attr-defined]
    game = proxy.ProxyGame(statistics, [1] * 8, recording, "worst_singleton", batch_size=100)  # type: ignore[arg-type]

    assert game.empty_value_ == pytest.approx(0.5)  # contributor 0: mean of 0 and 1
    masks = np.ones((20, 8), dtype=bool)
    assert game(masks) == pytest.approx([4.0] * 20)
    assert max(seen) == 8
