"""Games with known Shapley values shared by the estimator tests."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine import (
    AdditiveGame,
    AirportGame,
    ExactShapley,
    Game,
    GloveGame,
    UnanimityGame,
    WeightedMajorityGame,
    make_paper_games,
)


def relative_error(estimate: NDArray[np.float64], truth: NDArray[np.float64]) -> float:
    """||estimate − truth|| / ||truth||."""
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


@pytest.fixture
def unanimity_game() -> UnanimityGame:
    """8 players, overlapping unanimity terms of mixed sign, and player 7 a null player."""
    return UnanimityGame(
        8,
        coalitions=[(0,), (1, 2), (2, 3, 4), (0, 5), (1, 6), (3, 5, 6)],
        weights=[1.0, 2.0, 1.5, -0.5, 0.8, 1.2],
    )


@pytest.fixture
def interaction_game() -> tuple[Game, NDArray[np.float64]]:
    """The SurrogateSHAP paper's interaction game, 10 players + 1 null, with exact values."""
    game = make_paper_games(10, 1, seed=3)["interaction"]
    return game, ExactShapley().fit(game).values_


KNOWN_GAMES = {
    "additive": AdditiveGame([1.0, -2.0, 0.5, 0.0, 3.0, 1.5], constant=0.7),
    "unanimity": UnanimityGame(
        7, coalitions=[(0, 1), (2,), (1, 3, 4), (0, 5, 6)], weights=[2.0, -1.0, 3.0, 0.5]
    ),
    "majority": WeightedMajorityGame([4, 3, 2, 2, 1, 1, 1], quota=8),
    "glove": GloveGame(3, 5),
    "airport": AirportGame([1.0, 1.0, 2.0, 3.5, 3.5, 6.0, 8.0]),
}
