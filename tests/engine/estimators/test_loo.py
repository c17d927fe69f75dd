"""LeaveOneOut: the classic baseline and its known failure on duplicated players."""

from __future__ import annotations

import numpy as np

from attribution.engine import FunctionGame, LeaveOneOut, UnanimityGame


def test_values_are_what_the_grand_coalition_loses(unanimity_game: UnanimityGame) -> None:
    estimate = LeaveOneOut().fit(unanimity_game)
    n = unanimity_game.n_players
    grand = unanimity_game(np.ones((1, n), dtype=bool))[0]
    for i in range(n):
        without = np.ones((1, n), dtype=bool)
        without[0, i] = False
        assert estimate.values_[i] == grand - unanimity_game(without)[0]
    assert estimate.n_evaluations_ == n + 2
    assert estimate.stderr_ is None


def test_duplicated_players_both_get_nothing() -> None:
    # Players 0 and 1 hold the same data: either alone gives the full utility.
    game = FunctionGame(3, lambda masks: (masks[:, 0] | masks[:, 1]).astype(float) + masks[:, 2])
    values = LeaveOneOut().fit(game).values_
    np.testing.assert_array_equal(values, [0.0, 0.0, 1.0])
    # so leave-one-out breaks efficiency: Σφ = 1 but v(N) − v(∅) = 2
    assert LeaveOneOut().fit(game).efficiency_gap_ == -1.0
