"""The estimator catalog: every Shapley estimator a round or the CLI can name, in one place.

Each entry holds the name stored on a round, a label for people, a factory from the round's
parameters (budget, seed, number of bootstrap refits) to a fresh estimator, and the plain-words
sentences a contributor's statement shows. The round runner, the CLI, the round model's choices,
the API's serializers and the statement all read this one table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from attribution.engine.errors import EngineInputError
from attribution.engine.estimators.base import ShapleyEstimator
from attribution.engine.estimators.crossfit import MIN_BUDGET as CROSSFIT_MIN_BUDGET
from attribution.engine.estimators.crossfit import CrossFitSurrogateShapley
from attribution.engine.estimators.exact import ExactShapley
from attribution.engine.estimators.kernel import KernelShapley
from attribution.engine.estimators.loo import LeaveOneOut
from attribution.engine.estimators.permutation import PermutationShapley, permutation_cost
from attribution.engine.estimators.surrogate import MIN_SAMPLED, SurrogateShapley
from attribution.engine.valuation import PayoutTolerance, ToleranceShapley
from attribution.engine.valuation.selection import DEFAULT_TIME_BUDGET_S


@dataclass(frozen=True)
class EstimatorParams:
    """A round's parameters, as every factory receives them.

    Attributes:
        budget: Coalition evaluations (for the estimators that take a budget).
        seed: Seed of the coalition sampling.
        n_bootstrap: Bootstrap refits (SurrogateSHAP's intervals).
        tolerance: The payout tolerance (the ``tolerance`` estimator sizes itself to it).
        time_budget_s: Wall-clock budget of the ``tolerance`` estimator, per metric.
    """

    budget: int
    seed: int
    n_bootstrap: int
    tolerance: PayoutTolerance = field(default_factory=PayoutTolerance)
    time_budget_s: float = DEFAULT_TIME_BUDGET_S


ROUND_ESTIMATION_SHARE = 0.5
"""A round's ``tolerance`` estimator estimates to half the tolerance's variance (±h/√2): the
round's bank-noise bootstrap measures the other half (docs/money_grade.md)."""

EstimatorFactory = Callable[[EstimatorParams], ShapleyEstimator]
"""``factory(params) -> estimator`` (unfitted)."""


@dataclass(frozen=True)
class EstimatorSpec:
    """One catalog entry.

    Attributes:
        name: The identifier stored on rounds and given to the CLI.
        label: A short human name.
        factory: Builds a fresh estimator from the round's :class:`EstimatorParams`.
        uses_budget: Whether the budget changes what the estimator does.
        method: How the values are estimated, in plain words, one sentence per item. ``{evaluated}``
            stands for "N coalitions" and ``{n_players}`` / ``{n_coalitions_all}`` for the
            number of contributors and 2^n.
        is_shapley: False for estimators whose values are not Shapley values (leave-one-out).
        minimum_budget: The smallest budget it accepts for a number of players, so a round can be
            refused when it is created or started rather than on the worker.
    """

    name: str
    label: str
    factory: EstimatorFactory
    uses_budget: bool
    method: tuple[str, ...]
    is_shapley: bool = True
    minimum_budget: Callable[[int], int] = lambda n_players: 0
    """The fewest coalition evaluations the estimator accepts for ``n_players`` (0: any)."""

    def build(
        self,
        budget: int,
        seed: int,
        n_bootstrap: int,
        *,
        tolerance: PayoutTolerance | None = None,
        time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    ) -> ShapleyEstimator:
        """A fresh, unfitted estimator with the round's parameters."""
        chosen = tolerance or PayoutTolerance()
        return self.factory(EstimatorParams(budget, seed, n_bootstrap, chosen, time_budget_s))

    def explain(self, *, n_evaluations: int | None, n_players: int) -> list[str]:
        """The method sentences with the round's numbers filled in."""
        evaluated = "the sampled coalitions"
        if n_evaluations is not None:
            evaluated = f"{n_evaluations:,} coalitions"
        return [
            line.format(
                evaluated=evaluated, n_players=n_players, n_coalitions_all=f"{2**n_players:,}"
            )
            for line in self.method
        ]


ESTIMATORS: dict[str, EstimatorSpec] = {
    spec.name: spec
    for spec in (
        EstimatorSpec(
            "surrogate",
            "SurrogateSHAP",
            lambda p: SurrogateShapley(budget=p.budget, seed=p.seed, n_bootstrap=p.n_bootstrap),
            uses_budget=True,
            minimum_budget=lambda n_players: 2 + MIN_SAMPLED,
            method=(
                "The metric was evaluated on {evaluated}, and a gradient-boosted tree model (the "
                "surrogate) was fitted to predict a coalition's score from who is in it.",
                "Your value is the exact Shapley value of that surrogate — what you add to a "
                "coalition, averaged over every order in which contributors could join — "
                "computed with TreeSHAP and corrected so that all values add up to the measured "
                "total.",
            ),
        ),
        EstimatorSpec(
            "crossfit",
            "Cross-fit SurrogateSHAP",
            lambda p: CrossFitSurrogateShapley(budget=p.budget, seed=p.seed),
            uses_budget=True,
            minimum_budget=lambda n_players: CROSSFIT_MIN_BUDGET,
            method=(
                "The metric was evaluated on {evaluated}, and a gradient-boosted tree model (the "
                "surrogate) was fitted to predict a coalition's score from who is in it; its "
                "exact Shapley values were then corrected by what it got wrong on coalitions "
                "held out of its fit, so the values close in on the true ones as more "
                "coalitions are evaluated, and they add up to the measured total.",
            ),
        ),
        EstimatorSpec(
            "tolerance",
            "Shapley values to the payout tolerance",
            lambda p: ToleranceShapley(
                percentage_points=p.tolerance.percentage_points,
                level=p.tolerance.level,
                time_budget_s=p.time_budget_s,
                seed=p.seed,
                estimation_variance_share=ROUND_ESTIMATION_SHARE,
            ),
            uses_budget=False,
            method=(
                "The method was chosen to pay every contributor within the round's payout "
                "tolerance (a number of percentage points of the pool, at 95% confidence): exact "
                "values when all 2^{n_players} = "
                "{n_coalitions_all} coalitions could be evaluated in time, otherwise sampling "
                "that stopped once the shares were that precise.",
            ),
        ),
        EstimatorSpec(
            "kernel",
            "KernelSHAP",
            lambda p: KernelShapley(
                budget=p.budget, seed=p.seed, n_bootstrap=max(p.n_bootstrap, 2)
            ),
            uses_budget=True,
            minimum_budget=lambda n_players: n_players + 2,
            method=(
                "KernelSHAP evaluated the metric on {evaluated} drawn at random, weighted them as "
                "the Shapley value does, and solved a regression whose coefficients are the "
                "values, constrained to add up to the measured total.",
            ),
        ),
        EstimatorSpec(
            "permutation",
            "Permutation sampling",
            lambda p: PermutationShapley(budget=p.budget, seed=p.seed),
            uses_budget=True,
            minimum_budget=lambda n_players: 2 + 4 * permutation_cost(n_players),
            method=(
                "Contributors were added one at a time in random orders; your value is the "
                "average gain in the score when your data joined, over {evaluated}.",
            ),
        ),
        EstimatorSpec(
            "exact",
            "Exact (all coalitions)",
            lambda p: ExactShapley(),
            uses_budget=False,
            method=(
                "All 2^{n_players} = {n_coalitions_all} coalitions were evaluated, so your value "
                "is the exact Shapley value: what you add to a coalition, averaged over every "
                "order in which contributors could join.",
            ),
        ),
        EstimatorSpec(
            "loo",
            "Leave-one-out",
            lambda p: LeaveOneOut(),
            uses_budget=False,
            method=(
                "Leave-one-out: your value is how much the score of everyone's data together "
                "drops when your data alone is left out. It is not a Shapley value, so the "
                "values need not add up to the total.",
            ),
            is_shapley=False,
        ),
    )
}


def get_estimator(name: str) -> EstimatorSpec:
    """The catalog entry called ``name``.

    Raises:
        EngineInputError: No estimator has that name; the message lists the known ones.
    """
    spec = ESTIMATORS.get(name)
    if spec is None:
        raise EngineInputError(
            f"unknown estimator {name!r}; choose one of {', '.join(sorted(ESTIMATORS))}."
        )
    return spec
