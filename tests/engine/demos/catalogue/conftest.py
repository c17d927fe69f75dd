"""Shared by the catalogue tests: a tiny training recipe and a small fake Fashion-MNIST."""

from __future__ import annotations

from pathlib import Path

import pytest

from attribution.engine.demos.catalogue.clip_training import ClipRecipe
from attribution.engine.demos.catalogue.pipeline_training import PipelineRecipe
from attribution.engine.demos.catalogue.shops import CatalogueRecipe
from attribution.engine.demos.catalogue.training import TrainingRecipe
from tests.engine.demos.fashion.conftest import fake_split, write_idx

TINY = TrainingRecipe(
    catalogue=CatalogueRecipe(
        n_shops=8, min_size=20, max_size=40, n_logo=2, n_mislabelled=1, n_degraded=1
    ),
    clip=ClipRecipe(width=16, layers=1, heads=2, projection_dim=8, steps=3, batch_size=16),
    pipeline=PipelineRecipe(
        vae_widths=(8, 8), vae_steps=3, unet_widths=(8, 16), unet_steps=3, batch_size=8
    ),
    samples_per_type=1,
)


@pytest.fixture(scope="module")
def fake_fashion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fashion")
    for n_images, seed, (image_file, label_file) in (
        (1200, 0, ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")),
        (100, 1, ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")),
    ):
        images, labels = fake_split(n_images, seed)
        write_idx(directory / image_file, images)
        write_idx(directory / label_file, labels)
    return directory
