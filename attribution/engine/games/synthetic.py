"""The synthetic games of the SurrogateSHAP paper's benchmark, vectorised.

With z the 0/1 membership vector of a coalition and w a weight vector:

    linear:       v(z) = 0.25 + wᵀz
    nonlinear:    v(z) = 3·tanh((0.25 + wᵀz) / 3)
    interaction:  v(z) = 3·tanh((0.25 + wᵀz + 1.5 z0 z1 − 1.0 z2 z3 + 0.8 z4 z5 + 2.0 z0 z2 z4) / 3)

The linear game's Shapley values are w; the other two have none in closed form (the exact
estimator provides them for small n). ``make_paper_games`` builds all three with w ~ N(0, I) and
extra null players (weight 0, in no interaction term), whose Shapley value is exactly zero.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from attribution.engine.errors import EngineInputError
from attribution.engine.games.base import Game, Masks, Utilities, check_masks
from attribution.engine.games.known import check_weights

DEFAULT_INTERCEPT = 0.25
TANH_SCALE = 3.0  # v = scale·tanh(x / scale): identity near 0, saturating at ±3
# The interaction game's extra terms: (players, coefficient); each adds coefficient·Π z_players.
INTERACTIONS: tuple[tuple[tuple[int, ...], float], ...] = (
    ((0, 1), 1.5),
    ((2, 3), -1.0),
    ((4, 5), 0.8),
    ((0, 2, 4), 2.0),
)
MIN_INTERACTION_PLAYERS = 1 + max(max(players) for players, _ in INTERACTIONS)


def _check_intercept(intercept: object) -> float:
    """Return ``intercept`` as a finite float, or raise EngineInputError."""
    if isinstance(intercept, bool) or not isinstance(
        intercept, int | float | np.integer | np.floating
    ):
        raise EngineInputError(f"intercept must be a number, got {type(intercept).__name__}.")
    if not math.isfinite(float(intercept)):
        raise EngineInputError(f"intercept must be a finite number, got {intercept}.")
    return float(intercept)


class LinearGame:
    """v(z) = intercept + wᵀz; the Shapley value of player i is w_i.

    Args:
        weights: Shape (n_players,), finite numbers.
        intercept: v(∅).
    """

    def __init__(self, weights: ArrayLike, intercept: float = DEFAULT_INTERCEPT) -> None:
        self.weights = check_weights(weights)
        self.intercept = _check_intercept(intercept)
        self.n_players = self.weights.shape[0]

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (n_coalitions,) for masks of shape (n_coalitions, n_players)."""
        checked = check_masks(masks, self.n_players)
        utilities: Utilities = self.intercept + checked.astype(np.float64) @ self.weights
        return utilities

    def shapley_values(self) -> Utilities:
        """Exact values, shape (n_players,): the weights."""
        return self.weights.copy()

    def __repr__(self) -> str:
        return f"LinearGame(n_players={self.n_players}, intercept={self.intercept!r})"


class NonlinearGame:
    """v(z) = 3·tanh((intercept + wᵀz) / 3): the linear game squashed, so values are not w.

    Args:
        weights: Shape (n_players,), finite numbers.
        intercept: Added inside the tanh.
    """

    def __init__(self, weights: ArrayLike, intercept: float = DEFAULT_INTERCEPT) -> None:
        self.weights = check_weights(weights)
        self.intercept = _check_intercept(intercept)
        self.n_players = self.weights.shape[0]

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (n_coalitions,) for masks of shape (n_coalitions, n_players)."""
        checked = check_masks(masks, self.n_players)
        linear = self.intercept + checked.astype(np.float64) @ self.weights
        utilities: Utilities = TANH_SCALE * np.tanh(linear / TANH_SCALE)
        return utilities

    def __repr__(self) -> str:
        return f"NonlinearGame(n_players={self.n_players}, intercept={self.intercept!r})"


class InteractionGame:
    """The nonlinear game plus the pair and triple terms of ``INTERACTIONS`` on players 0..5.

    Args:
        weights: Shape (n_players,) with n_players >= 6, finite numbers.
        intercept: Added inside the tanh.
    """

    def __init__(self, weights: ArrayLike, intercept: float = DEFAULT_INTERCEPT) -> None:
        self.weights = check_weights(weights)
        self.intercept = _check_intercept(intercept)
        self.n_players = self.weights.shape[0]
        if self.n_players < MIN_INTERACTION_PLAYERS:
            raise EngineInputError(
                f"the interaction game needs at least {MIN_INTERACTION_PLAYERS} players (its terms "
                f"use players 0..{MIN_INTERACTION_PLAYERS - 1}), got {self.n_players}."
            )

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (n_coalitions,) for masks of shape (n_coalitions, n_players)."""
        checked = check_masks(masks, self.n_players)
        total = self.intercept + checked.astype(np.float64) @ self.weights
        for players, coefficient in INTERACTIONS:
            total = total + coefficient * checked[:, list(players)].all(axis=1)
        utilities: Utilities = TANH_SCALE * np.tanh(total / TANH_SCALE)
        return utilities

    def __repr__(self) -> str:
        return f"InteractionGame(n_players={self.n_players}, intercept={self.intercept!r})"


def make_paper_games(n_players: int, n_null: int, seed: int) -> dict[str, Game]:
    """The paper's three synthetic games on one shared weight vector.

    Args:
        n_players: Players with weights w ~ N(0, I) drawn by ``np.random.default_rng(seed)``; at
            least 6, since the interaction terms live on players 0..5.
        n_null: Extra null players appended after them (weight 0, in no interaction term).
        seed: Non-negative integer seed; the same seed gives the same games.

    Returns:
        ``{"linear": LinearGame, "nonlinear": NonlinearGame, "interaction": InteractionGame}``, each
        with ``n_players + n_null`` players.
    """
    if (
        isinstance(n_players, bool)
        or not isinstance(n_players, int | np.integer)
        or n_players < MIN_INTERACTION_PLAYERS
    ):
        raise EngineInputError(
            f"n_players must be an integer >= {MIN_INTERACTION_PLAYERS} (the interaction game's "
            f"terms use players 0..{MIN_INTERACTION_PLAYERS - 1}), got {n_players!r}."
        )
    if isinstance(n_null, bool) or not isinstance(n_null, int | np.integer) or n_null < 0:
        raise EngineInputError(f"n_null must be a non-negative integer, got {n_null!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise EngineInputError(f"seed must be a non-negative integer, got {seed!r}.")
    rng = np.random.default_rng(int(seed))
    weights = np.concatenate([rng.standard_normal(int(n_players)), np.zeros(int(n_null))])
    return {
        "linear": LinearGame(weights),
        "nonlinear": NonlinearGame(weights),
        "interaction": InteractionGame(weights),
    }
