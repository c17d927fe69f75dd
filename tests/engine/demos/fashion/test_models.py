"""Training and loading the Fashion-MNIST models on a fake dataset with a tiny recipe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attribution.engine.demos.fashion.models import (
    FashionRecipe,
    fashion_shops,
    load_fashion_models,
    train_fashion_models,
)
from attribution.engine.diffusion_training import TrainRecipe
from attribution.engine.errors import EngineInputError

# widths (8, 16) suit the UNet factory's group norms; a few steps keep this to seconds.
# The fake dataset holds 120 images a class, so its shops are small too.
TINY = FashionRecipe(
    n_shops=4,
    min_shop_size=20,
    max_shop_size=30,
    diffusion=TrainRecipe(steps=3, widths=(8, 16)),
    classifier_images=600,
    classifier_epochs=8,
)


@pytest.fixture(scope="module")
def trained(fashion_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    output = tmp_path_factory.mktemp("fashion-models")
    return output, train_fashion_models(output, TINY, fashion_dir)


def test_training_writes_a_verifiable_record(trained: tuple[Path, Any], fashion_dir: Path) -> None:
    output, record = trained
    assert json.loads((output / "recipe.json").read_text()) == record
    assert record["null_label"] == TINY.n_shops
    assert record["shop_keys"] == [f"shop{i:02d}" for i in range(TINY.n_shops)]
    # The fake classes are bright squares in class-specific cells: 8 epochs learn them
    # (chance is 0.1).
    assert record["classifier_test_accuracy"] > 0.5
    backend, classifier, loaded = load_fashion_models(output)
    assert loaded == record
    samples = backend.generate([0, 3], 2, seed=0)
    assert samples.shape == (2, 1, 16, 16)
    features = classifier(samples)
    assert features.probabilities is not None
    assert features.probabilities.shape == (2, 10)


def test_classifier_never_sees_a_shop_image(trained: tuple[Path, Any], fashion_dir: Path) -> None:
    shops, images, _ = fashion_shops(TINY, fashion_dir)
    held = np.concatenate([shop.rows for shop in shops])
    assert 0 < len(held) < len(images)  # the rest (and only the rest) may train the classifier


def test_loading_refuses_missing_or_tampered_weights(
    trained: tuple[Path, Any], tmp_path: Path
) -> None:
    with pytest.raises(EngineInputError, match="no trained Fashion-MNIST models"):
        load_fashion_models(tmp_path)
    output, _ = trained
    tampered = tmp_path / "tampered"
    shutil.copytree(output, tampered)
    with (tampered / "classifier.safetensors").open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(EngineInputError, match="checksum"):
        load_fashion_models(tampered)
