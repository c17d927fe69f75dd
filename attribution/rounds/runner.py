"""The bridge from a round's frozen configuration to ``attribution.engine.run_round``.

``run_engine(config, progress)`` is what a worker calls; tests inject a fake with the same
signature. It composes the engine's registries — the model version's profile, the metric and
estimator catalogs — and returns plain numbers (``RoundOutcome``), never Django objects.

``generate_contributor_bank(config, key, progress)`` is the unit of work of a distributed round:
one contributor's sample bank, put in the artefact store under the very key ``run_engine`` looks
it up by, so the valuation stage that follows finds every bank and generates nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from attribution.rounds.config import ContributorConfig, RoundConfig
from attribution.rounds.outcome import (
    BankNoiseReport,
    Convergence,
    Diagnostics,
    RoundOutcome,
    SurrogateFit,
    ToleranceReport,
)

if TYPE_CHECKING:
    from attribution.engine.generation import GenerationBackend
    from attribution.engine.profiles import RoundSpec
    from attribution.engine.run import ContributorInput, Valuation
    from attribution.engine.valuation.bank_growth import GrowthDecision
    from attribution.engine.valuation.round_noise import RoundNoise

EngineProgress = Callable[[str, int, int], None]

RoundEngine = Callable[[RoundConfig, EngineProgress], RoundOutcome]
BankRunner = Callable[[RoundConfig, str, EngineProgress], bool]
"""``bank_runner(config, contributor_key, progress) -> generated``: False if the bank was stored."""

EXACT_CROSS_CHECK_MAX_PLAYERS = 12
"""Rounds this small also get exact values of the same game beside the estimate (2^n games)."""


def generate_contributor_bank(
    config: RoundConfig,
    key: str,
    progress: EngineProgress | None = None,
    *,
    backend: GenerationBackend[Any] | None = None,
) -> bool:
    """Put contributor ``key``'s sample bank in the artefact store; True if it was generated.

    Idempotent: a bank already stored (a redelivered or repeated unit) is found and nothing is
    generated. ``backend`` defaults to the model profile's.

    Raises:
        EngineInputError: The configuration's model cannot be loaded here.
        KeyError: ``key`` is not one of the configuration's contributors.
    """
    from attribution.engine.profiles import get_profile
    from attribution.engine.run import generate_banks
    from attribution.engine.store import ArtefactStore

    contributor = config.contributor(key)
    if backend is None:
        backend = get_profile(config.model.kind).load(config.engine_model).backend
    watched = _WatchedBackend(backend)
    generate_banks(
        [_engine_input(contributor)],
        watched,
        n_samples=config.n_samples,
        seed=config.seed,
        store=ArtefactStore(settings.ENGINE_CACHE_DIR),
        progress=progress,
    )
    return watched.generated


def run_engine(config: RoundConfig, progress: EngineProgress) -> RoundOutcome:
    """Run a round's configuration through the attribution engine."""
    from attribution.engine.estimators.catalog import get_estimator
    from attribution.engine.profiles import get_profile
    from attribution.engine.run import run_round
    from attribution.engine.store import ArtefactStore
    from attribution.engine.valuation import PayoutTolerance
    from attribution.engine.valuation.bank_growth import BankGrowth
    from attribution.engine.valuation.round_noise import NoiseOptions

    model = get_profile(config.model.kind).load(config.engine_model)
    setup = model.metric_setup(config.metric, round_spec(config))
    estimator = get_estimator(config.estimator)
    tolerance = PayoutTolerance(config.payout_tolerance)
    seconds = float(settings.ENGINE_VALUATION_SECONDS)
    measures_noise = config.n_bootstrap >= 2 and estimator.is_shapley
    result = run_round(
        [_engine_input(contributor) for contributor in config.contributors],
        model.backend,
        model.featurizer,
        {config.metric: setup.metric},
        n_samples=config.n_samples,
        seed=config.seed,
        scorers=setup.scorers,
        empty_values={config.metric: setup.empty_value},
        estimator=lambda: estimator.build(
            config.budget,
            config.seed,
            config.n_bootstrap,
            tolerance=tolerance,
            time_budget_s=seconds,
        ),
        exact=config.estimator != "exact"
        and len(config.contributors) <= EXACT_CROSS_CHECK_MAX_PLAYERS,
        noise=NoiseOptions(
            tolerance=tolerance,
            replicates=config.n_bootstrap,
            time_budget_s=seconds,
            seed=config.seed,
        )
        if measures_noise
        else None,
        growth=BankGrowth(config.max_samples, targeted=config.targeted_growth)
        if measures_noise and config.max_samples is not None
        else None,
        store=ArtefactStore(settings.ENGINE_CACHE_DIR),
        progress=progress,
    )
    return outcome_of(
        result.valuations[config.metric], result.keys, result.timings, growth=result.growth
    )


def outcome_of(
    valuation: Valuation,
    keys: list[str],
    timings: dict[str, float],
    *,
    growth: GrowthDecision | None = None,
) -> RoundOutcome:
    """The web side's outcome of one metric's valuation (and of its banks' growth, if any)."""
    from attribution.engine.convergence import surrogate_convergence
    from attribution.engine.estimators import SurrogateShapley
    from attribution.engine.valuation import ToleranceShapley

    estimator: Any = valuation.estimator
    surrogate = convergence = tolerance = None
    if isinstance(estimator, ToleranceShapley):
        chosen = estimator.valuation_
        achieved = chosen.achieved_points
        tolerance = ToleranceReport(
            estimator=chosen.estimator,
            reason=chosen.reason,
            achieved_points=achieved if math.isfinite(achieved) else None,
            met=chosen.met,
        )
    if isinstance(estimator, SurrogateShapley):
        surrogate = SurrogateFit(
            cv_r2=estimator.cv_r2_,
            raw_efficiency_gap=float(estimator.raw_efficiency_gap_),
            depth=estimator.depth_,
            observed=[float(u) for u in estimator.utilities_],
            predicted=[None if p != p else float(p) for p in estimator.cv_predictions_],
        )
        convergence = Convergence(*surrogate_convergence(estimator, keys))
    interval = valuation.confidence_interval()
    bank_noise = None
    if valuation.noise is not None:
        measured = valuation.noise
        miss_points = None if measured.plan is None else measured.plan.miss_points
        bank_noise = BankNoiseReport(
            replicates=0 if measured.noise is None else int(measured.noise.values.shape[0]),
            samples_per_contributor=None
            if measured.noise is None
            else int(measured.noise.n_samples.min()),
            largest_bank=None if measured.noise is None else int(measured.noise.n_samples.max()),
            required_total=_required_total(measured),
            grown_contributors=None
            if growth is None or not growth.grows
            else sum(count > 0 for count in growth.extra_samples(len(keys))),
            bank_points=_finite_or_none(measured.bank_points),
            combined_points=_finite_or_none(measured.combined_points),
            required_k=None if measured.plan is None else measured.plan.required_k,
            met=miss_points is not None and miss_points <= 0,
            drivers=[keys[i] for i in measured.drivers],
            reason=measured.reason,
            requested_k=None if growth is None else growth.from_k,
            growth=None if growth is None else growth.reason,
        )
    return RoundOutcome(
        values=dict(zip(keys, map(float, valuation.values), strict=True)),
        stderr=None
        if valuation.stderr is None
        else dict(zip(keys, map(float, valuation.stderr), strict=True)),
        ci=None
        if interval is None
        else {k: (float(lo), float(hi)) for k, (lo, hi) in zip(keys, interval, strict=True)},
        exact_values=None
        if valuation.exact_values is None
        else dict(zip(keys, map(float, valuation.exact_values), strict=True)),
        baseline=valuation.baseline,
        grand_value=valuation.grand_value,
        diagnostics=Diagnostics(
            n_evaluations=valuation.n_evaluations,
            efficiency_gap=float(estimator.efficiency_gap_),
            timings=dict(timings),
            surrogate=surrogate,
            convergence=convergence,
            tolerance=tolerance,
            bank_noise=bank_noise,
        ),
    )


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def round_spec(config: RoundConfig) -> RoundSpec:
    """What the model profile needs of the round to set its metric up."""
    from attribution.engine.profiles import ContributorSpec, RoundSpec

    return RoundSpec(
        [ContributorSpec(c.key, c.conditions, c.labels) for c in config.contributors],
        n_samples=config.n_samples,
        seed=config.seed,
    )


def _engine_input(contributor: ContributorConfig) -> ContributorInput:
    from attribution.engine.run import ContributorInput

    return ContributorInput(contributor.key, list(contributor.conditions), contributor.n_records)


@dataclass
class _WatchedBackend:
    """Delegates to a generation backend and notes whether it was asked to generate."""

    inner: GenerationBackend[Any]
    generated: bool = False

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.generated = True
        return self.inner.generate(*args, **kwargs)


def _required_total(measured: RoundNoise) -> int | None:
    """Samples in all that meet the tolerance with a targeted growth: each bank at its own
    share's need and at least the default floor of the largest (None: not measured, or no size
    is enough)."""
    from attribution.engine.valuation.bank_growth import DEFAULT_FLOOR

    if measured.plan is None or measured.noise is None:
        return None
    if not all(math.isfinite(float(need)) for need in measured.plan.per_contributor_k):
        return None
    needs = [math.ceil(float(need) - 1e-9) for need in measured.plan.per_contributor_k]
    sizes = [int(k) for k in measured.noise.n_samples]
    floor = math.ceil(DEFAULT_FLOOR * max(needs))  # as decide_growth sets it
    return sum(max(k, need, floor) for k, need in zip(sizes, needs, strict=True))
