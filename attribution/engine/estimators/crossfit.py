"""SurrogateSHAP made consistent: tree values plus a cross-fitted KernelSHAP of the residual game.

φ(v) = φ(f) + φ(v − f) for any surrogate f, because the Shapley value is linear. SurrogateShapley
takes φ(f) exactly (TreeSHAP) and then either spreads the efficiency gap uniformly or regresses the
*in-sample* residuals; both keep a bias that does not shrink with the budget (a flexible tree fits
its own training coalitions, so their residuals understate the game's). Here:

1. Coalitions are drawn from the Shapley kernel *with* replacement, in complementary pairs, until
   ``budget − 2`` distinct coalitions (besides ∅ and N) have been drawn, so the draws are an i.i.d.
   kernel sample (deduplicated draws are not: they under-weight the small and large sizes).
2. The pairs are split into ``n_folds`` folds. For each fold a CatBoost surrogate f_k is fitted on
   the other folds (∅ and N always train) on the targets v(S) − v(∅); its residuals on its own
   fold are out of sample.
3. φ = mean_k φ(g_k) + the efficiency-constrained KernelSHAP regression of the out-of-fold
   residuals v(S) − v(∅) − f_k(S), with total v(N) − v(∅) − Σ mean_k φ(g_k), where g_k is f_k
   anchored at g_k(∅) = 0 (see ``_anchored_shapley``). Efficiency holds exactly, and the second
   term is a consistent estimator of φ(v − f̄), so the error goes to zero as the budget grows, at
   the rate of KernelSHAP on a game whose variance the surrogate has removed (a control variate).

``stderr_`` is the bootstrap spread of the residual regression over resampled draws with the fold
surrogates held fixed; it omits the (smaller) variability of the surrogates themselves, which the
money-grade benchmark measures as interval coverage.
"""

from __future__ import annotations

from typing import Any, Literal, Self, get_args

import numpy as np
from numpy.typing import NDArray

from attribution.engine.coalitions import (
    enumerate_masks,
    kernel_size_probabilities,
    sample_coalitions,
)
from attribution.engine.errors import EngineInputError
from attribution.engine.estimators.base import ShapleyEstimator, check_budget, endpoint_masks
from attribution.engine.estimators.exact import shapley_from_table
from attribution.engine.estimators.regression import solve_efficient_regression
from attribution.engine.estimators.surrogate import fit_tree_surrogate, surrogate_shapley
from attribution.engine.games.base import Game, pack_masks
from attribution.engine.progress import Progress, report

MIN_BUDGET = 16
SELECTION_CELLS = 2**15
"""``selection="auto"`` picks the depth by one held-out fold at reduced iterations once the sampled
table holds more than this many coalition × player cells (256 coalitions of 128 players), where
a fold surrogate per candidate depth costs seconds each (CatBoost's cost grows with n)."""
SELECTION_ITERATIONS = 100
"""CatBoost iterations of the held-out depth search (the chosen depth is then fitted in full)."""
# Draws stop after this many times the budget even if fewer distinct coalitions came up (a game
# so small that the kernel keeps repeating itself is enumerated instead, see ``fit``).
MAX_DRAWS_PER_BUDGET = 50

Selection = Literal["auto", "cross_fit", "holdout"]


class CrossFitSurrogateShapley(ShapleyEstimator):
    """SurrogateSHAP with a cross-fitted residual correction: consistent as the budget grows.

    Args:
        budget: Distinct utility evaluations: ∅, N and ``budget − 2`` sampled coalitions. A game
            with at most ``budget`` coalitions is enumerated and valued exactly.
        seed: Seed for sampling, folds, CatBoost and the bootstrap.
        n_folds: Cross-fitting folds (at least 2); each costs one CatBoost fit per candidate depth.
        depth: Tree depth, or ``"auto"`` to pick from ``depth_candidates`` by out-of-fold error.
        depth_candidates: Depths tried by ``"auto"``.
        selection: How ``"auto"`` compares depths: ``"cross_fit"`` fits every fold at every
            candidate depth (``n_folds`` × candidates full fits); ``"holdout"`` fits each
            candidate once, on all folds but one at ``selection_iterations``, scores it on that
            fold, then cross-fits the chosen depth only (candidates + ``n_folds`` fits, the first
            ones short); ``"auto"`` (default) cross-fits small tables and holds out one fold once
            the table passes ``SELECTION_CELLS`` cells.
        selection_iterations: CatBoost iterations of the held-out depth search.
        iterations, learning_rate, l2_leaf_reg: CatBoost hyper-parameters.
        n_bootstrap: Resamples of the residual regression for ``stderr_`` (0: ``stderr_`` None).
        weighting: ``"stratified"`` (default) or ``"draws"``: how the residual regression weighs
            the sampled coalitions (see ``_weights``).
        thread_count: CatBoost threads.
        progress: Optional ``progress(stage, done, total)`` callback.

    Attributes (besides the base class's):
        tree_values_: mean_k φ(g_k), the anchored surrogates' exact values.
        residual_values_: The KernelSHAP values of the out-of-fold residual game.
        depth_: The tree depth used.
        depth_errors_: Mean squared held-out error of each candidate depth (the comparison the
            depth search made; empty when the depth was given).
        selection_: ``"cross_fit"``, ``"holdout"`` or ``"given"`` (how the depth was chosen).
        n_model_fits_: CatBoost fits made (a constant-target fit counts too).
        oof_r2_: Out-of-fold R² of the surrogates on the sampled coalitions (None if enumerated).
        n_draws_: Kernel draws behind the sample (repeats included).
        exhaustive_: True when the game was small enough to enumerate.
    """

    def __init__(
        self,
        budget: int = 2048,
        seed: int | None = 0,
        n_folds: int = 5,
        depth: int | Literal["auto"] = "auto",
        depth_candidates: tuple[int, ...] = (2, 3, 4),
        selection: Selection = "auto",
        selection_iterations: int = SELECTION_ITERATIONS,
        iterations: int = 500,
        learning_rate: float = 0.1,
        l2_leaf_reg: float = 3.0,
        n_bootstrap: int = 100,
        weighting: Literal["stratified", "draws"] = "stratified",
        thread_count: int = 1,
        progress: Progress | None = None,
    ) -> None:
        self.budget = budget
        self.seed = seed
        self.n_folds = n_folds
        self.depth = depth
        self.depth_candidates = depth_candidates
        self.selection = selection
        self.selection_iterations = selection_iterations
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.l2_leaf_reg = l2_leaf_reg
        self.n_bootstrap = n_bootstrap
        self.weighting = weighting
        self.thread_count = thread_count
        self.progress = progress

    def fit(self, game: Game) -> Self:
        counter = self._start(game)
        n = counter.n_players
        budget = check_budget(
            self.budget, MIN_BUDGET, "CrossFitSurrogateShapley", "∅, N and 14 coalitions"
        )
        if isinstance(self.n_folds, bool) or not isinstance(self.n_folds, int) or self.n_folds < 2:
            raise EngineInputError(f"n_folds must be an integer of at least 2, got {self.n_folds}.")
        if self.weighting not in ("stratified", "draws"):
            raise EngineInputError(
                f"weighting must be 'stratified' or 'draws', got {self.weighting!r}."
            )
        if self.n_bootstrap == 1 or self.n_bootstrap < 0:
            raise EngineInputError("n_bootstrap must be 0 or at least 2 to give a spread.")
        if self.selection not in get_args(Selection):
            raise EngineInputError(
                f"selection must be one of {', '.join(get_args(Selection))}, got "
                f"{self.selection!r}."
            )
        self.n_model_fits_ = 0
        self.depth_errors_: dict[int, float] = {}
        rng = np.random.default_rng(self.seed)
        baseline, grand = counter(endpoint_masks(n))
        self.exhaustive_ = n < 62 and 2**n <= budget
        if self.exhaustive_:
            utilities = counter(enumerate_masks(n))
            self._set_exhaustive(n)
            self._finish(counter, shapley_from_table(utilities, n), np.zeros(n), baseline, grand)
            return self
        draws = self._draw(n, budget - 2, rng)
        report(self.progress, "evaluate", 0, 1)
        unique, inverse, counts = _distinct_rows(draws)
        targets = counter(unique) - baseline
        report(self.progress, "evaluate", 1, 1)
        groups = _pair_groups(unique)
        folds = rng.permutation(int(groups.max()) + 1)[groups] % self.n_folds
        total = grand - baseline
        models, residuals = self._cross_fit(unique, targets, folds, total)
        tree_values = np.mean([_anchored_shapley(model, n) for model in models], axis=0)
        residual_total = total - float(tree_values.sum())
        weights = self._weights(unique, counts.astype(np.float64))
        residual_values = solve_efficient_regression(unique, residuals, residual_total, weights)
        stderr = None
        if self.n_bootstrap > 0:
            stderr = self._bootstrap(unique, residuals, residual_total, inverse, rng)
        self.tree_values_ = np.asarray(tree_values, dtype=np.float64)
        self.residual_values_ = residual_values
        self.models_: list[Any] = models
        self.n_draws_ = len(inverse)
        self.masks_ = unique
        self._finish(counter, tree_values + residual_values, stderr, baseline, grand)
        return self

    def _set_exhaustive(self, n: int) -> None:
        self.tree_values_ = np.zeros(n)
        self.residual_values_ = np.zeros(n)
        self.models_ = []
        self.depth_ = 0
        self.selection_ = "given"
        self.oof_r2_: float | None = None
        self.n_draws_ = 2**n

    def _draw(self, n: int, n_distinct: int, rng: np.random.Generator) -> NDArray[np.bool_]:
        """Paired kernel draws (with replacement) up to ``n_distinct`` distinct coalitions."""
        batches: list[NDArray[np.bool_]] = []
        seen: set[bytes] = set()
        drawn = 0
        while len(seen) < n_distinct and drawn < MAX_DRAWS_PER_BUDGET * (n_distinct + 2):
            batch = sample_coalitions(
                n, 2 * max(n_distinct, 8), strategy="kernel", seed=rng, paired=True
            )
            keep = 0
            for pair in range(0, len(batch), 2):
                keys = pack_masks(batch[pair : pair + 2])
                new = {key for key in keys if key not in seen}
                if len(seen) + len(new) > n_distinct:
                    break
                seen.update(new)
                keep = pair + 2
                if len(seen) == n_distinct:
                    break
            batches.append(batch[:keep])
            drawn += len(batch)
            if keep < len(batch):
                break
        return np.concatenate(batches)

    def _cross_fit(
        self,
        masks: NDArray[np.bool_],
        targets: NDArray[np.float64],
        folds: NDArray[np.intp],
        total: float,
    ) -> tuple[list[Any], NDArray[np.float64]]:
        """Fold surrogates of the best depth and the out-of-fold residuals of ``targets``."""
        auto = self.depth == "auto"
        candidates = tuple(self.depth_candidates) if auto else (int(self.depth),)
        if not candidates or any(not 1 <= d <= 16 for d in candidates):
            raise EngineInputError(f"tree depths must lie in 1..16, got {candidates}.")
        self.selection_ = "given" if len(candidates) == 1 else self.selection
        if self.selection_ == "auto":
            cells = masks.shape[0] * masks.shape[1]
            self.selection_ = "holdout" if cells > SELECTION_CELLS else "cross_fit"
        if self.selection_ == "holdout":
            candidates = (self._holdout_depth(masks, targets, folds, total, candidates),)
        best: tuple[float, int, list[Any], NDArray[np.float64]] | None = None
        for depth in sorted(candidates):
            models, residuals = [], np.empty(len(targets))
            for fold in range(self.n_folds):
                train, test = folds != fold, folds == fold
                model = self._fit_fold(masks[train], targets[train], total, depth, self.iterations)
                if test.any():
                    residuals[test] = targets[test] - model.predict(masks[test].astype(np.float64))
                models.append(model)
                report(self.progress, f"cross-fit (depth {depth})", fold + 1, self.n_folds)
            error = float(np.mean(residuals**2))
            if self.selection_ == "cross_fit":
                self.depth_errors_[depth] = error
            # A deeper tree must beat the shallower one clearly: ties go to the simpler surrogate.
            if best is None or error < best[0] * (1.0 - 1e-3):
                best = (error, depth, models, residuals)
        assert best is not None
        error, self.depth_, models, residuals = best
        spread = float(np.var(targets))
        self.oof_r2_ = 1.0 - error / spread if spread > 0 else (1.0 if error == 0 else 0.0)
        return models, residuals

    def _fit_fold(
        self,
        masks: NDArray[np.bool_],
        targets: NDArray[np.float64],
        total: float,
        depth: int,
        iterations: int,
    ) -> Any:
        """A surrogate of ``targets`` on ``masks`` with ∅ → 0 and N → ``total`` in training."""
        n = masks.shape[1]
        self.n_model_fits_ += 1
        return fit_tree_surrogate(
            np.concatenate([endpoint_masks(n), masks]),
            np.concatenate([np.array([0.0, total]), targets]),
            depth=depth,
            iterations=iterations,
            learning_rate=self.learning_rate,
            l2_leaf_reg=self.l2_leaf_reg,
            seed=self.seed,
            thread_count=self.thread_count,
        )

    def _holdout_depth(
        self,
        masks: NDArray[np.bool_],
        targets: NDArray[np.float64],
        folds: NDArray[np.intp],
        total: float,
        candidates: tuple[int, ...],
    ) -> int:
        """The candidate depth with the least error on fold 0, each fitted once on the other
        folds at ``selection_iterations`` (ties go to the shallower tree)."""
        train, test = folds != 0, folds == 0
        if not test.any() or not train.any():  # too few coalitions to hold any out
            return min(candidates)
        iterations = max(1, min(int(self.selection_iterations), self.iterations))
        best: tuple[float, int] | None = None
        for index, depth in enumerate(sorted(candidates)):
            model = self._fit_fold(masks[train], targets[train], total, depth, iterations)
            predicted = model.predict(masks[test].astype(np.float64))
            error = float(np.mean((targets[test] - predicted) ** 2))
            self.depth_errors_[depth] = error
            if best is None or error < best[0] * (1.0 - 1e-3):
                best = (error, depth)
            report(self.progress, "depth search (held-out fold)", index + 1, len(candidates))
        assert best is not None
        return best[1]

    def _weights(
        self, masks: NDArray[np.bool_], counts: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Regression weights of the distinct rows drawn ``counts`` times each.

        ``"draws"``: the counts (the plain kernel sample). ``"stratified"``: each size k gets
        exactly its kernel probability p(k), shared equally by its distinct drawn coalitions.
        Within a size the kernel is uniform, so the distinct coalitions of that size are a
        uniform random subset and their plain mean is unbiased for the size's mean; fixing each
        size's weight removes the randomness of how often each size came up (and a size whose
        every coalition was drawn is then weighted exactly, like shapiq's border trick).
        """
        if self.weighting == "draws":
            return counts
        n = masks.shape[1]
        sizes = masks.sum(axis=1)
        present = counts > 0
        per_size = np.bincount(sizes[present], minlength=n + 1).astype(np.float64)
        probabilities = kernel_size_probabilities(n)
        weights = np.where(present, probabilities[sizes] / np.maximum(per_size[sizes], 1.0), 0.0)
        return np.asarray(weights * len(masks), dtype=np.float64)

    def _bootstrap(
        self,
        masks: NDArray[np.bool_],
        residuals: NDArray[np.float64],
        total: float,
        inverse: NDArray[np.intp],
        rng: np.random.Generator,
    ) -> NDArray[np.float64]:
        """Spread of the residual regression over resampled draw pairs (surrogates held fixed).

        The sampling unit is a *draw* of a complementary pair, not a distinct coalition: a
        coalition the kernel drew many times carries that many independent units.
        """
        pair_of_draw = np.arange(len(inverse)) // 2
        n_pairs = int(pair_of_draw[-1]) + 1
        draws = np.empty((self.n_bootstrap, masks.shape[1]))
        for b in range(self.n_bootstrap):
            multiplicity = np.bincount(rng.integers(0, n_pairs, n_pairs), minlength=n_pairs)
            weights = np.asarray(
                np.bincount(
                    inverse,
                    weights=multiplicity[pair_of_draw].astype(np.float64),
                    minlength=len(masks),
                ),
                dtype=np.float64,
            )
            draws[b] = solve_efficient_regression(
                masks, residuals, total, self._weights(masks, weights)
            )
            report(self.progress, "bootstrap", b + 1, self.n_bootstrap)
        return np.asarray(draws.std(axis=0, ddof=1), dtype=np.float64)


def _anchored_shapley(model: Any, n_players: int) -> NDArray[np.float64]:
    """Shapley values of g(S) = f(1_S) for S ≠ ∅ and g(∅) = 0 (the targets' own v(∅)).

    A tree rarely predicts the one ∅ row it was trained on, and regressing the residual game on an
    offset f(∅) would cost accuracy. Moving g(∅) from f(∅) to 0 adds the game −f(∅)·[S = ∅], whose
    Shapley value is f(∅)/n for every player (each player's only non-zero marginal contribution is
    the one to ∅, weight 1/n), so it is added exactly.
    """
    empty = float(model.predict(np.zeros((1, n_players)))[0])
    return np.asarray(surrogate_shapley(model, n_players) + empty / n_players, dtype=np.float64)


def _distinct_rows(
    masks: NDArray[np.bool_],
) -> tuple[NDArray[np.bool_], NDArray[np.intp], NDArray[np.int64]]:
    """Distinct rows of ``masks``, the index of each row's distinct row, and each one's count."""
    packed = np.packbits(masks, axis=1)
    _, first, inverse, counts = np.unique(
        packed, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    return masks[first], inverse.reshape(-1), counts.astype(np.int64)


def _pair_groups(masks: NDArray[np.bool_]) -> NDArray[np.intp]:
    """A group id per row such that a coalition and its complement share one (the fold unit)."""
    own = np.packbits(masks, axis=1)
    complement = np.packbits(~masks, axis=1)
    keys = [min(a.tobytes(), b.tobytes()) for a, b in zip(own, complement, strict=True)]
    _, ids = np.unique(np.array(keys, dtype=object), return_inverse=True)
    return np.asarray(ids, dtype=np.intp).reshape(-1)
