"""Games whose exact Shapley values are known in closed form, for checking estimators.

Every game here is vectorised (``__call__`` on a whole mask matrix) and has ``shapley_values()``,
which returns the exact values from a formula or an exact combinatorial count, never by
enumerating the 2^n coalitions, so estimators can be checked on games with hundreds of players.

Games:
    AdditiveGame: v(S) = constant + Σ_{i∈S} w_i.
    UnanimityGame: v(S) = Σ_T c_T·[T ⊆ S] (any game is one of these, via its Harsanyi dividends).
    WeightedMajorityGame: v(S) = [Σ_{i∈S} w_i ≥ quota] (Shapley–Shubik power index).
    GloveGame: v(S) = min(#left gloves in S, #right gloves in S).
    AirportGame: v(S) = max_{i∈S} c_i (Littlechild–Owen cost sharing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attribution.engine.errors import EngineInputError, TooManyPlayersError
from attribution.engine.games.base import Masks, Utilities, check_masks, check_n_players

# Object arrays of Python ints in the weighted-majority table: refuse tables past this many cells
# (each cell is a Python int, so this is about a gigabyte at worst).
MAX_MAJORITY_TABLE_CELLS = 20_000_000


def check_weights(
    weights: ArrayLike, *, name: str = "weights", non_negative: bool = False
) -> Utilities:
    """Validate a per-player weight vector and return a float64 copy.

    Args:
        weights: One number per player, shape (n_players,) with n_players >= 2.
        name: What to call the vector in error messages.
        non_negative: Reject negative entries.

    Returns:
        Float64 array of shape (n_players,).

    Raises:
        EngineInputError: Not a 1-D vector of at least two finite numbers (or a negative entry when
            ``non_negative``).
    """
    try:
        array = np.array(weights, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EngineInputError(f"{name} must be a vector of numbers: {error}.") from error
    if array.ndim != 1:
        raise EngineInputError(
            f"{name} must be a 1-D vector (one number per player), got shape {array.shape}."
        )
    check_n_players(array.shape[0])
    bad = ~np.isfinite(array)
    if bad.any():
        raise EngineInputError(
            f"{name} must be finite numbers; entry {int(np.flatnonzero(bad)[0])} is "
            f"{array[bad][0]}."
        )
    if non_negative and (array < 0).any():
        first = int(np.flatnonzero(array < 0)[0])
        raise EngineInputError(f"{name} must be non-negative; entry {first} is {array[first]}.")
    return array


def _check_finite_number(value: object, name: str) -> float:
    """Return ``value`` as a finite float, or raise EngineInputError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise EngineInputError(f"{name} must be a number, got {type(value).__name__}.")
    number = float(value)
    if not math.isfinite(number):
        raise EngineInputError(f"{name} must be a finite number, got {number}.")
    return number


def _format_vector(values: NDArray[np.float64] | NDArray[np.int64]) -> str:
    """Short text of a vector for ``__repr__`` (long vectors are elided in the middle)."""
    return np.array2string(values, separator=", ", threshold=12, edgeitems=4, max_line_width=10**6)


def _shapley_weight(n_players: int, size: int) -> Fraction:
    """s!(n-s-1)!/n! exactly: the weight of a marginal contribution to a set of ``size`` others."""
    return Fraction(1, n_players * math.comb(n_players - 1, size))


class AdditiveGame:
    """v(S) = constant + Σ_{i∈S} w_i; the Shapley value of player i is w_i.

    Args:
        weights: Shape (n_players,), any finite numbers.
        constant: v(∅); it changes no one's value.
    """

    def __init__(self, weights: ArrayLike, constant: float = 0.0) -> None:
        self.weights = check_weights(weights)
        self.constant = _check_finite_number(constant, "constant")
        self.n_players = self.weights.shape[0]

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (n_coalitions,) for masks of shape (n_coalitions, n_players)."""
        checked = check_masks(masks, self.n_players)
        utilities: Utilities = self.constant + checked.astype(np.float64) @ self.weights
        return utilities

    def shapley_values(self) -> Utilities:
        """Exact values, shape (n_players,): the weights."""
        return self.weights.copy()

    def __repr__(self) -> str:
        return f"AdditiveGame(weights={_format_vector(self.weights)}, constant={self.constant!r})"


class UnanimityGame:
    """A weighted sum of unanimity games: v(S) = Σ_T c_T·[T ⊆ S].

    Each term T pays c_T when all of its members are present and is shared equally among them, so
    φ_i = Σ_{T∋i} c_T / |T|.

    Args:
        n_players: Number of players n >= 2.
        coalitions: The carriers T, each a non-empty sequence of distinct player indices in
            [0, n_players).
        weights: The dividends c_T, one finite number per coalition.
    """

    def __init__(
        self, n_players: int, coalitions: Sequence[Sequence[int]], weights: ArrayLike
    ) -> None:
        self.n_players = check_n_players(n_players)
        self.coalitions = tuple(
            _check_coalition(members, self.n_players, position)
            for position, members in enumerate(coalitions)
        )
        try:
            dividends = np.array(weights, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise EngineInputError(f"weights must be numbers: {error}.") from error
        if dividends.shape != (len(self.coalitions),):
            raise EngineInputError(
                f"weights must hold one number per coalition ({len(self.coalitions)}), "
                f"got shape {dividends.shape}."
            )
        if not np.isfinite(dividends).all():
            raise EngineInputError("weights must be finite numbers (no NaN or infinity).")
        self.weights: Utilities = dividends
        # carriers[t, i] is True when player i belongs to term t: shape (n_terms, n_players).
        self._carriers = np.zeros((len(self.coalitions), self.n_players), dtype=np.float64)
        for term, members in enumerate(self.coalitions):
            self._carriers[term, list(members)] = 1.0
        self._sizes = self._carriers.sum(axis=1)

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (n_coalitions,) for masks of shape (n_coalitions, n_players)."""
        checked = check_masks(masks, self.n_players)
        # Members of each term present in each coalition, shape (n_coalitions, n_terms); counts are
        # small integers, exact in float64.
        present = checked.astype(np.float64) @ self._carriers.T
        utilities: Utilities = (present == self._sizes).astype(np.float64) @ self.weights
        return utilities

    def shapley_values(self) -> Utilities:
        """Exact values, shape (n_players,): each dividend split equally among its carrier."""
        values: Utilities = (self.weights / self._sizes) @ self._carriers
        return values

    def __repr__(self) -> str:
        terms = [list(members) for members in self.coalitions]
        return (
            f"UnanimityGame(n_players={self.n_players}, coalitions={terms}, "
            f"weights={_format_vector(self.weights)})"
        )


def _check_coalition(members: Sequence[int], n_players: int, position: int) -> tuple[int, ...]:
    """Validate one unanimity carrier: non-empty, distinct integer indices in range."""
    try:
        indices = list(members)
    except TypeError as error:
        raise EngineInputError(
            f"coalition {position} must be a sequence of player indices, got {members!r}."
        ) from error
    if not indices:
        raise EngineInputError(
            f"coalition {position} is empty; a unanimity game needs at least one member."
        )
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise EngineInputError(
                f"coalition {position} holds {index!r}; player indices must be integers."
            )
        if not 0 <= index < n_players:
            raise EngineInputError(
                f"coalition {position} holds player {index}, outside 0..{n_players - 1}."
            )
    if len(set(indices)) != len(indices):
        raise EngineInputError(f"coalition {position} lists a player twice: {indices}.")
    return tuple(sorted(int(index) for index in indices))


class WeightedMajorityGame:
    """v(S) = 1 if Σ_{i∈S} w_i ≥ quota else 0; Shapley values are the Shapley–Shubik index.

    Exact values come from a dynamic programme counting the coalitions of each size and weight
    below the quota, in exact integers: time O(n²·quota), memory O(n·quota).

    Args:
        weights: Shape (n_players,), non-negative integers.
        quota: Positive number, at most the total weight (else no coalition ever wins).
    """

    def __init__(self, weights: ArrayLike, quota: float) -> None:
        float_weights = check_weights(weights, non_negative=True)
        if not np.array_equal(float_weights, np.round(float_weights)):
            first = int(np.flatnonzero(float_weights != np.round(float_weights))[0])
            raise EngineInputError(
                f"weights must be integers; entry {first} is {float_weights[first]}."
            )
        self.weights: NDArray[np.int64] = float_weights.astype(np.int64)
        self.n_players = self.weights.shape[0]
        self.quota = _check_finite_number(quota, "quota")
        total = int(self.weights.sum())
        if self.quota <= 0:
            raise EngineInputError(
                f"quota must be positive (else the empty coalition wins), got {self.quota}."
            )
        if self.quota > total:
            raise EngineInputError(
                f"quota {self.quota} exceeds the total weight {total}, so no coalition wins."
            )

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities (0.0 or 1.0) of shape (n_coalitions,) for masks (n_coalitions, n_players)."""
        checked = check_masks(masks, self.n_players)
        totals = checked.astype(np.int64) @ self.weights
        return (totals >= self.quota).astype(np.float64)

    def shapley_values(self) -> Utilities:
        """Exact Shapley–Shubik values, shape (n_players,), correctly rounded to float64.

        Player i is pivotal for S ⊆ N∖{i} when quota − w_i ≤ w(S) < quota. ``table[s, W]`` counts
        all coalitions of size s and weight W < quota; removing player i from it (the knapsack
        recursion run backwards) gives the counts over N∖{i} in O(n·quota) per player.

        Raises:
            TooManyPlayersError: The count table would exceed ``MAX_MAJORITY_TABLE_CELLS``.
        """
        n = self.n_players
        quota = math.ceil(self.quota)  # weight sums are integers
        if (n + 1) * quota > MAX_MAJORITY_TABLE_CELLS:
            raise TooManyPlayersError(
                f"the exact count needs a {n + 1} × {quota} table; rescale the weights and quota "
                f"to smaller integers (at most {MAX_MAJORITY_TABLE_CELLS} cells)."
            )
        weights = [int(w) for w in self.weights]
        table = _count_losing_coalitions(weights, quota)
        values = np.empty(n, dtype=np.float64)
        for player, weight in enumerate(weights):
            without = _remove_player(table, weight)
            lowest = max(quota - weight, 0)
            pivotal = without[:n, lowest:quota].sum(axis=1)  # by size s = 0..n-1
            exact = sum(
                (int(count) * _shapley_weight(n, size) for size, count in enumerate(pivotal)),
                Fraction(0),
            )
            values[player] = float(exact)
        return values

    def __repr__(self) -> str:
        return f"WeightedMajorityGame(weights={_format_vector(self.weights)}, quota={self.quota!r})"


def _count_losing_coalitions(weights: list[int], quota: int) -> NDArray[np.object_]:
    """Count coalitions by size and weight, for weights below ``quota``.

    Returns:
        Object array of Python ints, shape (n + 1, quota): entry [s, W] is the number of
        coalitions with s members and total weight W.
    """
    table = np.zeros((len(weights) + 1, quota), dtype=object)
    table[0, 0] = 1
    for weight in weights:
        if weight >= quota:
            continue  # a coalition holding this player is never below the quota
        # Add the player to every coalition counted so far (sizes and weights both shift up).
        table[1:, weight:] = table[1:, weight:] + table[:-1, : quota - weight]
    return table


def _remove_player(table: NDArray[np.object_], weight: int) -> NDArray[np.object_]:
    """Undo one player of weight ``weight`` in a count table from ``_count_losing_coalitions``.

    With c the counts with the player and d without it, c[s, W] = d[s, W] + d[s-1, W-weight] for
    W < quota, so d follows row by row in increasing s.

    Returns:
        Object array of the same shape (n + 1, quota), counts over the other players.
    """
    quota = table.shape[1]
    without = table.copy()
    if weight >= quota:
        return without
    for size in range(1, table.shape[0]):
        without[size, weight:] = table[size, weight:] - without[size - 1, : quota - weight]
    return without


class GloveGame:
    """v(S) = min(#left gloves in S, #right gloves in S): each matched pair is worth 1.

    Players 0..n_left-1 hold a left glove and players n_left..n_left+n_right-1 a right glove. The
    values are exact counts in rational arithmetic, O(n²) terms.

    Args:
        n_left: Number of left-glove holders, at least 1.
        n_right: Number of right-glove holders, at least 1.
    """

    def __init__(self, n_left: int, n_right: int) -> None:
        self.n_left = _check_glove_count(n_left, "n_left")
        self.n_right = _check_glove_count(n_right, "n_right")
        self.n_players = self.n_left + self.n_right

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (n_coalitions,) for masks of shape (n_coalitions, n_players)."""
        checked = check_masks(masks, self.n_players)
        left = checked[:, : self.n_left].sum(axis=1)
        right = checked[:, self.n_left :].sum(axis=1)
        utilities: Utilities = np.minimum(left, right).astype(np.float64)
        return utilities

    def shapley_values(self) -> Utilities:
        """Exact values, shape (n_players,): one value for every left and one for every right."""
        left_value = _glove_value(self.n_left, self.n_right)
        right_value = _glove_value(self.n_right, self.n_left)
        return np.array([left_value] * self.n_left + [right_value] * self.n_right, dtype=np.float64)

    def __repr__(self) -> str:
        return f"GloveGame(n_left={self.n_left}, n_right={self.n_right})"


def _check_glove_count(count: object, name: str) -> int:
    """Return a glove count as an int, or raise unless it is an integer >= 1."""
    if isinstance(count, bool) or not isinstance(count, int | np.integer):
        raise EngineInputError(f"{name} must be an integer, got {type(count).__name__}.")
    if count < 1:
        raise EngineInputError(
            f"{name} must be at least 1 (with no gloves on one side no pair forms), got {count}."
        )
    return int(count)


def _glove_value(n_same: int, n_other: int) -> float:
    """Shapley value of a holder of a glove that ``n_same`` players hold (itself included).

    A player joining a coalition of a others on its side and b on the other side adds a pair exactly
    when b > a; there are C(n_same-1, a)·C(n_other, b) such coalitions, each of Shapley weight
    (a+b)!(n-a-b-1)!/n!.
    """
    n = n_same + n_other
    total = Fraction(0)
    for same in range(n_same):
        for other in range(same + 1, n_other + 1):
            multiplicity = math.comb(n_same - 1, same) * math.comb(n_other, other)
            total += multiplicity * _shapley_weight(n, same + other)
    return float(total)


class AirportGame:
    """v(S) = max_{i∈S} c_i with v(∅) = 0: the cost of a runway long enough for everyone in S.

    A cost game; its Shapley value is the Littlechild–Owen rule: each runway segment's cost is split
    equally among the players who need it.

    Args:
        costs: Shape (n_players,), non-negative finite costs.
    """

    def __init__(self, costs: ArrayLike) -> None:
        self.costs = check_weights(costs, name="costs", non_negative=True)
        self.n_players = self.costs.shape[0]

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (n_coalitions,) for masks of shape (n_coalitions, n_players)."""
        checked = check_masks(masks, self.n_players)
        # Costs are non-negative, so absent players count as 0 and the empty coalition gets 0.
        utilities: Utilities = np.where(checked, self.costs, 0.0).max(axis=1, initial=0.0)
        return utilities

    def shapley_values(self) -> Utilities:
        """Exact values, shape (n_players,).

        With costs sorted ascending c_(1) ≤ … ≤ c_(n) and c_(0) = 0, the k-th gets
        Σ_{j≤k} (c_(j) − c_(j−1)) / (n − j + 1). Tied players get equal values because the
        increments between them are zero.
        """
        n = self.n_players
        order = np.argsort(self.costs, kind="stable")
        increments = np.diff(self.costs[order], prepend=0.0)
        sharing = increments / np.arange(n, 0, -1, dtype=np.float64)  # n − j + 1 for j = 1..n
        values = np.empty(n, dtype=np.float64)
        values[order] = np.cumsum(sharing)
        return values

    def __repr__(self) -> str:
        return f"AirportGame(costs={_format_vector(self.costs)})"
