"""Training, saving and loading the demo's models: a 3-step recipe, and the shipped weights."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from attribution.engine.demos.digits.classifier import DigitsClassifier
from attribution.engine.demos.digits.training import (
    SHIPPED_WEIGHTS,
    DigitsRecipe,
    load_digits_models,
    train_digits_models,
)
from attribution.engine.errors import EngineInputError
from attribution.engine.generation import ClassConditionalBackend, state_dict_sha256

# widths (8, 16) suit the factory's norm_num_groups=8; 3 steps and 1 classifier epoch take ~2 s.
TINY_RECIPE = DigitsRecipe(steps=3, classifier_epochs=1, widths=(8, 16))
N_CONTRIBUTORS = 20  # make_digits_marketplace's; the null label comes after them


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_digits_models(tmp_path_factory.mktemp("digits") / "weights", TINY_RECIPE)


@pytest.fixture
def trained_copy(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained directory that a test may damage."""
    return Path(shutil.copytree(trained, tmp_path / "weights"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_record(weights: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((weights / "recipe.json").read_text())
    return record


def test_training_writes_the_models_and_a_recipe_with_checksums(trained: Path) -> None:
    assert (trained / "unet" / "config.json").is_file()
    assert (trained / "scheduler" / "scheduler_config.json").is_file()
    record = read_record(trained)

    assert record["unet_file_sha256"] == sha256(
        trained / "unet" / "diffusion_pytorch_model.safetensors"
    )
    assert record["classifier_sha256"] == sha256(trained / "classifier.safetensors")
    assert record["recipe"] == json.loads(json.dumps(asdict(TINY_RECIPE)))
    assert record["null_label"] == N_CONTRIBUTORS
    assert "train-digits" in record["command"]
    assert str(trained) in record["command"]
    assert set(record["versions"]) == {"torch", "diffusers", "numpy"}
    assert record["versions"]["torch"] == torch.__version__


def test_loaded_models_generate_digit_sized_images_and_featurize_them(trained: Path) -> None:
    backend, classifier, record = load_digits_models(trained, n_steps=2)

    images = backend.generate([0, 5], 2, seed=1)

    assert images.shape == (2, 1, 16, 16)
    assert images.dtype == np.float32
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    assert backend.null_label == N_CONTRIBUTORS
    assert state_dict_sha256(backend.unet) == record["unet_sha256"]
    assert isinstance(classifier, DigitsClassifier)
    assert classifier(images).embeddings.shape == (2, 32)


def test_a_modified_classifier_file_is_refused(trained_copy: Path) -> None:
    weights = trained_copy / "classifier.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # the last byte is tensor data, so the file stays loadable
    weights.write_bytes(bytes(data))

    with pytest.raises(EngineInputError, match="checksum") as caught:
        load_digits_models(trained_copy)
    assert "classifier.safetensors" in str(caught.value)


def test_a_missing_unet_file_is_refused(trained_copy: Path) -> None:
    (trained_copy / "unet" / "diffusion_pytorch_model.safetensors").unlink()

    with pytest.raises(EngineInputError, match="missing"):
        load_digits_models(trained_copy)


def test_a_missing_directory_tells_the_user_the_training_command(tmp_path: Path) -> None:
    missing = tmp_path / "no-weights"

    with pytest.raises(EngineInputError, match="train-digits") as caught:
        load_digits_models(missing)
    assert f"--output {missing}" in str(caught.value)


def test_retraining_with_the_recorded_recipe_reproduces_the_weights(
    trained: Path, tmp_path: Path
) -> None:
    record = read_record(trained)
    recipe = DigitsRecipe(**{**record["recipe"], "widths": tuple(record["recipe"]["widths"])})

    again = read_record(train_digits_models(tmp_path / "again", recipe))

    assert again["unet_sha256"] == record["unet_sha256"]
    assert again["classifier_sha256"] == record["classifier_sha256"]


@pytest.mark.skipif(
    not (SHIPPED_WEIGHTS / "recipe.json").exists(),
    reason=(
        f"no shipped digits weights yet ({SHIPPED_WEIGHTS}/recipe.json is missing); run "
        f"`python -m attribution.engine train-digits --output {SHIPPED_WEIGHTS}`"
    ),
)
def test_the_shipped_weights_load_and_record_how_they_were_made() -> None:
    backend, classifier, record = load_digits_models()

    assert isinstance(backend, ClassConditionalBackend)
    assert isinstance(classifier, DigitsClassifier)
    assert "train-digits" in record["command"]
    assert set(record["versions"]) >= {"torch", "diffusers", "numpy"}
    assert all(record["versions"].values())
    assert record["null_label"] == N_CONTRIBUTORS
    assert state_dict_sha256(backend.unet) == record["unet_sha256"]
