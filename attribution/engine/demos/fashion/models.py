"""The Fashion-MNIST evaluation's models: a shop-conditional DDPM and a product classifier.

Unlike the digits demo nothing is shipped: ``train_fashion_models`` trains both on CPU (about five
minutes on one thread) and writes the same layout as ``train-digits`` (``unet/``, ``scheduler/``,
``classifier.safetensors``, ``recipe.json`` with SHA-256 checksums), so ``load_fashion_models``
verifies them the same way. The classifier (the digits CNN architecture, 16x16 → 10 product types)
is trained on training-split images that no shop holds and scored on the test split.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attribution.engine.demos.digits.classifier import DigitsClassifier, train_digits_classifier
from attribution.engine.demos.digits.training import load_digits_models
from attribution.engine.demos.fashion.data import (
    DEFAULT_DIRECTORY,
    Shop,
    load_fashion_mnist,
    make_fashion_marketplace,
    unused_rows,
)
from attribution.engine.diffusion_training import TrainRecipe, train_class_conditional
from attribution.engine.errors import EngineInputError
from attribution.engine.generation import (
    ClassConditionalBackend,
    file_sha256,
    new_noise_scheduler,
    state_dict_sha256,
)
from attribution.engine.progress import Progress


@dataclass(frozen=True)
class FashionRecipe:
    """Everything that determines the Fashion-MNIST models (besides the data files).

    Attributes:
        data_seed: Seed of the shops (sizes, product mixes, images).
        n_shops: Contributors; the DDPM has one label per shop plus the null label.
        min_shop_size: Fewest images a shop holds.
        max_shop_size: Most images a shop holds.
        diffusion: The DDPM's training recipe (the digits demo's defaults: 900 steps, widths
            (32, 64, 64), EMA, 10% label dropout).
        classifier_images: Training-split images no shop holds that train the classifier.
        classifier_epochs: Passes over them.
    """

    data_seed: int = 0
    n_shops: int = 12
    min_shop_size: int = 80
    max_shop_size: int = 240
    diffusion: TrainRecipe = field(default_factory=TrainRecipe)
    classifier_images: int = 12_000
    classifier_epochs: int = 6


def fashion_shops(
    recipe: FashionRecipe, directory: Path = DEFAULT_DIRECTORY
) -> tuple[list[Shop], Any, Any]:
    """The recipe's shops, plus the whole training split (images, labels) they were drawn from."""
    images, labels = load_fashion_mnist(directory, "train")
    shops = make_fashion_marketplace(
        images,
        labels,
        n_shops=recipe.n_shops,
        min_size=recipe.min_shop_size,
        max_size=recipe.max_shop_size,
        seed=recipe.data_seed,
    )
    return shops, images, labels


def train_fashion_models(
    output: Path,
    recipe: FashionRecipe | None = None,
    directory: Path = DEFAULT_DIRECTORY,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train the DDPM (conditioned on shop, null label ``n_shops``) and the classifier.

    Returns:
        The record written to ``output/recipe.json`` (recipe, checksums, classifier test accuracy).
    """
    recipe = recipe or FashionRecipe()
    shops, all_images, all_labels = fashion_shops(recipe, directory)
    images = np.concatenate([shop.images for shop in shops])
    labels = np.concatenate([np.full(len(shop.images), i) for i, shop in enumerate(shops)])
    null_label = len(shops)
    average: Any = train_class_conditional(
        images, labels, null_label + 1, recipe.diffusion, progress=progress
    )
    backend = ClassConditionalBackend(
        average, new_noise_scheduler(recipe.diffusion.n_train_steps), null_label=null_label
    )
    output.mkdir(parents=True, exist_ok=True)
    backend.save_pretrained(output)

    spare = unused_rows(len(all_images), shops)
    chosen = np.random.default_rng(recipe.diffusion.seed).permutation(spare)[
        : recipe.classifier_images
    ]
    classifier = train_digits_classifier(
        all_images[chosen],
        all_labels[chosen],
        epochs=recipe.classifier_epochs,
        seed=recipe.diffusion.seed,
        progress=progress,
    )
    classifier.save(output / "classifier.safetensors")
    test_images, test_labels = load_fashion_mnist(directory, "test")
    accuracy = float(np.mean(classifier.predict(test_images) == test_labels))
    record = {
        "recipe": asdict(recipe),
        "dataset": str(directory),
        "null_label": null_label,
        "shop_keys": [shop.key for shop in shops],
        "classifier_test_accuracy": accuracy,
        "unet_sha256": state_dict_sha256(average),
        "unet_file_sha256": file_sha256(output / "unet" / "diffusion_pytorch_model.safetensors"),
        "classifier_sha256": file_sha256(output / "classifier.safetensors"),
    }
    text = json.dumps(record, indent=2) + "\n"
    (output / "recipe.json").write_text(text)
    written: dict[str, Any] = json.loads(text)  # tuples become lists, as a later load sees them
    return written


def load_fashion_models(
    weights: Path, device: str = "cpu"
) -> tuple[ClassConditionalBackend, DigitsClassifier, dict[str, Any]]:
    """Load what ``train_fashion_models`` wrote, verifying the checksums.

    Raises:
        EngineInputError: If nothing was trained at ``weights`` or a checksum does not match.
    """
    if not (weights / "recipe.json").exists():
        raise EngineInputError(
            f"no trained Fashion-MNIST models at {weights}; train_fashion_models writes them."
        )
    return load_digits_models(weights, device)
