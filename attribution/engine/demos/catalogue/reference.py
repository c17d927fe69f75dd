"""The catalogue's ground truth at 100 shops: SurrogateSHAP against a long permutation run.

Exact Shapley values of a 100-player game are out of reach, but the proxy game's utilities are
cheap (mixtures of per-shop sufficient statistics), so a long antithetic permutation run of the
*same* proxy game is a reference with its own standard error. ``run_reference`` generates the
banks once (the artefact store keeps them), values the shops with SurrogateSHAP at the demo's
budget and with permutation sampling at a large budget, and reports the relative L2 error of the
surrogate against the reference next to the reference's own error scale
(‖stderr‖ / ‖reference‖).
"""

from __future__ import annotations

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
from attribution.engine.estimators import PermutationShapley, SurrogateShapley
from attribution.engine.profiles.base import ContributorSpec, ModelSpec, RoundSpec
from attribution.engine.profiles.text_to_image import TextToImageProfile
from attribution.engine.progress import Progress
from attribution.engine.run import ContributorInput, run_round
from attribution.engine.store import ArtefactStore

METRICS = ("clip_diversity", "artefact_free")


@dataclass(frozen=True)
class ReferenceComparison:
    """One metric: the surrogate's error against the long permutation reference."""

    metric: str
    relative_l2_error: float
    reference_relative_stderr: float
    spearman: float
    surrogate_seconds: float
    reference_seconds: float
    reference_evaluations: int


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
    store: ArtefactStore | None = None,
    progress: Progress | None = None,
) -> list[ReferenceComparison]:
    """Compare SurrogateSHAP (``budget``) with permutation sampling (``reference_budget``)."""
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
    comparisons = []
    for metric in metrics:
        setup = loaded.metric_setup(metric, round_spec)
        results = {}
        for name, factory in (
            ("surrogate", lambda: SurrogateShapley(budget=budget, seed=seed, n_bootstrap=0)),
            ("reference", lambda: PermutationShapley(budget=reference_budget, seed=seed + 1)),
        ):
            results[name] = run_round(
                inputs,
                loaded.backend,
                loaded.featurizer,
                {metric: setup.metric},
                n_samples=n_samples,
                seed=seed,
                scorers=setup.scorers,
                empty_values={metric: setup.empty_value},
                estimator=factory,
                store=store,
                progress=progress,
            ).valuations[metric]
        surrogate, reference = results["surrogate"], results["reference"]
        norm = float(np.linalg.norm(reference.values))
        stderr = reference.stderr if reference.stderr is not None else np.full(len(shops), np.nan)
        comparisons.append(
            ReferenceComparison(
                metric,
                float(np.linalg.norm(surrogate.values - reference.values)) / norm,
                float(np.linalg.norm(stderr)) / norm,
                float(spearmanr(surrogate.values, reference.values).statistic),
                surrogate.seconds,
                reference.seconds,
                reference.n_evaluations,
            )
        )
    return comparisons
