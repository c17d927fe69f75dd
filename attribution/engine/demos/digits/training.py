"""Training the embedded demo's models: the digits diffusion model and the digits classifier.

``python -m attribution.engine train-digits --output DIR`` runs ``train_digits_models`` and writes
``DIR/unet``, ``DIR/scheduler``, ``DIR/classifier.safetensors`` and ``DIR/recipe.json`` (the recipe,
seeds and SHA-256 checksums of the weights). The repository ships the weights this command produced,
so tests and CI need not retrain; rerunning it with the recorded recipe reproduces them on the same
torch build and CPU (floating-point results may differ across builds and hardware).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from attribution.engine.demos.digits.classifier import DigitsClassifier, train_digits_classifier
from attribution.engine.demos.digits.data import load_digit_images, make_digits_marketplace
from attribution.engine.diffusion_training import TrainRecipe, train_class_conditional
from attribution.engine.errors import EngineInputError
from attribution.engine.generation import (
    ClassConditionalBackend,
    file_sha256,
    new_noise_scheduler,
    state_dict_sha256,
)
from attribution.engine.progress import Progress

SHIPPED_WEIGHTS = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class DigitsRecipe:
    """Everything that determines the demo's trained weights."""

    data_seed: int = 0
    seed: int = 0
    steps: int = 900
    batch_size: int = 64
    learning_rate: float = 2e-3
    widths: tuple[int, ...] = (32, 64, 64)
    n_train_steps: int = 1000
    label_dropout: float = 0.1
    ema_decay: float = 0.995
    classifier_epochs: int = 30


def train_digits_models(
    output: Path, recipe: DigitsRecipe | None = None, progress: Progress | None = None
) -> Path:
    """Train the DDPM (conditioned on contributor) and the classifier; save them to ``output``.

    The diffusion model has one class label per contributor plus a null label (index
    ``n_contributors``) that replaces 10% of labels in training, for classifier-free guidance.
    The saved UNet is the exponential moving average of the trained weights.
    """
    recipe = recipe or DigitsRecipe()
    contributors = make_digits_marketplace(recipe.data_seed)
    images = np.concatenate([c.images for c in contributors])
    labels = np.concatenate([np.full(len(c.images), i) for i, c in enumerate(contributors)])
    null_label = len(contributors)
    average: Any = train_class_conditional(
        images, labels, null_label + 1, diffusion_recipe(recipe), progress=progress
    )
    scheduler = new_noise_scheduler(recipe.n_train_steps)
    backend = ClassConditionalBackend(average, scheduler, null_label=null_label)
    output.mkdir(parents=True, exist_ok=True)
    backend.save_pretrained(output)
    real_images, real_labels = load_digit_images()
    classifier = train_digits_classifier(
        real_images,
        real_labels,
        epochs=recipe.classifier_epochs,
        seed=recipe.seed,
        progress=progress,
    )
    classifier.save(output / "classifier.safetensors")
    record = {
        "recipe": asdict(recipe),
        "command": f"python -m attribution.engine train-digits --output {output}",
        "null_label": null_label,
        "versions": _versions(),
        "unet_sha256": state_dict_sha256(average),
        "unet_file_sha256": file_sha256(output / "unet" / "diffusion_pytorch_model.safetensors"),
        "classifier_sha256": file_sha256(output / "classifier.safetensors"),
    }
    (output / "recipe.json").write_text(json.dumps(record, indent=2) + "\n")
    return output


def diffusion_recipe(recipe: DigitsRecipe) -> TrainRecipe:
    """The diffusion half of a digits recipe (the generic trainer's recipe)."""
    return TrainRecipe(
        steps=recipe.steps,
        batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        widths=recipe.widths,
        n_train_steps=recipe.n_train_steps,
        label_dropout=recipe.label_dropout,
        ema_decay=recipe.ema_decay,
        seed=recipe.seed,
    )


def load_digits_models(
    weights: Path = SHIPPED_WEIGHTS, device: str = "cpu", **options: Any
) -> tuple[ClassConditionalBackend, DigitsClassifier, dict[str, Any]]:
    """Load the backend, the classifier and the recipe record written by ``train_digits_models``.

    Raises:
        EngineInputError: If the directory is incomplete or a checksum does not match the recipe.
    """
    recipe_path = weights / "recipe.json"
    if not recipe_path.exists():
        raise EngineInputError(
            f"no trained digits models at {weights}; run "
            f"`python -m attribution.engine train-digits --output {weights}` (about 5 minutes)."
        )
    record: dict[str, Any] = json.loads(recipe_path.read_text())
    unet_file = weights / "unet" / "diffusion_pytorch_model.safetensors"
    for path, expected in (
        (unet_file, record["unet_file_sha256"]),
        (weights / "classifier.safetensors", record["classifier_sha256"]),
    ):
        if not path.exists() or file_sha256(path) != expected:
            raise EngineInputError(
                f"{path} is missing or does not match the checksum in {recipe_path}; retrain."
            )
    backend = ClassConditionalBackend.from_pretrained(
        weights, device, null_label=record["null_label"], **options
    )
    classifier = DigitsClassifier.load(weights / "classifier.safetensors", device)
    return backend, classifier, record


def _versions() -> dict[str, str]:
    return {name: version(name) for name in ("torch", "diffusers", "numpy")}
