"""The catalogue's ground truth at 100 shops: the demo's estimators against a long permutation run.

Exact Shapley values of a 100-player game are out of reach, but the proxy game's utilities are
cheap (mixtures of per-shop sufficient statistics), so a long antithetic permutation run of the
*same* proxy game is a reference with its own standard error. ``run_reference`` generates the
banks once (the artefact store keeps them), values the shops with permutation sampling at a large
budget and with each estimator compared — the round's default ("Shapley values to the payout
tolerance", ±0.25 pp) and SurrogateSHAP at the demo's former budget — and reports each one's
relative L2 error and worst share error (percentage points of v(N) − v(∅)) against the reference,
next to the reference's own error scale (‖stderr‖ / ‖reference‖, and its worst stderr in pp).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attribution.engine.demos.catalogue.shops import CatalogueRecipe, make_catalogue, type_prompts
from attribution.engine.demos.catalogue.training import (
    ARTEFACT_PROMPTS,
    CLEAN_PROMPTS,
    GUIDANCE_SCALE,
    SHIPPED_WEIGHTS,
    load_catalogue_models,
)
from attribution.engine.demos.fashion.data import DEFAULT_DIRECTORY, load_fashion_mnist
from attribution.engine.estimators import PermutationShapley, ShapleyEstimator, SurrogateShapley
from attribution.engine.estimators.catalog import get_estimator
from attribution.engine.profiles.base import ContributorSpec, ModelSpec, RoundSpec
from attribution.engine.profiles.text_to_image import TextToImageProfile
from attribution.engine.progress import Progress
from attribution.engine.run import ContributorInput, run_round
from attribution.engine.store import ArtefactStore
from attribution.engine.valuation import PayoutTolerance

METRICS = ("clip_diversity", "artefact_free")
ESTIMATORS = ("tolerance", "surrogate")
"""``tolerance``: the round's default estimator at ±0.25 pp; ``surrogate``: SurrogateSHAP."""
TOLERANCE_SECONDS = 120.0
"""The default round's valuation time budget (the web app's ``ENGINE_VALUATION_SECONDS``)."""


@dataclass(frozen=True)
class ReferenceComparison:
    """One metric and estimator: its error against the long permutation reference.

    Attributes:
        worst_share_points: max_i |φ_i − φ_ref,i| / |v(N) − v(∅)|, in percentage points.
        reference_share_points: The reference's own worst standard error, in the same units.
    """

    metric: str
    estimator: str
    relative_l2_error: float
    reference_relative_stderr: float
    spearman: float
    surrogate_seconds: float
    reference_seconds: float
    reference_evaluations: int
    worst_share_points: float = float("nan")
    reference_share_points: float = float("nan")


def run_reference(
    *,
    weights: Path = SHIPPED_WEIGHTS,
    data_directory: Path = DEFAULT_DIRECTORY,
    n_samples: int = 32,
    n_steps: int = 10,
    budget: int = 2048,
    reference_budget: int = 4_000_000,
    seed: int = 0,
    metrics: tuple[str, ...] = METRICS,
    estimators: tuple[str, ...] = ESTIMATORS,
    store: ArtefactStore | None = None,
    progress: Progress | None = None,
) -> list[ReferenceComparison]:
    """Compare each of ``estimators`` (SurrogateSHAP at ``budget``; the default round's
    estimator) with permutation sampling at ``reference_budget``."""
    from scipy.stats import spearmanr

    models = load_catalogue_models(weights)
    dealt = CatalogueRecipe(**models.record["recipe"]["catalogue"])  # the weights' own shops
    shops = make_catalogue(*load_fashion_mnist(data_directory), dealt)
    spec = ModelSpec(
        kind="text_to_image",
        path=str(models.pipeline),
        conditions="prompt",
        n_steps=n_steps,
        guidance_scale=GUIDANCE_SCALE,
        clip_path=str(models.clip),
        class_prompts=type_prompts(),
        artefact_prompts=ARTEFACT_PROMPTS,
        clean_prompts=CLEAN_PROMPTS,
    )
    loaded = TextToImageProfile().load(spec)
    round_spec = RoundSpec(
        [ContributorSpec(shop.key, list(shop.captions)) for shop in shops], n_samples, seed
    )
    inputs = [ContributorInput(shop.key, list(shop.captions)) for shop in shops]
    makers: dict[str, Callable[[], ShapleyEstimator]] = {
        "surrogate": lambda: SurrogateShapley(budget=budget, seed=seed, n_bootstrap=0),
        "tolerance": lambda: get_estimator("tolerance").build(
            budget, seed, 0, tolerance=PayoutTolerance(), time_budget_s=TOLERANCE_SECONDS
        ),
        "reference": lambda: PermutationShapley(budget=reference_budget, seed=seed + 1),
    }
    comparisons = []
    for metric in metrics:
        setup = loaded.metric_setup(metric, round_spec)
        results = {}
        for name in ("reference", *estimators):
            results[name] = run_round(
                inputs,
                loaded.backend,
                loaded.featurizer,
                {metric: setup.metric},
                n_samples=n_samples,
                seed=seed,
                scorers=setup.scorers,
                empty_values={metric: setup.empty_value},
                estimator=makers[name],
                store=store,
                progress=progress,
            ).valuations[metric]
        reference = results["reference"]
        norm = float(np.linalg.norm(reference.values))
        stderr = reference.stderr if reference.stderr is not None else np.full(len(shops), np.nan)
        total = abs(reference.grand_value - reference.baseline)
        for name in estimators:
            estimate = results[name]
            comparisons.append(
                ReferenceComparison(
                    metric,
                    name,
                    float(np.linalg.norm(estimate.values - reference.values)) / norm,
                    float(np.linalg.norm(stderr)) / norm,
                    float(spearmanr(estimate.values, reference.values).statistic),
                    estimate.seconds,
                    reference.seconds,
                    reference.n_evaluations,
                    100.0 * float(np.abs(estimate.values - reference.values).max()) / total,
                    100.0 * float(np.max(stderr)) / total,
                )
            )
    return comparisons
