"""Valuation methods against retrained ground truth (LDS, counterfactual), digits and Fashion-MNIST.

The papers' evaluation protocol (Lin et al. 2024, arXiv 2407.03153; the SurrogateSHAP paper) on two
real datasets:

* ``--dataset digits`` (default): the embedded digits marketplace with its 20 planted contributors,
  metric = Inception Score from the digits classifier, v(∅) = 1 (its floor);
* ``--dataset fashion-mnist``: Debian's Fashion-MNIST dealt out to 12 specialised shops, metric =
  product diversity (entropy of the classifier's mean product-type prediction), v(∅) = 0. Its
  shop-conditional DDPM and classifier are trained on the first run (about 5 minutes) and cached
  under the output directory.

The ground truth is ``RetrainGame``: a small class-conditional UNet trained from scratch on each
coalition's images (a CPU-sized recipe). Methods:

* SurrogateSHAP on the proxy game of the full model (64 samples per contributor, budget 512 for
  digits, 256 for the 12 shops);
* exact Shapley values of the same proxy game;
* sparsified fine-tuning (the predecessor method): ``SparsifiedFineTuneGame`` on the shipped UNet
  (prune 0.3, 300 recovery steps, 50 fine-tuning steps) valued by KernelShapley;
* leave-one-out on the retrain game itself (computed by ``report`` from the ground-truth cache);
* pixel and classifier-embedding similarity (mean and max) between the full model's samples (the
  proxy game's banks) and each contributor's training images.

Every game caches per coalition in one ``ArtefactStore`` (``var/lds/cache``, or
``var/lds-fashion/cache``), so the phases run in separate processes, side by side, and resume where
they stopped:

    PYTHONPATH=. .venv/bin/python bench/lds_digits.py ground-truth   # retrain runs (hours on CPU)
    PYTHONPATH=. .venv/bin/python bench/lds_digits.py ceiling        # ground truth vs a rerun
    PYTHONPATH=. .venv/bin/python bench/lds_digits.py methods        # every method's values
    PYTHONPATH=. .venv/bin/python bench/lds_digits.py report         # LDS, counterfactual, cost
    PYTHONPATH=. .venv/bin/python bench/lds_digits.py --quick ground-truth   # smoke run, 6 players
    PYTHONPATH=. .venv/bin/python bench/lds_digits.py --dataset fashion-mnist ground-truth  # etc.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread: must be set before numpy loads its BLAS (threadpoolctl enforces it too).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr
from scipy.stats import t as t_dist
from threadpoolctl import threadpool_limits

from attribution.engine.demos.digits.data import make_digits_marketplace
from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS, load_digits_models
from attribution.engine.demos.fashion.data import DEFAULT_DIRECTORY
from attribution.engine.demos.fashion.models import (
    FashionRecipe,
    fashion_shops,
    load_fashion_models,
    train_fashion_models,
)
from attribution.engine.diffusion_training import TrainRecipe
from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import (
    ExactShapley,
    KernelShapley,
    LeaveOneOut,
    SurrogateShapley,
)
from attribution.engine.evaluation.baselines import embedding_similarity, pixel_similarity
from attribution.engine.evaluation.model_utility import (
    Measurement,
    SamplingSettings,
    TrainingContributor,
)
from attribution.engine.evaluation.protocol import (
    HeldoutSet,
    counterfactual_change,
    evaluate_heldout_sets,
    lds_over_sets,
    replicate_agreement,
)
from attribution.engine.evaluation.retrain_game import RetrainGame
from attribution.engine.evaluation.sparsified_game import SparsifiedFineTuneGame
from attribution.engine.games.proxy import ProxyGame
from attribution.engine.metrics import ClassEntropy, InceptionScore
from attribution.engine.run import (
    ContributorInput,
    build_statistics,
    featurize_banks,
    generate_banks,
)
from attribution.engine.store import ArtefactStore
from bench.machine import print_machine

FloatArray = NDArray[np.float64]

ALPHAS = (0.25, 0.5, 0.75)
N_SETS = 3
HELDOUT_SEED = 2024  # held-out set k of α uses seed HELDOUT_SEED + 100·α-index
COUNTERFACTUAL_FRACTION = 0.4
ROUND_SEED = 0
# Published numbers for context only (CIFAR-20, α = 0.5, LDS in %): the settings differ.
PUBLISHED = {
    "sparsified-FT Shapley": 61.5,
    "LOO (retrain)": 30.7,
    "D-TRAK": 10.9,
}
TITLES = {
    "digits": "the digits marketplace",
    "fashion-mnist": "Fashion-MNIST shops",
}
UTILITIES = {
    "digits": "Inception Score (digits classifier), v(∅) = 1",
    "fashion-mnist": "product diversity = entropy of the mean product-type prediction (nats, "
    "Fashion-MNIST classifier), v(∅) = 0",
}
IMAGES = {"digits": "digits", "fashion-mnist": "Fashion-MNIST products"}
METHOD_LABELS = {
    "surrogate_shap": "SurrogateSHAP (proxy)",
    "exact_shapley_proxy": "Exact Shapley (proxy)",
    "sparsified_ft_shapley": "Sparsified-FT KernelSHAP",
    "loo_retrain": "LOO (retrain)",
    "pixel_mean": "Pixel similarity (avg)",
    "pixel_max": "Pixel similarity (max)",
    "embedding_mean": "Embedding similarity (avg)",
    "embedding_max": "Embedding similarity (max)",
}


@dataclass(frozen=True)
class Settings:
    """Every size the phases use; ``--quick`` shrinks them."""

    dataset: str
    fashion_dir: Path
    n_players: int
    subsets: int
    retrain_steps: int
    model_steps: int
    recovery_steps: int
    finetune_steps: int
    n_samples: int
    proxy_samples: int
    budget: int
    sft_budget: int
    out: Path
    results: Path

    @property
    def cache(self) -> Path:
        return self.out / "cache"

    @property
    def stem(self) -> str:
        return "lds_digits" if self.dataset == "digits" else "lds_fashion_mnist"


def log(message: str) -> None:
    print(f"[{datetime.now():%Y-%m-%d %H:%M:%S}] {message}", flush=True)


def progress_printer(prefix: str) -> Any:
    def progress(stage: str, done: int, total: int) -> None:
        if stage in ("recover", "train diffusion") and done % 50 and done != total:
            return
        log(f"{prefix} {stage}: {done}/{total}")

    return progress


class StageRecorder:
    """A progress printer that remembers which stages ran (a cached artefact reports none)."""

    def __init__(self, prefix: str) -> None:
        self.printer = progress_printer(prefix)
        self.stages: set[str] = set()

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.stages.add(stage)
        self.printer(stage, done, total)

    def ran(self, prefix: str) -> bool:
        return any(stage.startswith(prefix) for stage in self.stages)


def instrument(game: Any) -> list[dict[str, Any]]:
    """Record the wall time of every coalition the game actually trains (cache misses)."""
    records: list[dict[str, Any]] = []
    train, utility = game.train_coalition, game.utility
    state: dict[str, Any] = {"trained": False, "train_s": 0.0}

    def timed_train(members: Any) -> Any:
        start = time.perf_counter()
        model = train(members)
        state["trained"], state["train_s"] = True, time.perf_counter() - start
        return model

    def timed_utility(members: Any) -> float:
        state["trained"] = False
        start = time.perf_counter()
        value = utility(members)
        if state["trained"]:
            records.append(
                {
                    "size": len(members),
                    "seconds": time.perf_counter() - start,
                    "train_seconds": state["train_s"],
                }
            )
        return float(value)

    game.train_coalition, game.utility = timed_train, timed_utility
    return records


class Context:
    """Models, contributors and games, built lazily."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = ArtefactStore(settings.cache)
        if settings.dataset == "digits":
            self.backend, self.classifier, self.record = load_digits_models(SHIPPED_WEIGHTS, "cpu")
            planted = make_digits_marketplace(self.record["recipe"]["data_seed"])
            pairs = [(c.key, c.images) for c in planted]
            self.metric: InceptionScore | ClassEntropy = InceptionScore()
            self.class_counts: FloatArray | None = None
        else:
            self.backend, self.classifier, self.record = fashion_models(settings)
            shops, _, _ = fashion_shops(FashionRecipe(), settings.fashion_dir)
            pairs = [(shop.key, shop.images) for shop in shops]
            self.metric = ClassEntropy()
            counts = [shop.class_counts for shop in shops][: settings.n_players]
            self.class_counts = np.array(counts, dtype=np.float64)
        self.training = [TrainingContributor(k, images) for k, images in pairs][
            : settings.n_players
        ]
        self.sampling = SamplingSettings(n_samples=settings.n_samples, n_steps=10, seed=ROUND_SEED)
        self.measurement = Measurement(featurizer=self.classifier, metric=self.metric)

    def retrain_game(self, progress: bool = True, replica: int = 0) -> RetrainGame:
        """The ground truth; ``replica`` k > 0 reruns it with other training and sampling seeds."""
        recipe = TrainRecipe(
            widths=(16, 32), steps=self.settings.retrain_steps, batch_size=32, seed=replica
        )
        sampling = self.sampling
        if replica:
            sampling = SamplingSettings(
                n_samples=sampling.n_samples, n_steps=sampling.n_steps, seed=ROUND_SEED + replica
            )
        return RetrainGame(
            self.training,
            self.measurement,
            recipe,
            sampling=sampling,
            empty_value="floor",
            store=self.store,
            progress=progress_printer("retrain") if progress else None,
        )

    def sparsified_game(self, progress: Any = None) -> SparsifiedFineTuneGame:
        unet = self.backend.unet
        widths = tuple(int(w) for w in unet.config.block_out_channels)
        return SparsifiedFineTuneGame(
            self.training,
            unet,
            self.measurement,
            recipe=TrainRecipe(widths=widths, batch_size=32, seed=0),
            prune_ratio=0.3,
            recovery_steps=self.settings.recovery_steps,
            finetune_steps=self.settings.finetune_steps,
            sampling=self.sampling,
            empty_value="floor",
            store=self.store,
            progress=progress or progress_printer("sparsified"),
        )


def fashion_models(settings: Settings) -> tuple[Any, Any, dict[str, Any]]:
    """The Fashion-MNIST models, trained into ``out/models`` on the first run."""
    weights = settings.out / "models"
    if not (weights / "recipe.json").exists():
        quick = settings.model_steps < TrainRecipe.steps
        recipe = FashionRecipe(
            diffusion=TrainRecipe(steps=settings.model_steps),
            classifier_images=500 if quick else FashionRecipe.classifier_images,
        )
        log(f"training the Fashion-MNIST models into {weights} ({recipe.diffusion.steps} steps)")
        start = time.perf_counter()
        record = train_fashion_models(
            weights, recipe, settings.fashion_dir, progress=progress_printer("fashion")
        )
        log(
            f"trained in {time.perf_counter() - start:.0f} s; classifier test accuracy "
            f"{record['classifier_test_accuracy']:.3f}"
        )
    return load_fashion_models(weights, "cpu")


def heldout_path(settings: Settings) -> Path:
    return settings.out / "heldout.npz"


def save_heldout(path: Path, heldout: dict[float, tuple[HeldoutSet, ...]]) -> None:
    arrays: dict[str, Any] = {}
    for alpha, sets in heldout.items():
        for k, held in enumerate(sets):
            arrays[f"masks_{alpha}_{k}"] = held.masks
            arrays[f"utilities_{alpha}_{k}"] = held.utilities
    np.savez(path, alphas=np.array(sorted(heldout)), **arrays)


def load_heldout(path: Path) -> dict[float, tuple[HeldoutSet, ...]]:
    if not path.exists():
        raise EngineInputError(f"no held-out sets at {path}; run the ground-truth phase first.")
    with np.load(path) as archive:
        result = {}
        for alpha in archive["alphas"].tolist():
            sets = []
            k = 0
            while f"masks_{alpha}_{k}" in archive.files:
                sets.append(
                    HeldoutSet(archive[f"masks_{alpha}_{k}"], archive[f"utilities_{alpha}_{k}"])
                )
                k += 1
            result[float(alpha)] = tuple(sets)
    return result


def merge_json(path: Path, update: dict[str, Any]) -> None:
    """Merge ``update`` into the JSON object at ``path`` (lists of timings are extended)."""
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for key, value in update.items():
        if isinstance(value, list) and isinstance(data.get(key), list):
            data[key] = data[key] + value
        else:
            data[key] = value
    path.write_text(json.dumps(data, indent=2) + "\n")


# ----------------------------------------------------------------------------------- ground truth


def ground_truth(settings: Settings) -> None:
    context = Context(settings)
    game = context.retrain_game()
    timings = instrument(game)
    log(
        f"ground truth: RetrainGame on {game.n_players} contributors, "
        f"{settings.retrain_steps} steps, widths (16, 32), {settings.n_samples} samples/contributor"
    )
    heldout: dict[float, tuple[HeldoutSet, ...]] = {}
    for index, alpha in enumerate(ALPHAS):
        log(f"held-out sets α={alpha}: {N_SETS} × {settings.subsets} coalitions")
        heldout[alpha] = evaluate_heldout_sets(
            game,
            alpha=alpha,
            n_sets=N_SETS,
            n_subsets=settings.subsets,
            seed=HELDOUT_SEED + 100 * index,
            progress=progress_printer(f"heldout α={alpha}"),
        )
        save_heldout(heldout_path(settings), heldout)
        merge_json(settings.out / "ground_truth.json", {"retrain_timings": timings[:]})
        timings.clear()
    log(f"saved {heldout_path(settings)}")
    log(f"leave-one-out coalitions (N and N∖i, {game.n_players + 1} runs)")
    loo = LeaveOneOut().fit(game)
    merge_json(
        settings.out / "ground_truth.json",
        {"retrain_timings": timings[:], "loo_values": loo.values_.tolist()},
    )
    log(f"ground truth done; v(N) = {loo.grand_value_:.4f}, v(∅) = {loo.baseline_:.4f}")


# ------------------------------------------------------------------------------------ ceiling


def ceiling(settings: Settings) -> None:
    """Rerun the ground truth with other seeds on the first held-out set of each α."""
    context = Context(settings)
    game = context.retrain_game(replica=1)
    timings = instrument(game)
    heldout = load_heldout(heldout_path(settings))
    agreement: dict[str, float] = {}
    for alpha, sets in heldout.items():
        log(f"noise ceiling α={alpha}: rerunning {len(sets[0].utilities)} coalitions, seed 1")
        agreement[str(alpha)] = replicate_agreement(sets[0], game)
        log(f"noise ceiling α={alpha}: Spearman {agreement[str(alpha)]:.3f}")
    merge_json(
        settings.out / "ground_truth.json", {"ceiling": agreement, "retrain_timings": timings}
    )


# ------------------------------------------------------------------------------------ methods


def proxy_game(context: Context, progress: Any) -> tuple[ProxyGame, Any, Any]:
    """The proxy game of the full model, with its banks and features (cached in the store)."""
    settings = context.settings
    inputs = [ContributorInput(c.key, [i] * c.size) for i, c in enumerate(context.training)]
    log(f"proxy banks: {settings.proxy_samples} samples × {len(inputs)} contributors")
    banks, bank_inputs = generate_banks(
        inputs,
        context.backend,
        n_samples=settings.proxy_samples,
        seed=ROUND_SEED,
        store=context.store,
        progress=progress,
    )
    features = featurize_banks(banks, bank_inputs, context.classifier, store=context.store)
    statistics = build_statistics(banks, features)
    game = ProxyGame(statistics, [c.size for c in inputs], context.metric, "floor")
    return game, banks, features


def methods(settings: Settings) -> None:
    context = Context(settings)
    values: dict[str, list[float]] = {}
    timings: dict[str, Any] = {}
    proxy_progress = StageRecorder("proxy")
    start = time.perf_counter()
    game, banks, features = proxy_game(context, proxy_progress)
    # Once-costs are recorded only when measured: a cache hit keeps the earlier run's time.
    if proxy_progress.ran("generate"):
        timings["proxy_banks_seconds"] = time.perf_counter() - start

    start = time.perf_counter()
    surrogate = SurrogateShapley(budget=settings.budget, seed=0, n_bootstrap=0).fit(game)
    timings["surrogate_seconds"] = time.perf_counter() - start
    values["surrogate_shap"] = surrogate.values_.tolist()
    log(f"SurrogateSHAP done ({timings['surrogate_seconds']:.1f} s)")

    start = time.perf_counter()
    exact = ExactShapley().fit(game)
    timings["exact_seconds"] = time.perf_counter() - start
    timings["proxy_coalitions"] = exact.n_evaluations_
    values["exact_shapley_proxy"] = exact.values_.tolist()
    log(f"exact Shapley of the proxy game done ({timings['exact_seconds']:.1f} s)")

    generated = np.concatenate(banks)
    generated_embeddings = np.concatenate([f.embeddings for f in features])
    training_images = [c.images for c in context.training]
    training_embeddings = [context.classifier(c.images).embeddings for c in context.training]
    for aggregate in ("mean", "max"):
        values[f"pixel_{aggregate}"] = pixel_similarity(
            generated, training_images, aggregate
        ).tolist()
        values[f"embedding_{aggregate}"] = embedding_similarity(
            generated_embeddings, training_embeddings, aggregate
        ).tolist()
    log("similarity baselines done")
    write_values(settings, values, timings)

    sft_progress = StageRecorder("sparsified")
    sparsified = context.sparsified_game(sft_progress)
    start = time.perf_counter()
    log(f"sparsified fine-tuning: recovery ({settings.recovery_steps} steps, cached once)")
    sparsified.recover()
    if sft_progress.ran("recover"):
        timings["sft_recovery_seconds"] = time.perf_counter() - start
    sft_timings = instrument(sparsified)
    log(f"sparsified fine-tuning: KernelShapley, budget {settings.sft_budget}")
    start = time.perf_counter()
    kernel = KernelShapley(budget=settings.sft_budget, seed=0, n_bootstrap=0).fit(sparsified)
    timings["sft_seconds"] = time.perf_counter() - start
    timings["sft_coalitions"] = kernel.n_evaluations_
    timings["sft_timings"] = sft_timings
    values["sparsified_ft_shapley"] = kernel.values_.tolist()
    write_values(settings, values, timings)
    log(f"methods done ({timings['sft_seconds']:.1f} s for the sparsified game)")


def write_values(
    settings: Settings, values: dict[str, list[float]], timings: dict[str, Any]
) -> None:
    path = settings.out / "values.json"
    previous: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    # Keep the sparsified fine-tuning timings of an earlier run when this one was all cache hits.
    merged_timings = {**previous.get("timings", {}), **timings}
    if previous.get("timings", {}).get("sft_timings") and not timings.get("sft_timings"):
        merged_timings["sft_timings"] = previous["timings"]["sft_timings"]
    data = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "values": {**previous.get("values", {}), **values},
        "timings": merged_timings,
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    log(f"wrote {path}")


# ------------------------------------------------------------------------------------- report


def mean_seconds(records: list[dict[str, Any]]) -> float | None:
    return float(np.mean([r["seconds"] for r in records])) if records else None


def report_phase(settings: Settings) -> None:
    context = Context(settings)
    heldout = load_heldout(heldout_path(settings))
    values_path = settings.out / "values.json"
    if not values_path.exists():
        raise EngineInputError(f"no values at {values_path}; run the methods phase first.")
    data = json.loads(values_path.read_text())
    truth_path = settings.out / "ground_truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else {}
    game = context.retrain_game(progress=False)
    cf_timings = instrument(game)
    log("leave-one-out from the retrain game (cache hits)")
    loo = LeaveOneOut().fit(game)
    values = {**data["values"], "loo_retrain": loo.values_.tolist()}
    order = [name for name in METHOD_LABELS if name in values]

    results: dict[str, Any] = {}
    for name in order:
        phi = np.asarray(values[name])
        entry: dict[str, Any] = {"label": METHOD_LABELS[name], "values": phi.tolist(), "lds": {}}
        for alpha, sets in heldout.items():
            try:
                lds = lds_over_sets(phi, heldout=sets)
                entry["lds"][str(alpha)] = {
                    "mean": lds.mean,
                    "ci_low": lds.ci_low,
                    "ci_high": lds.ci_high,
                    "scores": lds.scores.tolist(),
                }
            except EngineInputError as error:
                entry["lds"][str(alpha)] = {"error": str(error)}
        log(f"counterfactual for {name}")
        change = counterfactual_change(game, phi, COUNTERFACTUAL_FRACTION)
        entry["counterfactual"] = {
            "grand_utility": change.grand_utility,
            "empty_utility": change.empty_utility,
            "removed": np.flatnonzero(change.removed).tolist(),
            "without_top_utility": change.without_top_utility,
            "without_top_change": change.without_top_change,
            "kept": np.flatnonzero(change.kept).tolist(),
            "only_top_utility": change.only_top_utility,
            "only_top_change": change.only_top_change,
        }
        results[name] = entry

    timings = data.get("timings", {})
    retrain_records = truth.get("retrain_timings", []) + cf_timings
    sft_records = timings.get("sft_timings", [])
    proxy_coalitions = timings.get("proxy_coalitions")
    cost = {
        "retrain_seconds_per_coalition": mean_seconds(retrain_records),
        "retrain_coalitions_timed": len(retrain_records),
        "sft_seconds_per_coalition": mean_seconds(sft_records),
        "sft_coalitions_timed": len(sft_records),
        "sft_recovery_seconds_once": timings.get("sft_recovery_seconds"),
        "proxy_seconds_per_coalition": (
            timings["exact_seconds"] / proxy_coalitions if proxy_coalitions else None
        ),
        "proxy_banks_seconds_once": timings.get("proxy_banks_seconds"),
        "surrogate_fit_seconds": timings.get("surrogate_seconds"),
    }
    output = {
        "settings": data.get("settings"),
        "alphas": sorted(heldout),
        "heldout_sizes": {str(a): [len(s.utilities) for s in sets] for a, sets in heldout.items()},
        "methods": results,
        "cost": cost,
        "noise_ceiling": truth.get("ceiling"),
        "data_oracle": data_oracle(context.class_counts, heldout),
        "proxy_diagnostics": proxy_diagnostics(context, heldout, loo.grand_value_),
        "published_context": PUBLISHED,
        "dataset": settings.dataset,
        "classifier_test_accuracy": context.record.get("classifier_test_accuracy"),
        "keys": [c.key for c in context.training],
    }
    stem = settings.results / settings.stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(output, indent=2) + "\n")
    table = markdown(output, settings)
    stem.with_suffix(".md").write_text(table)
    plot(output, stem.with_suffix(".png"), settings.dataset)
    print(table)
    log(f"wrote {stem}.json, .md, .png")


def data_mix_entropy(masks: Any, class_counts: FloatArray) -> FloatArray:
    """Entropy (nats) of the product mix of each coalition's pooled training data."""
    pooled = np.asarray(masks, dtype=np.float64) @ class_counts
    mix = pooled / pooled.sum(axis=1, keepdims=True)
    entropy: FloatArray = -(mix * np.log(np.clip(mix, 1e-300, None))).sum(axis=1)
    return entropy


def data_oracle(
    class_counts: FloatArray | None, heldout: dict[float, tuple[HeldoutSet, ...]]
) -> dict[str, dict[str, float]] | None:
    """Spearman ρ of the ground truth with the product diversity of the coalition's *data*.

    Not a valuation: it reads the true labels of the training images (entropy of the pooled
    product mix). It shows how far the retrained utilities follow the data's real diversity,
    rather than artefacts of the small retrained models. None where there are no such labels.
    """
    if class_counts is None:
        return None
    result = {}
    for alpha, sets in heldout.items():
        scores = []
        for held in sets:
            entropy = data_mix_entropy(held.masks, class_counts)
            scores.append(float(spearmanr(entropy, held.utilities).statistic))
        mean = float(np.mean(scores))
        half = float(t_dist.ppf(0.975, len(scores) - 1) * np.std(scores, ddof=1)) / math.sqrt(
            len(scores)
        )
        result[str(alpha)] = {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}
    return result


def proxy_diagnostics(
    context: Context, heldout: dict[float, tuple[HeldoutSet, ...]], retrained_grand: float
) -> dict[str, Any] | None:
    """Where the data's true labels exist: does the *proxy* game follow the data's product mix?

    Spearman ρ of the data-mix oracle with the proxy game's utility on the held-out coalitions
    (mean over the sets), and v(N) of the proxy game next to the retrained one.
    """
    if context.class_counts is None:
        return None
    game, _, _ = proxy_game(context, None)
    agreement = {}
    for alpha, sets in heldout.items():
        scores = []
        for held in sets:
            entropy = data_mix_entropy(held.masks, context.class_counts)
            scores.append(float(spearmanr(entropy, game(held.masks)).statistic))
        agreement[str(alpha)] = float(np.mean(scores))
    grand = float(game(np.ones((1, game.n_players), dtype=bool))[0])
    return {
        "oracle_vs_proxy_spearman": agreement,
        "proxy_grand_value": grand,
        "retrained_grand_value": retrained_grand,
    }


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1e6:.1f} µs" if value < 0.01 else f"{value:.1f} s"


def cost_ratios(cost: dict[str, Any]) -> str:
    """The cost table as ratios (per coalition, same run and machine)."""
    retrain = cost.get("retrain_seconds_per_coalition")
    sft = cost.get("sft_seconds_per_coalition")
    proxy = cost.get("proxy_seconds_per_coalition")
    parts = []
    if retrain and sft:
        parts.append(f"retraining costs {retrain / sft:.1f}× a sparsified fine-tuning")
    if retrain and proxy:
        parts.append(f"{retrain / proxy:.2g}× a proxy evaluation")
    if sft and proxy:
        parts.append(f"sparsified fine-tuning {sft / proxy:.2g}× a proxy evaluation")
    return ("Per coalition: " + "; ".join(parts) + ".") if parts else ""


def reference_row(label: str, cells: list[str]) -> str:
    """A table row that is a reference, not a method: italic label, no counterfactual."""
    return f"| *{label}* | " + " | ".join(cells) + " | — | — |"


def markdown(output: dict[str, Any], settings: Settings) -> str:
    alphas = output["alphas"]
    lines = [
        f"# LDS on {TITLES[settings.dataset]} (retrained ground truth)",
        "",
        f"{settings.n_players} contributors, {UTILITIES[settings.dataset]}; "
        f"retrain recipe widths (16, 32), {settings.retrain_steps} steps, batch 32, "
        f"{settings.n_samples} samples per contributor, 10 DDIM steps; held-out sets: "
        f"{N_SETS} per α × {settings.subsets} coalitions. LDS = Spearman ρ × 100, mean ± 95% "
        "t-interval half-width over the sets. Counterfactual: relative change "
        "(v(S) − v(N)) / |v(N) − v(∅)| when retraining without the top 40% / with only the top "
        "60% (lower is a better ranking for 'without', higher for 'only'). The noise ceiling "
        "is the Spearman correlation between the ground truth and the ground truth rerun with "
        "other training and sampling seeds on the first held-out set of each α: how much of the "
        "ranking the retrained utilities themselves reproduce.",
        "",
        "| method | "
        + " | ".join(f"LDS α={a}" for a in alphas)
        + " | without top 40% | only top 60% |",
        "|---|" + "---|" * (len(alphas) + 2),
    ]
    for entry in output["methods"].values():
        cells = []
        for alpha in alphas:
            lds = entry["lds"][str(alpha)]
            if "error" in lds:
                cells.append("undefined")
            else:
                half = (lds["ci_high"] - lds["ci_low"]) / 2
                cells.append(f"{100 * lds['mean']:.1f} ± {100 * half:.1f}")
        cf = entry["counterfactual"]
        lines.append(
            f"| {entry['label']} | "
            + " | ".join(cells)
            + f" | {cf['without_top_change']:+.3f} | {cf['only_top_change']:+.3f} |"
        )
    ceiling_values = output.get("noise_ceiling")
    if ceiling_values:
        cells = [f"{100 * ceiling_values[str(a)]:.1f}" for a in alphas]
        lines.append(
            reference_row("ground truth rerun with other seeds (noise ceiling, first set)", cells)
        )
    oracle = output.get("data_oracle")
    if oracle:
        cells = [
            f"{100 * oracle[str(a)]['mean']:.1f} ± "
            f"{100 * (oracle[str(a)]['ci_high'] - oracle[str(a)]['mean']):.1f}"
            for a in alphas
        ]
        lines.append(
            reference_row(
                "oracle: entropy of the coalition's true product mix (not a valuation)", cells
            )
        )
    diagnostics = output.get("proxy_diagnostics")
    if diagnostics:
        agreement = diagnostics["oracle_vs_proxy_spearman"]
        lines += [
            "",
            "Diagnostics: the oracle's Spearman ρ × 100 with the *proxy* game's utility on the "
            "same coalitions (mean over the sets): "
            + ", ".join(f"α={a}: {100 * agreement[str(a)]:.1f}" for a in alphas)
            + f"; v(N) of the proxy game {diagnostics['proxy_grand_value']:.3f}, of the "
            f"retrained model {diagnostics['retrained_grand_value']:.3f} "
            f"(the maximum, all ten types equally, is ln 10 = {math.log(10):.3f}).",
        ]
    cost = output["cost"]
    lines += [
        "",
        "Cost per coalition utility (wall time, one CPU thread):",
        "",
        "| game | per coalition | once | coalitions timed |",
        "|---|---|---|---|",
        f"| retrain (ground truth) | {fmt_seconds(cost['retrain_seconds_per_coalition'])} | — "
        f"| {cost['retrain_coalitions_timed']} |",
        f"| sparsified fine-tune | {fmt_seconds(cost['sft_seconds_per_coalition'])} "
        f"| recovery {fmt_seconds(cost['sft_recovery_seconds_once'])} "
        f"| {cost['sft_coalitions_timed']} |",
        f"| proxy (SurrogateSHAP) | {fmt_seconds(cost['proxy_seconds_per_coalition'])} "
        f"| banks {fmt_seconds(cost['proxy_banks_seconds_once'])} | 2^n (exact) |",
        "",
        cost_ratios(cost),
        "",
        "Published numbers, for context only (CIFAR-20, α = 0.5, LDS × 100): "
        + "; ".join(f"{name} {value}" for name, value in PUBLISHED.items())
        + f". The settings differ: here 16×16 {IMAGES[settings.dataset]}, "
        f"{settings.n_players} contributors, tiny CPU-trained models and few held-out subsets "
        f"({N_SETS} × {settings.subsets} per α), so the numbers are not comparable.",
        "",
    ]
    return "\n".join(lines)


def plot(output: dict[str, Any], path: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas = output["alphas"]
    entries = list(output["methods"].values())
    if output.get("noise_ceiling"):
        # One more group: the ground truth against its own rerun (one set, so no interval).
        entries.append(
            {
                "label": "noise ceiling (rerun)",
                "lds": {
                    str(a): {"mean": value, "ci_low": value, "ci_high": value}
                    for a, value in output["noise_ceiling"].items()
                },
            }
        )
    if output.get("data_oracle"):
        entries.append({"label": "oracle: data's product mix", "lds": output["data_oracle"]})
    width = 0.8 / len(alphas)
    x = np.arange(len(entries))
    figure, axes = plt.subplots(figsize=(max(8, 1.2 * len(entries)), 4.5))
    for k, alpha in enumerate(alphas):
        means, errors = [], []
        for entry in entries:
            lds = entry["lds"].get(str(alpha), {"error": "not computed"})
            if "error" in lds:
                means.append(math.nan)
                errors.append(0.0)
            else:
                means.append(100 * lds["mean"])
                errors.append(100 * (lds["ci_high"] - lds["ci_low"]) / 2)
        axes.bar(
            x + (k - (len(alphas) - 1) / 2) * width,
            means,
            width,
            yerr=errors,
            capsize=3,
            label=f"α = {alpha}",
        )
    axes.set_xticks(x, [e["label"] for e in entries], rotation=30, ha="right")
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_ylabel("LDS × 100 (mean ± 95% CI)")
    axes.set_title(f"LDS against retrained ground truth, {TITLES[dataset]}")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# --------------------------------------------------------------------------------------- main


DEFAULTS = {
    # dataset: (players, subsets per held-out set, SurrogateSHAP budget, KernelSHAP budget, out)
    "digits": (20, 20, 512, 64, "var/lds"),
    "fashion-mnist": (12, 10, 256, 48, "var/lds-fashion"),
}


def parse_args(argv: list[str]) -> tuple[str, Settings]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("ground-truth", "ceiling", "methods", "report"))
    parser.add_argument("--dataset", choices=sorted(DEFAULTS), default="digits")
    parser.add_argument(
        "--fashion-dir",
        type=Path,
        default=DEFAULT_DIRECTORY,
        help=f"Fashion-MNIST's IDX files (default {DEFAULT_DIRECTORY}, from apt)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: first 6 contributors, 3 subsets, 5 training steps, 4 samples, "
        "budgets 32 and 8; writes under var/lds-quick/ (or var/lds-fashion-quick/)",
    )
    parser.add_argument(
        "--subsets", type=int, help="coalitions per held-out set (default 20 digits, 10 fashion)"
    )
    parser.add_argument("--budget", type=int, help="SurrogateSHAP budget (default 512 / 256)")
    parser.add_argument("--sft-budget", type=int, help="KernelShapley budget (default 64 / 48)")
    parser.add_argument(
        "--retrain-steps",
        type=int,
        help="training steps of each ground-truth retrain (default 300); with --samples, the "
        "knobs for a stronger ground truth (give it its own --out: the held-out utilities and "
        "the results are written there)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        help="samples per contributor in the retrain and sparsified games (default 32)",
    )
    parser.add_argument("--out", type=Path, help="output directory (default var/lds...)")
    args = parser.parse_args(argv)
    quick = args.quick
    players, subsets, budget, sft_budget, default_out = DEFAULTS[args.dataset]
    out = args.out or Path(default_out + ("-quick" if quick else ""))
    settings = Settings(
        dataset=args.dataset,
        fashion_dir=args.fashion_dir,
        n_players=6 if quick else players,
        subsets=args.subsets or (3 if quick else subsets),
        retrain_steps=args.retrain_steps or (5 if quick else 300),
        recovery_steps=5 if quick else 300,
        finetune_steps=5 if quick else 50,
        model_steps=5 if quick else TrainRecipe.steps,
        n_samples=args.samples or (4 if quick else 32),
        proxy_samples=4 if quick else 64,
        budget=args.budget or (32 if quick else budget),
        sft_budget=args.sft_budget or (8 if quick else sft_budget),
        out=out,
        results=out if quick or args.out else Path("docs/results"),
    )
    return args.phase, settings


def main(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    phase, settings = parse_args(argv)
    settings.out.mkdir(parents=True, exist_ok=True)
    print_machine(
        f"LDS against retrained ground truth: {TITLES[settings.dataset]}",
        ("numpy", "scipy", "torch", "diffusers", "catboost"),
        f"torch.get_num_threads()={torch.get_num_threads()}; CatBoost thread_count=1; device cpu",
    )
    print(f"settings: {settings}", flush=True)
    started = time.perf_counter()
    phases = {
        "ground-truth": ground_truth,
        "ceiling": ceiling,
        "methods": methods,
        "report": report_phase,
    }
    phases[phase](settings)
    log(f"{phase}: total wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        try:
            main(sys.argv[1:])
        except EngineInputError as error:  # missing data, weights or an earlier phase's output
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
