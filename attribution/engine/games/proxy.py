"""The SurrogateSHAP proxy game: a coalition's utility is a metric on its mixed sample pool.

A pretrained conditional diffusion model generates a sample bank per contributor. The pool of a
coalition S draws from the banks of S with mixture weights π_i(S) = |C_i| / Σ_{j∈S} |C_j|, and
v(S) is a metric of that pool (higher is better), computed from per-bank sufficient statistics
(:mod:`attribution.engine.metrics`) so thousands of coalitions cost array arithmetic, not images.

The empty coalition has no pool, so v(∅) is a choice, made by ``empty_value``:

- ``"floor"`` (default): the metric's no-information value (IS = 1, class entropy = 0, artefact-free
  rate = 1). Refused for metrics without one (Fréchet distance, mean scores).
- ``"worst_singleton"``: min_i v({i}), so no contributor's marginal gain from ∅ is negative.
- a number, used as is.

Why not "the model's output with no data", e.g. a pool of pure noise images? Such a pool can score
*better* than any real contributor: noise has a broad, centred feature distribution, and its
Fréchet distance to the full reference can be smaller than that of a pool holding one digit class.
Then every contributor's marginal gain v({i}) − v(∅) is negative, and since every Shapley value
averages marginal gains including the one from ∅, every value is distorted.

The choice never changes rankings: v(∅) enters the Shapley value of player i only through the
marginal from ∅, with weight 1/n, so shifting v(∅) by c shifts every value by −c/n. It does change
shares and payouts (Σ φ_i = v(N) − v(∅)), which is why it is explicit here.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from attribution.engine.errors import EngineInputError
from attribution.engine.games.base import (
    Masks,
    Orders,
    Utilities,
    check_masks,
    check_n_players,
    check_orders,
    check_utilities,
    prefix_masks,
)
from attribution.engine.metrics.pooled import PooledMetric
from attribution.engine.metrics.statistics import (
    BankStatistics,
    FloatArray,
    check_data_sizes,
    mixture_weights,
)

EmptyValue = float | Literal["floor", "worst_singleton"]
DEFAULT_BATCH_SIZE = 4096


@runtime_checkable
class Metric(Protocol):
    """A pool metric: utilities of shape (m,) from statistics and mixture weights of shape (m, n).

    ``floor`` is its no-information value (used as v(∅) under the "floor" policy), or None.
    """

    name: str
    floor: float | None

    def __call__(self, statistics: BankStatistics, weights: FloatArray) -> FloatArray:
        """Return one utility per row of ``weights`` (each row sums to 1)."""
        ...


WEIGHT_ELEMENTS = 2**24
"""At most this many mixture weights (float64) per evaluated batch: 128 MiB."""
PREFIX_ELEMENTS = 2**20
"""At most this many running sums (float64) per block of orders in ``prefix_utilities``: 8 MiB
per array (the block holds about four such arrays at once)."""


class ProxyGame:
    """v(S) = metric(pool of S's sample banks mixed by data size); v(∅) = ``empty_value_``.

    Args:
        statistics: Per-contributor bank statistics, n contributors.
        data_sizes: Shape (n,): |C_i|, records per contributor, positive.
        metric: A :class:`Metric`, e.g. ``InceptionScore()`` or ``NegativeFrechetDistance(...)``.
        empty_value: v(∅): ``"floor"``, ``"worst_singleton"`` or a number (see the module notes).
        batch_size: Coalitions handed to the metric at once (the Fréchet distance bounds its
            own workspace by memory, whatever the batch).

    Attributes:
        n_players: n.
        empty_value_: The resolved v(∅), a float.
    """

    def __init__(
        self,
        statistics: BankStatistics,
        data_sizes: ArrayLike,
        metric: Metric,
        empty_value: EmptyValue = "floor",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if not isinstance(statistics, BankStatistics):
            raise EngineInputError(
                f"statistics must be BankStatistics (see compute_bank_statistics), got "
                f"{type(statistics).__name__}."
            )
        if not isinstance(metric, Metric):
            raise EngineInputError(
                f"metric must have name, floor and __call__(statistics, weights); got {metric!r}."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise EngineInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.statistics = statistics
        self.n_players = check_n_players(statistics.n_contributors, minimum=1)
        self.data_sizes = check_data_sizes(data_sizes, self.n_players)
        self.metric = metric
        self.empty_value = empty_value
        self.batch_size = batch_size
        self.empty_value_ = self._resolve_empty_value(empty_value)

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (m,) for masks of shape (m, n_players); ∅ gets ``empty_value_``."""
        checked = check_masks(masks, self.n_players)
        utilities = np.full(checked.shape[0], self.empty_value_, dtype=np.float64)
        rows = np.flatnonzero(checked.any(axis=1))
        step = self._rows_per_batch()
        for start in range(0, rows.shape[0], step):
            batch = rows[start : start + step]
            utilities[batch] = self._evaluate(checked[batch])
        return utilities

    @property
    def incremental_prefixes(self) -> bool:
        """True when the metric is pooled (:class:`PooledMetric`): every metric but Fréchet."""
        return isinstance(self.metric, PooledMetric)

    def prefix_utilities(self, orders: Orders) -> FloatArray:
        """Utilities of the n + 1 prefixes of each order, shape (n_orders, n + 1); column 0 is
        v(∅) and column n is v(N).

        For a pooled metric the prefixes' mixed rows are running sums along each order,
        Σ_{j≤t} |C_j| r_j / Σ_{j≤t} |C_j|: O(k) work per prefix (k numbers per bank: C + 1 for
        the Inception score, 1 for a mean score) instead of an (n,)-wide weight row, in blocks of
        orders (or segments of one order, the sums carried over) of at most ``PREFIX_ELEMENTS``
        numbers, so the workspace is a few times 8 MiB whatever n and k. Other metrics (the
        Fréchet distance) evaluate the prefix masks, one order at a time. The numbers equal
        ``self(prefix_masks(orders))`` to float rounding.
        """
        checked = check_orders(orders, self.n_players)
        n = self.n_players
        utilities = np.empty((checked.shape[0], n + 1), dtype=np.float64)
        utilities[:, 0] = self.empty_value_
        metric = self.metric
        if not isinstance(metric, PooledMetric):
            for row in range(checked.shape[0]):
                utilities[row] = self(prefix_masks(checked[row : row + 1])[0])
            return utilities
        weighted = np.asarray(metric.bank_rows(self.statistics), dtype=np.float64)
        weighted = weighted * self.data_sizes[:, None]  # (n, k): |C_i| r_i
        k = weighted.shape[1]
        # Blocks of whole orders while an order fits PREFIX_ELEMENTS; beyond (n · k large: 100,000
        # banks of 1,009 numbers), segments of one order's positions, the running sums carried.
        orders_per_block = max(1, PREFIX_ELEMENTS // (n * k))
        positions_per_segment = min(n, max(1, PREFIX_ELEMENTS // (orders_per_block * k)))
        for start in range(0, checked.shape[0], orders_per_block):
            block = checked[start : start + orders_per_block]
            carried = np.zeros((block.shape[0], 1, k))
            carried_sizes = np.zeros((block.shape[0], 1))
            for first in range(0, n, positions_per_segment):
                members = block[:, first : first + positions_per_segment]
                sums = np.cumsum(weighted[members], axis=1)  # (b, segment, k)
                sums += carried
                totals = np.cumsum(self.data_sizes[members], axis=1) + carried_sizes
                carried, carried_sizes = sums[:, -1:, :].copy(), totals[:, -1:]
                sums /= totals[:, :, None]
                values = metric.from_pooled(self.statistics, sums.reshape(-1, k))
                try:
                    checked_values = check_utilities(values, sums.shape[0] * sums.shape[1])
                except EngineInputError as error:
                    raise EngineInputError(f"metric {self.metric.name!r}: {error}") from error
                rows = slice(start, start + block.shape[0])
                columns = slice(first + 1, first + 1 + members.shape[1])
                utilities[rows, columns] = checked_values.reshape(members.shape)
        return utilities

    def _rows_per_batch(self) -> int:
        """Coalitions evaluated at once: ``batch_size``, fewer when a (rows, n) float64 weight
        matrix would pass ``WEIGHT_ELEMENTS`` entries (128 MiB), so memory stays flat in n."""
        return max(1, min(self.batch_size, WEIGHT_ELEMENTS // self.n_players))

    def _evaluate(self, masks: Masks) -> Utilities:
        """The metric on non-empty coalitions, its output checked (shape, finite)."""
        weights = mixture_weights(masks, self.data_sizes)
        try:
            return check_utilities(self.metric(self.statistics, weights), masks.shape[0])
        except EngineInputError as error:
            raise EngineInputError(f"metric {self.metric.name!r}: {error}") from error

    def _resolve_empty_value(self, empty_value: object) -> float:
        """Turn the ``empty_value`` policy into v(∅)."""
        if empty_value == "floor":
            floor = self.metric.floor
            if floor is None:
                raise EngineInputError(
                    f"the {self.metric.name} metric has no floor (no-information value), so "
                    "empty_value='floor' cannot set v(∅); use empty_value='worst_singleton' or "
                    "give a number."
                )
            return float(floor)
        if empty_value == "worst_singleton":
            # Singletons are never empty, so the metric evaluates them before v(∅) exists; in
            # blocks of rows, never the whole (n, n) identity (40,000 players: 13 GB of weights).
            n, step = self.n_players, self._rows_per_batch()
            worst = math.inf
            for start in range(0, n, step):
                members = np.arange(start, min(n, start + step))
                block = np.zeros((members.shape[0], n), dtype=np.bool_)
                block[np.arange(members.shape[0]), members] = True
                worst = min(worst, float(self._evaluate(block).min()))
            return worst
        if isinstance(empty_value, bool) or not isinstance(
            empty_value, int | float | np.integer | np.floating
        ):
            raise EngineInputError(
                f"empty_value must be 'floor', 'worst_singleton' or a number, got {empty_value!r}."
            )
        if not math.isfinite(float(empty_value)):
            raise EngineInputError(f"empty_value must be finite, got {empty_value}.")
        return float(empty_value)

    def __repr__(self) -> str:
        return (
            f"ProxyGame(n_players={self.n_players}, metric={self.metric!r}, "
            f"empty_value={self.empty_value!r})"
        )
