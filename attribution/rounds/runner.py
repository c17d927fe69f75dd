"""The bridge from a frozen round configuration to ``attribution.engine.run_round``.

``run_engine(config, progress)`` is what a worker calls; tests inject a fake with the same
signature. It returns plain numbers (``EngineOutcome``), never Django objects.

``generate_contributor_bank(config, key, progress)`` is the unit of work of a distributed round:
one contributor's sample bank, put in the artefact store under the very key ``run_engine`` looks
it up by, so the valuation stage that follows finds every bank and generates nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from attribution.engine.generation import GenerationBackend

EngineProgress = Callable[[str, int, int], None]


class EngineUnavailableError(RuntimeError):
    """The configuration asks for something this installation cannot run; the message says why."""


@dataclass
class EngineOutcome:
    """Per-contributor results of a round, keyed by contributor key."""

    values: dict[str, float]
    stderr: dict[str, float] | None
    ci: dict[str, tuple[float, float]] | None
    exact_values: dict[str, float] | None
    baseline: float
    grand_value: float
    diagnostics: dict[str, Any] = field(default_factory=dict)


RoundEngine = Callable[[dict[str, Any], EngineProgress], EngineOutcome]
BankRunner = Callable[[dict[str, Any], str, EngineProgress], bool]
"""``bank_runner(config, contributor_key, progress) -> generated``: False if the bank was stored."""


def generate_contributor_bank(
    config: dict[str, Any],
    key: str,
    progress: EngineProgress | None = None,
    *,
    backend: GenerationBackend[Any] | None = None,
) -> bool:
    """Put contributor ``key``'s sample bank in the artefact store; True if it was generated.

    Idempotent: a bank already stored (a redelivered or repeated unit) is found and nothing is
    generated. ``backend`` defaults to the one ``run_engine`` would build from ``config``.

    Raises:
        EngineUnavailableError: The configuration's model cannot run here.
        KeyError: ``key`` is not one of the configuration's contributors.
    """
    from attribution.engine.run import ContributorInput, generate_banks
    from attribution.engine.store import ArtefactStore

    entry = next((c for c in config["contributors"] if c["key"] == key), None)
    if entry is None:
        raise KeyError(f"contributor {key!r} is not in the round's configuration.")
    watched = _WatchedBackend(backend if backend is not None else load_models(config)[0])
    generate_banks(
        [ContributorInput(entry["key"], entry["conditions"], entry["n_records"])],
        watched,
        n_samples=config["n_samples"],
        seed=config["seed"],
        store=ArtefactStore(settings.ENGINE_CACHE_DIR),
        progress=progress,
    )
    return watched.generated


def load_models(config: dict[str, Any]) -> tuple[GenerationBackend[Any], Any]:
    """The generation backend and the featurizer of a round's model, on ``config["device"]``.

    Raises:
        EngineUnavailableError: The model kind is not supported by this installation.
    """
    from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS, load_digits_models

    model = config["model"]
    if model["kind"] != "builtin_digits":
        raise EngineUnavailableError(
            f"model kind {model['kind']!r} needs a featurizer and reference data configured for "
            "it; this installation values the built-in digits model only so far."
        )
    weights = Path(model["path"]) if model["path"] else SHIPPED_WEIGHTS
    backend, classifier, _ = load_digits_models(weights, config["device"])
    return backend, classifier


def run_engine(config: dict[str, Any], progress: EngineProgress) -> EngineOutcome:
    """Run a round's configuration through the attribution engine."""
    from attribution.engine.demos.digits.data import load_digit_images
    from attribution.engine.demos.digits.demo import digits_metrics, digits_scorers
    from attribution.engine.estimators import (
        ExactShapley,
        KernelShapley,
        LeaveOneOut,
        PermutationShapley,
        ShapleyEstimator,
        SurrogateShapley,
    )
    from attribution.engine.run import ContributorInput, run_round
    from attribution.engine.store import ArtefactStore

    backend, classifier = load_models(config)
    real_images, _ = load_digit_images()
    metrics, empty_values = digits_metrics(classifier(real_images))
    metric = config["metric"]
    if metric not in metrics:
        raise EngineUnavailableError(f"metric {metric!r} is not available for the digits model.")
    contributors = [
        ContributorInput(c["key"], c["conditions"], c["n_records"]) for c in config["contributors"]
    ]
    scorers = digits_scorers([c.get("labels", []) for c in config["contributors"]])
    budget, seed, n_bootstrap = config["budget"], config["seed"], config["n_bootstrap"]
    factories: dict[str, Callable[[], ShapleyEstimator]] = {
        "surrogate": lambda: SurrogateShapley(budget=budget, seed=seed, n_bootstrap=n_bootstrap),
        "kernel": lambda: KernelShapley(budget=budget, seed=seed, n_bootstrap=max(n_bootstrap, 2)),
        "permutation": lambda: PermutationShapley(budget=budget, seed=seed),
        "exact": ExactShapley,
        "loo": LeaveOneOut,
    }
    result = run_round(
        contributors,
        backend,
        classifier,
        {metric: metrics[metric]},
        n_samples=config["n_samples"],
        seed=seed,
        scorers=scorers,
        empty_values=empty_values,
        estimator=factories[config["estimator"]],
        exact=config["estimator"] != "exact" and len(contributors) <= 12,
        store=ArtefactStore(settings.ENGINE_CACHE_DIR),
        progress=progress,
    )
    valuation = result.valuations[metric]
    keys = result.keys
    interval = valuation.confidence_interval()
    estimator: Any = valuation.estimator
    diagnostics: dict[str, Any] = {
        "n_evaluations": valuation.n_evaluations,
        "efficiency_gap": float(estimator.efficiency_gap_),
        "timings": result.timings,
    }
    if isinstance(estimator, SurrogateShapley):
        diagnostics.update(
            cv_r2=estimator.cv_r2_,
            raw_efficiency_gap=estimator.raw_efficiency_gap_,
            depth=estimator.depth_,
            observed=estimator.utilities_.tolist(),
            predicted=[None if p != p else float(p) for p in estimator.cv_predictions_],
            convergence=surrogate_convergence(estimator, keys),
        )
    return EngineOutcome(
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
        diagnostics=diagnostics,
    )


def surrogate_convergence(estimator: Any, keys: list[str]) -> dict[str, Any]:
    """Values refitted on the first 25%, 50%, 75% and all evaluated coalitions (same depth).

    Shows whether the values have settled as coalitions were added; costs four CatBoost fits.
    """
    from attribution.engine.estimators import SurrogateShapley

    masks, utilities = estimator.masks_, estimator.utilities_
    inner = len(masks) - 2  # rows 0 and 1 are ∅ and N
    counts = sorted(
        {max(4, round(inner * f)) for f in (0.25, 0.5, 0.75, 1.0)} & set(range(inner + 1))
    )
    values: dict[str, list[float]] = {key: [] for key in keys}
    for count in counts:
        refit = SurrogateShapley(seed=estimator.seed, depth=estimator.depth_, cv_folds=0)
        refit.fit_table(masks[: count + 2], utilities[: count + 2])
        for key, value in zip(keys, refit.values_, strict=True):
            values[key].append(float(value))
    return {"n_coalitions": [count + 2 for count in counts], "values": values}


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
