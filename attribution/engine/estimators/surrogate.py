"""SurrogateSHAP (arXiv 2601.22276): Shapley values of a gradient-boosted tree fitted to the game.

Evaluate the game on sampled coalitions plus ∅ and N, fit a CatBoost regressor f on the coalition
indicators, and take the exact Shapley values of the tree game g(S) = f(1_S) (interventional
TreeSHAP against an all-zeros background, explained at the all-ones point).

Beyond the reference implementation:

* **Efficiency.** f need not interpolate v at ∅ and N, so Σφ_tree = f(N) − f(∅) ≠ v(N) − v(∅) in
  general; that raw gap is reported (``raw_efficiency_gap_``). The returned values are the Shapley
  values of f *patched* to equal v at ∅ and N: patching a game at N adds the same amount to every
  player and patching it at ∅ subtracts the same amount from every player, so the correction adds
  (v(N) − v(∅) − Σφ_tree)/n to each value (``efficiency="uniform"``; it is also the L2-closest point
  on the efficiency hyperplane). ``efficiency="none"`` returns the raw tree values.
* **Fidelity.** ``cv_r2_`` is the out-of-sample R² of the surrogate by k-fold cross-validation over
  the evaluated coalitions (∅ and N always stay in training).
* **Uncertainty.** ``n_bootstrap`` refits on bootstrap resamples of the evaluated coalitions give
  ``stderr_`` and ``bootstrap_values_``; they capture the surrogate's variance, not its bias.
* **Bias correction.** ``bias_correction=True`` adds the KernelSHAP estimate of the residual game
  r = v − f, solved on the same evaluations (importance-weighted to the Shapley kernel, with the
  efficiency constraint Σφ_r = v(N) − v(∅) − Σφ_tree), so no extra utility calls are made and
  efficiency holds by construction. Residuals are in-sample, so the correction is conservative.
"""

from __future__ import annotations

from typing import Any, Literal, Self, get_args

import numpy as np
from numpy.typing import NDArray

from attribution.engine.coalitions import Strategy, sample_coalitions, support_size
from attribution.engine.errors import EngineInputError
from attribution.engine.estimators.base import ShapleyEstimator, check_budget, endpoint_masks
from attribution.engine.estimators.regression import (
    count_distinct,
    kernel_importance_weights,
    solve_efficient_regression,
)
from attribution.engine.estimators.tree_shapley import tree_game_shapley
from attribution.engine.games.base import Game, check_masks, check_utilities
from attribution.engine.progress import Progress, report

Efficiency = Literal["uniform", "none"]
Selection = Literal["auto", "cross_validation", "holdout"]
MIN_SAMPLED = 4
SELECTION_CELLS = 2**15
"""``selection="auto"`` holds out one fold instead of cross-validating every candidate depth once
the table of evaluated coalitions holds more than this many coalition × player cells (256
coalitions of 128 players): there one CatBoost fit costs seconds (it grows with n), and the full
search is ``cv_folds`` × candidates + 1 of them (16 by default)."""
SELECTION_ITERATIONS = 200
"""CatBoost iterations of the held-out depth search (the chosen depth is then fitted in full)."""


class SurrogateShapley(ShapleyEstimator):
    """SurrogateSHAP with exact efficiency, CV fidelity, bootstrap errors and bias correction.

    Args:
        budget: Utility evaluations: ∅, N and ``budget − 2`` distinct sampled coalitions.
        seed: Seed for coalition sampling, CatBoost, CV folds and the bootstrap.
        strategy: Coalition sampler (see ``sample_coalitions``); the kernel by default.
        paired: Sample coalitions with their complements.
        depth: Tree depth, or ``"auto"`` (default) to pick from ``depth_candidates`` by
            cross-validated R² (ties go to the shallower tree). Depth d trees model interactions
            of up to d players; shallow trees generalise from few coalitions.
        depth_candidates: Depths tried by ``"auto"``.
        selection: How ``"auto"`` compares depths and how ``cv_r2_`` is measured.
            ``"cross_validation"``: every candidate by ``cv_folds``-fold CV at full iterations
            (candidates × folds fits, then the final one). ``"holdout"``: each candidate fitted
            once at ``selection_iterations`` on all folds but one and scored on it; the chosen
            depth is then refitted in full on the same split for ``cv_r2_`` (a held-out R²;
            ``cv_predictions_`` covers that fold only), then the final fit: candidates short fits
            and 2 full ones. ``"auto"`` (default): cross-validation up to ``SELECTION_CELLS``
            evaluated coalition × player cells, holdout above.
        selection_iterations: CatBoost iterations of the held-out depth search.
        iterations, learning_rate, l2_leaf_reg: CatBoost hyper-parameters.
        efficiency: ``"uniform"`` (default) enforces Σφ = v(N) − v(∅); ``"none"`` returns raw
            tree values.
        bias_correction: Add the KernelSHAP estimate of the residual game (see module docstring).
        cv_folds: Folds for ``cv_r2_`` and depth selection (each fold costs one CatBoost fit per
            candidate depth). 0 skips the diagnostic; ``depth="auto"`` then still uses 5 folds.
        n_bootstrap: Bootstrap refits for ``stderr_`` (0 leaves ``stderr_`` None).
        thread_count: CatBoost threads (1: see docs/engineering.md, "Threads").
        progress: Optional ``progress(stage, done, total)`` callback.

    Attributes (besides the base class's):
        raw_values_: Tree-game Shapley values before any correction.
        raw_efficiency_gap_: Σ raw_values_ − (v(N) − v(∅)).
        residual_values_: KernelSHAP values of the residual game (bias correction only).
        depth_: The tree depth used.
        depth_scores_: Cross-validated (or, with holdout selection, held-out at
            ``selection_iterations``) R² of each candidate depth (``depth="auto"`` only).
        selection_: ``"cross_validation"`` or ``"holdout"``: what ran.
        cv_r2_: Cross-validated (holdout: held-out) R² of the surrogate, or None.
        cv_predictions_: Out-of-fold predictions for ``masks_`` rows (NaN for ∅ and N, and for
            the training rows under holdout selection).
        n_model_fits_: CatBoost fits made (bootstrap refits included).
        bootstrap_values_: Shape (n_bootstrap, n_players), or None.
        model_: The fitted CatBoostRegressor.
        masks_, utilities_: The evaluated coalitions and their utilities.
    """

    def __init__(
        self,
        budget: int = 256,
        seed: int | None = 0,
        strategy: Strategy = "kernel",
        paired: bool = True,
        iterations: int = 1000,
        depth: int | Literal["auto"] = "auto",
        depth_candidates: tuple[int, ...] = (2, 3, 4),
        selection: Selection = "auto",
        selection_iterations: int = SELECTION_ITERATIONS,
        learning_rate: float = 0.3,
        l2_leaf_reg: float = 1.0,
        efficiency: Efficiency = "uniform",
        bias_correction: bool = False,
        cv_folds: int = 5,
        n_bootstrap: int = 0,
        thread_count: int = 1,
        progress: Progress | None = None,
    ) -> None:
        self.budget = budget
        self.seed = seed
        self.strategy = strategy
        self.paired = paired
        self.iterations = iterations
        self.depth = depth
        self.depth_candidates = depth_candidates
        self.selection = selection
        self.selection_iterations = selection_iterations
        self.learning_rate = learning_rate
        self.l2_leaf_reg = l2_leaf_reg
        self.efficiency = efficiency
        self.bias_correction = bias_correction
        self.cv_folds = cv_folds
        self.n_bootstrap = n_bootstrap
        self.thread_count = thread_count
        self.progress = progress

    def fit(self, game: Game) -> Self:
        counter = self._start(game)
        n = counter.n_players
        budget = check_budget(
            self.budget, 2 + MIN_SAMPLED, "SurrogateShapley", f"∅, N and {MIN_SAMPLED} coalitions"
        )
        # Deduplicated draws cannot exceed the strategy's support (small games): take them all.
        n_sampled = min(budget - 2, support_size(n, self.strategy))
        sampled = sample_coalitions(
            n,
            n_sampled,
            strategy=self.strategy,
            seed=self.seed,
            paired=self.paired,
            deduplicate=True,
        )
        sampled = sampled[(sampled.any(axis=1)) & (~sampled.all(axis=1))]
        masks = np.concatenate([endpoint_masks(n), sampled])
        report(self.progress, "evaluate", 0, 1)
        utilities = counter(masks)
        report(self.progress, "evaluate", 1, 1)
        self._fit_arrays(masks, utilities)
        self.n_evaluations_ = counter.n_evaluations
        return self

    def fit_table(self, masks: object, utilities: object) -> Self:
        """Value players from coalitions evaluated elsewhere.

        Args:
            masks: Coalitions, shape (m, n), boolean or 0/1; must include ∅ and N (repeated rows
                are allowed: repeated evaluations of a noisy utility).
            utilities: Their utilities, shape (m,).

        Raises:
            EngineInputError: On bad shapes, NaN utilities, or a table without ∅ or N.
        """
        checked = check_masks(masks)
        values = check_utilities(utilities, checked.shape[0])
        if checked.shape[1] < 2:
            raise EngineInputError(
                f"a table needs at least 2 players to share value, got {checked.shape[1]}."
            )
        self._fit_arrays(checked, values)
        self.n_evaluations_ = count_distinct(checked)
        return self

    def _fit_arrays(self, masks: NDArray[np.bool_], utilities: NDArray[np.float64]) -> None:
        n = masks.shape[1]
        empty, grand = ~masks.any(axis=1), masks.all(axis=1)
        if not empty.any() or not grand.any():
            raise EngineInputError(
                "the table must include the empty coalition (all 0) and the grand coalition "
                "(all 1): SurrogateSHAP anchors the values at v(∅) and v(N)."
            )
        inner = np.logical_not(empty | grand)
        if count_distinct(masks[inner]) < MIN_SAMPLED:
            raise EngineInputError(
                f"need at least {MIN_SAMPLED} distinct coalitions besides ∅ and N "
                "to fit a surrogate."
            )
        if self.efficiency not in ("uniform", "none"):
            raise EngineInputError(
                f"efficiency must be 'uniform' or 'none', got {self.efficiency!r}."
            )
        if self.n_bootstrap == 1:
            raise EngineInputError("n_bootstrap must be 0 or at least 2 to give a spread.")
        if self.selection not in get_args(Selection):
            raise EngineInputError(
                f"selection must be one of {', '.join(get_args(Selection))}, got "
                f"{self.selection!r}."
            )
        self.n_model_fits_ = 0
        baseline, grand_value = float(utilities[empty].mean()), float(utilities[grand].mean())
        rng = np.random.default_rng(self.seed)
        self._select_depth(masks, utilities, inner, rng)
        report(self.progress, "surrogate", 0, 1)
        self.model_ = self._fit_model(masks, utilities)
        raw = surrogate_shapley(self.model_, n)
        report(self.progress, "surrogate", 1, 1)
        self.raw_values_ = raw
        self.raw_efficiency_gap_ = float(raw.sum() - (grand_value - baseline))
        self.residual_values_: NDArray[np.float64] | None = None
        values = self._correct(self.model_, raw, masks, utilities, baseline, grand_value)
        if self.bias_correction:
            self.residual_values_ = values - raw
        self.bootstrap_values_ = self._bootstrap(
            masks, utilities, inner, baseline, grand_value, rng
        )
        stderr = (
            None if self.bootstrap_values_ is None else self.bootstrap_values_.std(axis=0, ddof=1)
        )
        self.masks_, self.utilities_ = masks, utilities
        self.values_ = values
        self.stderr_ = stderr
        self.baseline_, self.grand_value_ = baseline, grand_value

    def _select_depth(
        self,
        masks: NDArray[np.bool_],
        utilities: NDArray[np.float64],
        inner: NDArray[np.bool_],
        rng: np.random.Generator,
    ) -> None:
        """Set ``depth_``, ``depth_scores_``, ``cv_predictions_`` and ``cv_r2_``."""
        auto = self.depth == "auto"
        candidates = tuple(self.depth_candidates) if auto else (int(self.depth),)
        if not candidates or any(not 1 <= d <= 16 for d in candidates):
            raise EngineInputError(f"tree depths must lie in 1..16, got {candidates}.")
        rows = np.flatnonzero(inner)
        folds = min(self.cv_folds if self.cv_folds >= 2 or not auto else 5, len(rows))
        self.depth_scores_: dict[int, float] = {}
        self.cv_predictions_ = np.full(len(masks), np.nan)
        self.cv_r2_: float | None = None
        self.depth_ = candidates[0]
        self.selection_ = self.selection
        if self.selection_ == "auto":
            cells = masks.shape[0] * masks.shape[1]
            self.selection_ = "holdout" if cells > SELECTION_CELLS else "cross_validation"
        if folds < 2:
            return
        assignment = rng.permutation(len(rows)) % folds
        if self.selection_ == "holdout":
            self._holdout(masks, utilities, rows, assignment, candidates, auto)
            return
        best: float | None = None
        for depth in sorted(candidates):
            predictions = self._cross_validate(masks, utilities, rows, assignment, depth)
            score = _r2(utilities[rows], predictions[rows])
            self.depth_scores_[depth] = score
            # A deeper tree must beat the shallower one clearly: ties go to the simpler surrogate.
            if best is None or score > best + 1e-3:
                best, self.depth_, self.cv_predictions_ = score, depth, predictions
        self.cv_r2_ = best
        if not auto:
            self.depth_scores_ = {}

    def _holdout(
        self,
        masks: NDArray[np.bool_],
        utilities: NDArray[np.float64],
        rows: NDArray[np.intp],
        assignment: NDArray[np.intp],
        candidates: tuple[int, ...],
        auto: bool,
    ) -> None:
        """Depth by fold 0 held out at ``selection_iterations``; ``cv_r2_`` from the chosen depth
        refitted in full on the same split (skipped when ``cv_folds`` is 0)."""
        test = rows[assignment == 0]
        train = np.setdiff1d(np.arange(len(masks)), test)
        features = masks[test].astype(np.float64)
        if auto and len(candidates) > 1:
            short = max(1, min(int(self.selection_iterations), self.iterations))
            best: float | None = None
            for index, depth in enumerate(sorted(candidates)):
                model = self._fit_model(masks[train], utilities[train], depth, short)
                score = _r2(utilities[test], model.predict(features))
                self.depth_scores_[depth] = score
                if best is None or score > best + 1e-3:
                    best, self.depth_ = score, depth
                report(self.progress, "depth search (held-out fold)", index + 1, len(candidates))
        if self.cv_folds < 2:
            return
        model = self._fit_model(masks[train], utilities[train], self.depth_)
        self.cv_predictions_[test] = model.predict(features)
        self.cv_r2_ = _r2(utilities[test], self.cv_predictions_[test])
        if not auto:
            self.depth_scores_ = {}

    def _fit_model(
        self,
        masks: NDArray[np.bool_],
        utilities: NDArray[np.float64],
        depth: int | None = None,
        iterations: int | None = None,
    ) -> Any:
        self.n_model_fits_ += 1
        return fit_tree_surrogate(
            masks,
            utilities,
            depth=self.depth_ if depth is None else depth,
            iterations=self.iterations if iterations is None else iterations,
            learning_rate=self.learning_rate,
            l2_leaf_reg=self.l2_leaf_reg,
            seed=self.seed,
            thread_count=self.thread_count,
        )

    def _correct(
        self,
        model: Any,
        raw: NDArray[np.float64],
        masks: NDArray[np.bool_],
        utilities: NDArray[np.float64],
        baseline: float,
        grand_value: float,
    ) -> NDArray[np.float64]:
        """Apply the configured efficiency or bias correction to raw tree values."""
        missing = (grand_value - baseline) - raw.sum()
        if self.bias_correction:
            inner = masks.any(axis=1) & ~masks.all(axis=1)
            residuals = utilities[inner] - model.predict(masks[inner].astype(np.float64))
            r_empty = baseline - float(model.predict(np.zeros((1, masks.shape[1])))[0])
            weights = kernel_importance_weights(masks[inner], self.strategy)
            residual_values = solve_efficient_regression(
                masks[inner], residuals - r_empty, missing, weights
            )
            return np.asarray(raw + residual_values, dtype=np.float64)
        if self.efficiency == "uniform":
            return np.asarray(raw + missing / len(raw), dtype=np.float64)
        return raw

    def _cross_validate(
        self,
        masks: NDArray[np.bool_],
        utilities: NDArray[np.float64],
        rows: NDArray[np.intp],
        assignment: NDArray[np.intp],
        depth: int,
    ) -> NDArray[np.float64]:
        """Out-of-fold predictions for ``rows`` (∅ and N always train), NaN elsewhere."""
        predictions = np.full(len(masks), np.nan)
        folds = int(assignment.max()) + 1
        for fold in range(folds):
            test = rows[assignment == fold]
            train = np.setdiff1d(np.arange(len(masks)), test)
            model = self._fit_model(masks[train], utilities[train], depth)
            predictions[test] = model.predict(masks[test].astype(np.float64))
            report(self.progress, f"cross-validation (depth {depth})", fold + 1, folds)
        return predictions

    def _bootstrap(
        self,
        masks: NDArray[np.bool_],
        utilities: NDArray[np.float64],
        inner: NDArray[np.bool_],
        baseline: float,
        grand_value: float,
        rng: np.random.Generator,
    ) -> NDArray[np.float64] | None:
        if self.n_bootstrap <= 0:
            return None
        anchors = np.flatnonzero(~inner)
        rows = np.flatnonzero(inner)
        draws = np.empty((self.n_bootstrap, masks.shape[1]))
        for b in range(self.n_bootstrap):
            chosen = np.concatenate([anchors, rng.choice(rows, size=len(rows), replace=True)])
            model = self._fit_model(masks[chosen], utilities[chosen])
            raw = surrogate_shapley(model, masks.shape[1])
            draws[b] = self._correct(
                model, raw, masks[chosen], utilities[chosen], baseline, grand_value
            )
            report(self.progress, "bootstrap", b + 1, self.n_bootstrap)
        return draws


def fit_tree_surrogate(
    masks: NDArray[np.bool_],
    utilities: NDArray[np.float64],
    *,
    depth: int,
    iterations: int,
    learning_rate: float,
    l2_leaf_reg: float,
    seed: int | None,
    thread_count: int,
    weights: NDArray[np.float64] | None = None,
) -> Any:
    """A CatBoost regressor of ``utilities`` on the 0/1 coalition indicators ``masks``.

    A table whose utilities are all equal gets a :class:`ConstantModel` (CatBoost refuses constant
    targets, and the constant is the exact fit).
    """
    if np.ptp(utilities) == 0.0:
        return ConstantModel(float(utilities[0]))
    from catboost import CatBoostRegressor  # heavy; only when a surrogate is fitted

    model = CatBoostRegressor(
        iterations=iterations,
        depth=depth,
        learning_rate=learning_rate,
        l2_leaf_reg=l2_leaf_reg,
        random_seed=0 if seed is None else int(seed) % (2**31),
        thread_count=thread_count,
        verbose=False,
        allow_writing_files=False,
    )
    return model.fit(masks.astype(np.float64), utilities, sample_weight=weights)


class ConstantModel:
    """The surrogate of a table whose utilities are all equal: f ≡ ``value``.

    Its tree game is constant, so every player's Shapley value is exactly zero.
    """

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """``value`` for every row of ``features``, shape (m,)."""
        return np.full(len(features), self.value)


def surrogate_shapley(model: Any, n_players: int) -> NDArray[np.float64]:
    """Shapley values of the tree game of ``model``: zeros for a :class:`ConstantModel`."""
    if isinstance(model, ConstantModel):
        return np.zeros(n_players)
    return tree_game_shapley(model, n_players)


def _r2(observed: NDArray[np.float64], predicted: NDArray[np.float64]) -> float:
    """Coefficient of determination; 0 when the observations are constant and predicted exactly."""
    total = float(((observed - observed.mean()) ** 2).sum())
    error = float(((observed - predicted) ** 2).sum())
    if total == 0.0:
        return 1.0 if error == 0.0 else 0.0
    return 1.0 - error / total
