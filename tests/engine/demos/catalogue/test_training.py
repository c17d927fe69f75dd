"""Training, recording and loading the catalogue models; the shipped weights and what they do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from attribution.engine.__main__ import build_parser
from attribution.engine.demos.catalogue.clip_training import ClipRecipe
from attribution.engine.demos.catalogue.pipeline_training import PipelineRecipe
from attribution.engine.demos.catalogue.shops import type_prompts
from attribution.engine.demos.catalogue.training import (
    SHIPPED_WEIGHTS,
    load_catalogue_models,
    train_catalogue_models,
    weight_checksums,
)
from attribution.engine.demos.fashion.data import DEFAULT_DIRECTORY, load_fashion_mnist
from attribution.engine.errors import EngineInputError
from tests.engine.demos.catalogue.conftest import TINY


def test_the_cli_defaults_are_the_shipped_recipe() -> None:
    args = build_parser().parse_args(["train-fashion-catalogue", "--output", "out"])
    assert args.clip_steps == ClipRecipe().steps
    assert (args.vae_steps, args.unet_steps) == (PipelineRecipe().vae_steps, 5000)
    assert args.run.__name__ == "run_train_fashion_catalogue"


@pytest.mark.slow
def test_training_records_measurements_and_checksums_that_loading_checks(
    fake_fashion: Path, tmp_path: Path
) -> None:
    output = train_catalogue_models(tmp_path / "weights", TINY, fake_fashion)
    record = json.loads((output / "recipe.json").read_text())
    assert set(record["sha256"]) == {
        "clip/model.safetensors",
        "pipeline/text_encoder/model.safetensors",
        "pipeline/unet/diffusion_pytorch_model.safetensors",
        "pipeline/vae/diffusion_pytorch_model.safetensors",
    }
    measured = record["measurements"]
    assert measured["n_real_test"] == 100
    assert 0.0 <= measured["zero_shot_accuracy_generated"] <= 1.0
    assert record["recipe"]["pipeline"]["unet_steps"] == 3
    assert load_catalogue_models(output).record == record
    unet = output / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors"
    unet.write_bytes(unet.read_bytes()[:-1] + b"\x00")
    with pytest.raises(EngineInputError, match="unet"):
        load_catalogue_models(output)


def test_missing_weights_say_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="train-fashion-catalogue"):
        load_catalogue_models(tmp_path)


def test_the_shipped_weights_match_their_checksums_and_are_small(tmp_path: Path) -> None:
    models = load_catalogue_models()
    assert models.record["sha256"] == weight_checksums(SHIPPED_WEIGHTS)
    size = sum(p.stat().st_size for p in SHIPPED_WEIGHTS.rglob("*") if p.is_file())
    assert size < 8 * 1024 * 1024
    copy = shutil.copytree(SHIPPED_WEIGHTS, tmp_path / "copy")
    (copy / "clip" / "model.safetensors").unlink()
    with pytest.raises(EngineInputError, match="clip"):
        load_catalogue_models(copy)


def test_the_shipped_pipeline_passes_the_text_to_image_profile_check() -> None:
    from attribution.engine.profiles.base import ModelSpec
    from attribution.engine.profiles.text_to_image import TextToImageProfile

    models = load_catalogue_models()
    spec = ModelSpec(
        kind="text_to_image",
        path=str(models.pipeline),
        conditions="prompt",
        clip_path=str(models.clip),
        class_prompts=type_prompts(),
    )
    assert TextToImageProfile().check(spec) == []


@pytest.mark.skipif(not DEFAULT_DIRECTORY.is_dir(), reason="needs dataset-fashion-mnist")
def test_the_shipped_clip_names_real_test_products() -> None:
    """Zero-shot on 1,000 real test photos, through the engine's CLIP featurizer (chance: 0.1)."""
    from attribution.engine.features import ClipFeaturizer

    images, labels = load_fashion_mnist(split="test")
    featurizer = ClipFeaturizer(load_catalogue_models().clip)
    probabilities = featurizer.zero_shot_probabilities(
        featurizer.embed_images(images[:1000]), list(type_prompts())
    )
    assert np.mean(probabilities.argmax(axis=1) == labels[:1000]) > 0.7
