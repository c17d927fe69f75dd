"""Training, checking and loading the catalogue's shipped models.

``python -m attribution.engine train-fashion-catalogue --output DIR`` runs
``train_catalogue_models``: it deals the catalogue, trains the tiny CLIP (``DIR/clip``) and the tiny
Stable Diffusion pipeline (``DIR/pipeline``) on one thread, measures them (zero-shot product-type
accuracy of the CLIP on the real test split and on generated samples per prompted type, and the
logo rate of samples from logo and plain prompts) and writes ``DIR/recipe.json``: the recipes,
the timings, the measurements and the SHA-256 of every weight file. The repository ships what this
command produced; ``load_catalogue_models`` refuses weights whose checksums do not match.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.demos.catalogue.clip_training import ClipRecipe, save_clip, train_clip
from attribution.engine.demos.catalogue.pipeline_training import PipelineRecipe, train_pipeline
from attribution.engine.demos.catalogue.shops import (
    LOGO_PHRASE,
    PRODUCT_WORDS,
    STYLE_WORDS,
    TONE_WORDS,
    CatalogueRecipe,
    CatalogueShop,
    add_logo,
    make_catalogue,
    type_prompts,
)
from attribution.engine.demos.catalogue.vocabulary import make_tokenizer
from attribution.engine.demos.fashion.data import DEFAULT_DIRECTORY, load_fashion_mnist
from attribution.engine.errors import EngineInputError
from attribution.engine.generation import file_sha256
from attribution.engine.progress import Progress

SHIPPED_WEIGHTS = Path(__file__).parent / "weights"
ARTEFACT_PROMPTS = (f"a photo of a product {LOGO_PHRASE}",)
CLEAN_PROMPTS = ("a photo of a product",)
GUIDANCE_SCALE = 3.0
N_STEPS = 20


@dataclass(frozen=True)
class TrainingRecipe:
    """Everything that determines the shipped weights and their measurements."""

    catalogue: CatalogueRecipe = field(default_factory=CatalogueRecipe)
    clip: ClipRecipe = field(default_factory=ClipRecipe)
    pipeline: PipelineRecipe = field(default_factory=PipelineRecipe)
    samples_per_type: int = 20
    measure_seed: int = 1


@dataclass(frozen=True)
class CatalogueModels:
    """Paths of a checked set of catalogue models and their training record."""

    pipeline: Path
    clip: Path
    record: dict[str, Any]


def shop_arrays(
    shops: list[CatalogueShop],
) -> tuple[NDArray[np.float32], list[str], NDArray[np.int64]]:
    """All shops' photos, captions and claimed types, concatenated (a duplicate counts twice)."""
    images = np.concatenate([shop.images for shop in shops])
    captions = [text for shop in shops for text in shop.captions]
    claimed = np.concatenate([shop.claimed for shop in shops])
    return images, captions, claimed


def train_catalogue_models(
    output: Path,
    recipe: TrainingRecipe | None = None,
    data_directory: Path = DEFAULT_DIRECTORY,
    progress: Progress | None = None,
) -> Path:
    """Train, save and measure the CLIP and the pipeline; write ``output/recipe.json``."""
    import torch

    from attribution.engine.features import ClipFeaturizer
    from attribution.engine.generation import TextToImageBackend

    recipe = recipe or TrainingRecipe()
    images, labels = load_fashion_mnist(data_directory, "train")
    shops = make_catalogue(images, labels, recipe.catalogue)
    photos, captions, claimed = shop_arrays(shops)
    output.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(output / "tokenizer-files")
    started = time.perf_counter()
    clip = train_clip(photos, captions, claimed, tokenizer, recipe.clip, progress)
    clip_seconds = time.perf_counter() - started
    save_clip(clip, tokenizer, output / "clip")
    started = time.perf_counter()
    pipeline = train_pipeline(photos, captions, clip, tokenizer, recipe.pipeline, progress)
    pipeline_seconds = time.perf_counter() - started
    pipeline.save_pretrained(output / "pipeline")
    _remove_tree(output / "tokenizer-files")
    featurizer = ClipFeaturizer(output / "clip")
    backend = TextToImageBackend.from_pretrained(
        output / "pipeline", guidance_scale=GUIDANCE_SCALE, n_steps=N_STEPS, batch_size=20
    )
    test_images, test_labels = load_fashion_mnist(data_directory, "test")
    measurements = measure(featurizer, backend, test_images, test_labels, recipe)
    record = {
        "recipe": asdict(recipe),
        "command": f"python -m attribution.engine train-fashion-catalogue --output {output}",
        "torch_threads": torch.get_num_threads(),
        "seconds": {"clip": round(clip_seconds, 1), "pipeline": round(pipeline_seconds, 1)},
        "measurements": measurements,
        "sampling": {"guidance_scale": GUIDANCE_SCALE, "n_steps": N_STEPS},
        "versions": {name: version(name) for name in ("torch", "diffusers", "transformers")},
        "sha256": weight_checksums(output),
    }
    (output / "recipe.json").write_text(json.dumps(record, indent=2) + "\n")
    return output


def measure(
    featurizer: Any,
    backend: Any,
    test_images: NDArray[np.float32],
    test_labels: NDArray[np.int64],
    recipe: TrainingRecipe,
) -> dict[str, Any]:
    """Zero-shot accuracies (real test photos; samples per prompted type) and logo rates."""
    prompts = list(type_prompts())
    real = featurizer.zero_shot_probabilities(featurizer.embed_images(test_images), prompts)
    per_type: dict[str, float] = {}
    logo_rates: dict[str, float] = {}
    logo_prompts = [*CLEAN_PROMPTS, *ARTEFACT_PROMPTS]
    real_logo = featurizer.zero_shot_probabilities(
        featurizer.embed_images(add_logo(test_images[:1000])), logo_prompts
    )
    real_plain = featurizer.zero_shot_probabilities(
        featurizer.embed_images(test_images[:1000]), logo_prompts
    )
    flagged = {"plain": 0.0, "logo": 0.0}
    n = recipe.samples_per_type
    for product, word in enumerate(PRODUCT_WORDS):
        for kind, suffix in (("plain", ""), ("logo", f" {LOGO_PHRASE}")):
            texts = [
                f"a {TONE_WORDS[i % 2]} {STYLE_WORDS[i % len(STYLE_WORDS)]} {word}{suffix}"
                for i in range(n)
            ]
            samples = backend.generate(texts, n, recipe.measure_seed + product)
            embeddings = featurizer.embed_images(samples)
            probabilities = featurizer.zero_shot_probabilities(embeddings, prompts)
            if kind == "plain":
                per_type[word] = float(np.mean(probabilities.argmax(axis=1) == product))
            else:
                logo_rates[word] = float(np.mean(probabilities.argmax(axis=1) == product))
            logo = featurizer.zero_shot_probabilities(embeddings, logo_prompts)
            flagged[kind] += float(np.mean(logo.argmax(axis=1) == 1)) / len(PRODUCT_WORDS)
    return {
        "zero_shot_accuracy_real_test": float(np.mean(real.argmax(axis=1) == test_labels)),
        "n_real_test": len(test_labels),
        "zero_shot_accuracy_generated": float(np.mean(list(per_type.values()))),
        "zero_shot_accuracy_generated_per_type": per_type,
        "zero_shot_accuracy_generated_with_logo_prompt": float(np.mean(list(logo_rates.values()))),
        "samples_per_type": n,
        "logo_detected_real_with_logo": float(np.mean(real_logo.argmax(axis=1) == 1)),
        "logo_detected_real_plain": float(np.mean(real_plain.argmax(axis=1) == 1)),
        "logo_detected_generated_logo_prompts": flagged["logo"],
        "logo_detected_generated_plain_prompts": flagged["plain"],
    }


def weight_checksums(directory: Path) -> dict[str, str]:
    """SHA-256 of every weight file (``*.safetensors``) under ``directory``, by relative path."""
    return {
        str(path.relative_to(directory)): file_sha256(path)
        for path in sorted(directory.rglob("*.safetensors"))
    }


def load_catalogue_models(weights: Path = SHIPPED_WEIGHTS) -> CatalogueModels:
    """The checked paths of trained catalogue models.

    Raises:
        EngineInputError: If the directory is incomplete or a checksum does not match.
    """
    recipe_path = weights / "recipe.json"
    if not recipe_path.is_file():
        raise EngineInputError(
            f"no trained catalogue models at {weights}; run `python -m attribution.engine "
            f"train-fashion-catalogue --output {weights}`."
        )
    record: dict[str, Any] = json.loads(recipe_path.read_text())
    expected: dict[str, str] = record["sha256"]
    found = weight_checksums(weights)
    if found != expected:
        wrong = sorted(
            set(expected) ^ set(found) | {k for k in expected if found.get(k) != expected[k]}
        )
        raise EngineInputError(
            f"{weights}: {', '.join(wrong)} missing or not matching {recipe_path}; retrain."
        )
    return CatalogueModels(weights / "pipeline", weights / "clip", record)


def _remove_tree(directory: Path) -> None:
    for path in sorted(directory.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    directory.rmdir()
