"""The game protocol, input validation and the memoising evaluation wrapper.

A *game* is any object with an ``n_players`` attribute and a ``__call__(masks)`` that maps a boolean
matrix of coalitions, shape ``(n_coalitions, n_players)``, to a float vector of utilities, shape
``(n_coalitions,)``. Row ``k`` of ``masks`` has ``masks[k, i] = True`` when player ``i`` is in the
coalition. Every estimator works on any game.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError

Masks = NDArray[np.bool_]
Utilities = NDArray[np.float64]


@runtime_checkable
class Game(Protocol):
    """A cooperative game evaluated on many coalitions at once."""

    n_players: int

    def __call__(self, masks: Masks) -> Utilities:
        """Return the utility of each coalition (row) of ``masks``."""
        ...


Orders = NDArray[np.intp]
"""Player orders, shape (n_orders, n_players): row p lists every player once, first to last."""


@runtime_checkable
class PrefixGame(Protocol):
    """A game that can also value every prefix of player orders, cheaper than coalitions one by one.

    The optional capability permutation sampling uses: ``prefix_utilities(orders)`` returns, for
    each order, the utilities of its n + 1 prefixes (∅, the first player, the first two, ..., N),
    the same numbers as ``game(prefix_masks(orders))`` to float rounding.
    ``incremental_prefixes`` says whether it is actually cheaper (an incremental update per
    player added); estimators use the mask path, memoised, when it is False or absent.
    """

    n_players: int

    @property
    def incremental_prefixes(self) -> bool:
        """Whether ``prefix_utilities`` costs less than evaluating the prefix masks."""
        ...

    def __call__(self, masks: Masks) -> Utilities:
        """Return the utility of each coalition (row) of ``masks``."""
        ...

    def prefix_utilities(self, orders: Orders) -> NDArray[np.float64]:
        """Utilities of every prefix of every order, shape (n_orders, n_players + 1)."""
        ...


def incremental_prefix_game(game: object) -> PrefixGame | None:
    """``game`` when it values order prefixes incrementally (see :class:`PrefixGame`), else None."""
    if isinstance(game, PrefixGame) and bool(game.incremental_prefixes):
        return game
    return None


def check_orders(orders: object, n_players: int) -> Orders:
    """Return ``orders`` as an (m, n_players) intp array, or raise unless each row is a permutation
    of 0..n_players − 1."""
    array = np.asarray(orders)
    if array.ndim != 2 or array.shape[1] != n_players:
        raise EngineInputError(
            f"orders must have shape (n_orders, {n_players}), one permutation of the players per "
            f"row; got shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise EngineInputError(f"orders must hold player indices (integers), got {array.dtype}.")
    if array.size and not (np.sort(array, axis=1) == np.arange(n_players)).all():
        raise EngineInputError("every row of orders must list each player exactly once.")
    return np.ascontiguousarray(array, dtype=np.intp)


def prefix_masks(orders: Orders) -> Masks:
    """The n + 1 prefix coalitions of each order, shape (n_orders, n + 1, n), boolean.

    Memory is n_orders · (n + 1) · n bytes (10,000 players: 100 MB per order), which is why games
    that can offer :class:`PrefixGame` do.
    """
    n = orders.shape[1]
    positions = np.argsort(orders, axis=1)  # positions[p, i] = where player i comes in order p
    sizes = np.arange(n + 1)
    masks: Masks = positions[:, None, :] < sizes[None, :, None]
    return masks


def check_n_players(n_players: object, *, minimum: int = 2) -> int:
    """Return ``n_players`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(n_players, bool) or not isinstance(n_players, int | np.integer):
        raise EngineInputError(f"n_players must be an integer, got {type(n_players).__name__}.")
    if n_players < minimum:
        raise EngineInputError(
            f"n_players must be at least {minimum} to share value between players, got {n_players}."
        )
    return int(n_players)


def check_masks(masks: object, n_players: int | None = None) -> Masks:
    """Validate a coalition matrix and return it as a C-contiguous boolean array.

    Accepts boolean arrays, and integer arrays holding only 0 and 1. Rejects floats (a float mask
    is almost always a mistake such as passing utilities where masks belong), other shapes, and a
    column count that differs from ``n_players``.
    """
    array = np.asarray(masks)
    if array.ndim != 2:
        raise EngineInputError(
            f"masks must be a 2-D array (n_coalitions, n_players); got {array.ndim} dimension(s) "
            f"with shape {array.shape}."
        )
    if n_players is not None and array.shape[1] != n_players:
        raise EngineInputError(
            f"masks have {array.shape[1]} columns but the game has {n_players} players."
        )
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array)
    if np.issubdtype(array.dtype, np.integer):
        if array.size and not np.isin(array, (0, 1)).all():
            raise EngineInputError("integer masks may only hold 0 and 1.")
        return np.ascontiguousarray(array.astype(np.bool_))
    raise EngineInputError(f"masks must be boolean (or integers 0/1), got dtype {array.dtype}.")


def check_utilities(utilities: object, n_coalitions: int) -> Utilities:
    """Validate a utility vector: 1-D, ``n_coalitions`` long, finite; return it as float64."""
    try:
        array = np.asarray(utilities, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EngineInputError(f"utilities must be numbers: {error}.") from error
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape != (n_coalitions,):
        raise EngineInputError(
            f"expected {n_coalitions} utilities (one per coalition), got shape {array.shape}."
        )
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise EngineInputError(
            f"{int(bad.sum())} utilities are NaN or infinite (first at row {first}); "
            "a utility must be a finite number for every coalition."
        )
    return array


def check_game(game: object) -> int:
    """Check that ``game`` looks like a Game and return its number of players."""
    if not callable(game) or not hasattr(game, "n_players"):
        raise EngineInputError(
            "a game must be callable on a mask matrix and have an n_players attribute."
        )
    return check_n_players(game.n_players)


class FunctionGame:
    """Wrap a vectorised function ``masks -> utilities`` as a game."""

    def __init__(self, n_players: int, function: Callable[[Masks], Utilities]) -> None:
        self.n_players = check_n_players(n_players, minimum=1)
        self.function = function

    def __call__(self, masks: Masks) -> Utilities:
        return np.asarray(self.function(masks), dtype=np.float64)


class TableGame:
    """A game known only on a table of evaluated coalitions.

    Looking up a coalition that is not in the table raises a clear error, so every estimator can run
    on a user's table as long as the table holds the coalitions that estimator needs.
    """

    def __init__(self, masks: object, utilities: object) -> None:
        checked = check_masks(masks)
        values = check_utilities(utilities, checked.shape[0])
        self.n_players = check_n_players(checked.shape[1])
        self._table: dict[bytes, float] = {}
        for key, value in zip(pack_masks(checked), values, strict=True):
            previous = self._table.setdefault(key, float(value))
            if previous != float(value):
                raise EngineInputError(
                    "the table lists one coalition twice with different utilities; "
                    "average repeated evaluations before valuing."
                )

    def __call__(self, masks: Masks) -> Utilities:
        keys = pack_masks(check_masks(masks, self.n_players))
        missing = [k for k, key in enumerate(keys) if key not in self._table]
        if missing:
            raise EngineInputError(
                f"{len(missing)} coalition(s) the method needs are not in the table (the first: "
                f"players {np.flatnonzero(masks[missing[0]]).tolist()}); use a method that works "
                "on the coalitions you have (the surrogate) or evaluate those coalitions too."
            )
        return np.array([self._table[key] for key in keys], dtype=np.float64)


def pack_masks(masks: Masks) -> list[bytes]:
    """Return one hashable key per coalition (rows packed to bits)."""
    packed = np.packbits(masks, axis=1)
    return [row.tobytes() for row in packed]


class EvaluationCounter:
    """Memoise a game so each distinct coalition is evaluated once, and count those evaluations.

    Estimators call the wrapped game through this so ``n_evaluations_`` reports distinct utility
    evaluations, repeated coalitions cost nothing, and a broken game (wrong output shape, NaN) is
    reported clearly at the first bad call.
    """

    def __init__(self, game: Game) -> None:
        self.n_players = check_game(game)
        self.game = game
        self._cache: dict[bytes, float] = {}
        self._uncached = 0

    @property
    def n_evaluations(self) -> int:
        """Distinct coalitions evaluated so far."""
        return len(self._cache) + self._uncached

    def evaluate_distinct(self, masks: Masks) -> Utilities:
        """Evaluate coalitions the caller guarantees are distinct and never asked for again.

        Skips the memo (for exhaustive enumeration, where keys would cost more than the game).
        """
        masks = check_masks(masks, self.n_players)
        values = check_utilities(self.game(masks), masks.shape[0])
        self._uncached += masks.shape[0]
        return values

    def __call__(self, masks: Masks) -> Utilities:
        masks = check_masks(masks, self.n_players)
        keys = pack_masks(masks)
        new_rows: dict[bytes, int] = {}
        for row, key in enumerate(keys):
            if key not in self._cache and key not in new_rows:
                new_rows[key] = row
        if new_rows:
            rows = np.fromiter(new_rows.values(), dtype=np.intp, count=len(new_rows))
            values = check_utilities(self.game(masks[rows]), len(rows))
            self._cache.update(zip(new_rows.keys(), values.tolist(), strict=True))
        return np.array([self._cache[key] for key in keys], dtype=np.float64)
