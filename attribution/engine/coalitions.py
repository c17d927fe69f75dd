"""Coalition samplers: which coalitions an estimator evaluates.

Strategies (``strategy=``):

``"kernel"``
    The Shapley kernel: sizes 1..n-1 with p(k) ∝ (n-1) / (k (n-k)), uniform within a size. Sampling
    from it makes KernelSHAP's weighted regression an unweighted one.
``"size_uniform"``
    Sizes 0..n uniformly (the empty and grand coalitions included), uniform within a size.
``"uniform"``
    Uniform over all 2^n coalitions (each player in with probability 1/2).
``"fixed_size"``
    Every coalition has size ⌊α n⌋ (``alpha=``): the held-out sets of datamodels and LDS.

``paired=True`` returns each sampled coalition followed by its complement (antithetic sampling);
``deduplicate=True`` keeps drawing until ``n_coalitions`` distinct coalitions are found; it changes
the distribution (frequent coalitions are under-represented), which suits a surrogate's training set
but not an importance-weighted estimator.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.games.base import Masks, check_n_players

Strategy = Literal["kernel", "size_uniform", "uniform", "fixed_size"]
STRATEGIES: tuple[Strategy, ...] = ("kernel", "size_uniform", "uniform", "fixed_size")

_MAX_DRAW_ROUNDS = 64
# Supports up to this size are enumerated for deduplicated draws, so rare coalitions are found.
_ENUMERATE_SUPPORT = 2**16


def sample_coalitions(
    n_players: int,
    n_coalitions: int,
    *,
    strategy: Strategy = "kernel",
    seed: int | np.random.Generator | None = None,
    paired: bool = False,
    deduplicate: bool = False,
    alpha: float = 0.5,
) -> Masks:
    """Draw coalitions as a boolean matrix.

    Args:
        n_players: Number of players n (>= 1).
        n_coalitions: Number of rows to return. With ``paired`` an odd count ends on an unpaired
            coalition.
        strategy: One of ``STRATEGIES`` (see the module docstring).
        seed: Seed or generator; the same seed gives the same coalitions.
        paired: Follow every sampled coalition by its complement.
        deduplicate: Return distinct coalitions only (a coalition drawn before, or the
            complement of one, is skipped, so pairs may be broken).
        alpha: Fraction of players in each coalition for ``"fixed_size"``.

    Returns:
        Boolean array of shape ``(n_coalitions, n_players)``.

    Raises:
        EngineInputError: On an unknown strategy, a bad count or alpha, or when ``deduplicate``
            asks for more distinct coalitions than the strategy can produce.
    """
    n_players = check_n_players(n_players, minimum=1)
    if isinstance(n_coalitions, bool) or not isinstance(n_coalitions, int | np.integer):
        raise EngineInputError("n_coalitions must be an integer.")
    if n_coalitions < 0:
        raise EngineInputError(f"n_coalitions must be >= 0, got {n_coalitions}.")
    _check_strategy(strategy)
    size = _fixed_size(n_players, alpha) if strategy == "fixed_size" else 0
    if strategy == "kernel" and n_players < 2:
        raise EngineInputError("the Shapley kernel needs at least 2 players.")
    rng = np.random.default_rng(seed)
    if deduplicate:
        support = support_size(n_players, strategy, alpha=alpha)
        if n_coalitions > support:
            raise EngineInputError(
                f"asked for {n_coalitions} distinct coalitions but strategy {strategy!r} has only "
                f"{support} for {n_players} players."
            )
        return _draw_distinct(n_players, int(n_coalitions), strategy, rng, paired, size)
    return _draw(n_players, int(n_coalitions), strategy, rng, paired, size)


def support_size(n_players: int, strategy: Strategy, *, alpha: float = 0.5) -> int:
    """Number of distinct coalitions a strategy can produce."""
    _check_strategy(strategy)
    if strategy == "kernel":
        return int(2**n_players - 2)
    if strategy == "fixed_size":
        return math.comb(n_players, _fixed_size(n_players, alpha))
    return int(2**n_players)


def kernel_size_probabilities(n_players: int) -> NDArray[np.float64]:
    """p(k) for k = 0..n under the Shapley kernel (zero at k = 0 and k = n)."""
    sizes = np.arange(1, n_players, dtype=np.float64)
    weights = (n_players - 1) / (sizes * (n_players - sizes))
    probabilities = np.zeros(n_players + 1)
    probabilities[1:n_players] = weights / weights.sum()
    return probabilities


def size_probabilities(
    n_players: int, strategy: Strategy, *, alpha: float = 0.5
) -> NDArray[np.float64]:
    """Marginal distribution of the coalition size k = 0..n under a strategy."""
    _check_strategy(strategy)
    if strategy == "kernel":
        return kernel_size_probabilities(n_players)
    if strategy == "size_uniform":
        return np.full(n_players + 1, 1.0 / (n_players + 1))
    if strategy == "uniform":
        return np.array([math.comb(n_players, k) / 2.0**n_players for k in range(n_players + 1)])
    probabilities = np.zeros(n_players + 1)
    probabilities[_fixed_size(n_players, alpha)] = 1.0
    return probabilities


def enumerate_masks(n_players: int, start: int = 0, stop: int | None = None) -> NDArray[np.bool_]:
    """Coalitions ``start..stop-1`` in binary order: row k holds the bits of k (player i = bit i).

    Returns:
        Boolean array of shape (stop - start, n_players).
    """
    stop = 2**n_players if stop is None else stop
    codes = np.arange(start, stop, dtype=np.int64)
    bits = np.arange(n_players, dtype=np.int64)
    masks: NDArray[np.bool_] = ((codes[:, None] >> bits[None, :]) & 1).astype(np.bool_)
    return masks


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise EngineInputError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}.")


def _fixed_size(n_players: int, alpha: float) -> int:
    if not 0.0 < alpha < 1.0:
        raise EngineInputError(f"alpha must lie strictly between 0 and 1, got {alpha}.")
    # The epsilon keeps e.g. 0.29 * 100 = 28.999999999999996 at the 29 members a user means.
    return math.floor(alpha * n_players + 1e-9)


def _draw_sizes(
    n_players: int, count: int, strategy: Strategy, rng: np.random.Generator, size: int
) -> NDArray[np.intp]:
    if strategy == "fixed_size":
        return np.full(count, size, dtype=np.intp)
    if strategy == "uniform":
        return rng.binomial(n_players, 0.5, size=count).astype(np.intp)
    probabilities = size_probabilities(n_players, strategy)
    return rng.choice(n_players + 1, size=count, p=probabilities).astype(np.intp)


def _masks_of_sizes(n_players: int, sizes: NDArray[np.intp], rng: np.random.Generator) -> Masks:
    """Uniform coalitions of the given sizes: rank random keys, keep the ``size`` smallest."""
    keys = rng.random((len(sizes), n_players))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    masks: Masks = ranks < sizes[:, None]
    return masks


def _draw(
    n_players: int,
    n_coalitions: int,
    strategy: Strategy,
    rng: np.random.Generator,
    paired: bool,
    size: int,
) -> Masks:
    n_base = (n_coalitions + 1) // 2 if paired else n_coalitions
    base = _masks_of_sizes(n_players, _draw_sizes(n_players, n_base, strategy, rng, size), rng)
    if not paired:
        return base
    interleaved = np.empty((2 * n_base, n_players), dtype=np.bool_)
    interleaved[0::2] = base
    interleaved[1::2] = ~base
    return interleaved[:n_coalitions]


def _draw_distinct(
    n_players: int,
    n_coalitions: int,
    strategy: Strategy,
    rng: np.random.Generator,
    paired: bool,
    size: int,
) -> Masks:
    support = (
        math.comb(n_players, size)
        if strategy == "fixed_size"
        else support_size(n_players, strategy)
    )
    if support <= _ENUMERATE_SUPPORT:
        return _draw_distinct_enumerated(n_players, n_coalitions, strategy, rng, paired, size)
    distinct = _DistinctRows(n_players, n_coalitions)
    for _ in range(_MAX_DRAW_ROUNDS):
        if distinct.full:
            break
        missing = n_coalitions - len(distinct.rows)
        distinct.extend(_draw(n_players, max(2 * missing, 16), strategy, rng, paired, size))
    if not distinct.full:
        raise EngineInputError(
            f"found only {len(distinct.rows)} distinct coalitions of the {n_coalitions} asked "
            "for; ask for fewer or turn deduplication off."
        )
    return distinct.stack()


def _draw_distinct_enumerated(
    n_players: int,
    n_coalitions: int,
    strategy: Strategy,
    rng: np.random.Generator,
    paired: bool,
    size: int,
) -> Masks:
    """Sample without replacement from the enumerated support (Gumbel top-k on log-probabilities).

    Used for small supports, where rejection sampling would rarely find the rarest coalitions.
    With ``paired`` each chosen coalition is followed by its complement unless already chosen.
    """
    if strategy == "fixed_size":  # enumerate the C(n, size) coalitions, never all 2^n
        members = np.array(list(itertools.combinations(range(n_players), size)), dtype=np.intp)
        candidates = np.zeros((len(members), n_players), dtype=np.bool_)
        if size:
            candidates[np.arange(len(members))[:, None], members] = True
        log_p = np.zeros(len(candidates))
    else:
        every = enumerate_masks(n_players)
        sizes = every.sum(axis=1)
        per_size = size_probabilities(n_players, strategy) / np.array(
            [math.comb(n_players, k) for k in range(n_players + 1)], dtype=np.float64
        )
        keep = per_size[sizes] > 0
        candidates = every[keep]
        log_p = np.log(per_size[sizes[keep]])
    order = np.argsort(-(log_p + rng.gumbel(size=len(candidates))), kind="stable")
    if not paired:
        return np.ascontiguousarray(candidates[order[:n_coalitions]])
    distinct = _DistinctRows(n_players, n_coalitions)
    for row in candidates[order]:
        distinct.extend((row, ~row))
        if distinct.full:
            break
    return distinct.stack()


class _DistinctRows:
    """Collects coalitions in order, skipping repeats, up to a limit."""

    def __init__(self, n_players: int, limit: int) -> None:
        self.n_players, self.limit = n_players, limit
        self.rows: list[Masks] = []
        self._seen: set[bytes] = set()

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.limit

    def extend(self, rows: Iterable[Masks]) -> None:
        for row in rows:
            key = np.packbits(row).tobytes()
            if not self.full and key not in self._seen:
                self._seen.add(key)
                self.rows.append(row)

    def stack(self) -> Masks:
        if not self.rows:
            return np.zeros((0, self.n_players), dtype=np.bool_)
        return np.stack(self.rows)
