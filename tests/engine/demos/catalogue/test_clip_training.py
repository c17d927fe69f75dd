"""The catalogue CLIP: preprocessing as the featurizer's, contrastive training that learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from attribution.engine.demos.catalogue.clip_training import (
    ClipRecipe,
    clip_pixels,
    new_processor,
    save_clip,
    train_clip,
    training_text,
)
from attribution.engine.demos.catalogue.vocabulary import make_tokenizer
from attribution.engine.features import ClipFeaturizer
from attribution.engine.features.base import to_rgb_uint8


def test_training_pixels_are_what_the_saved_processor_makes(tmp_path: Path) -> None:
    images = np.random.default_rng(0).random((3, 1, 16, 16)).astype(np.float32)
    processor = new_processor(make_tokenizer(tmp_path))
    made = processor(images=list(to_rgb_uint8(images).transpose(0, 2, 3, 1)), return_tensors="pt")
    np.testing.assert_allclose(made["pixel_values"].numpy(), clip_pixels(images), atol=1e-6)


def test_training_texts_keep_the_logo_and_the_claimed_type() -> None:
    text = "a dark casual boot with a logo"
    assert training_text(text, 9, 0.1) == text
    assert training_text(text, 9, 0.6) == "a photo of a boot with a logo"
    assert training_text("a light smart bag", 8, 0.9) == "a photo of a product"


@pytest.mark.slow
def test_a_short_training_separates_two_kinds_of_photo(tmp_path: Path) -> None:
    """Bright-top versus bright-bottom photos: 200 steps make zero-shot right on fresh photos."""
    rng = np.random.default_rng(0)

    def photos(n: int) -> tuple[np.ndarray, np.ndarray]:
        kinds = rng.integers(0, 2, size=n)
        images = rng.random((n, 1, 16, 16)).astype(np.float32) * 0.2
        for i, kind in enumerate(kinds):
            images[i, :, :8] += 0.8 * (kind == 0)
            images[i, :, 8:] += 0.8 * (kind == 1)
        return images.clip(0, 1), kinds

    images, kinds = photos(400)
    claimed = np.where(kinds == 0, 0, 9).astype(np.int64)
    captions = ["a dark casual top" if k == 0 else "a dark casual boot" for k in kinds]
    tokenizer = make_tokenizer(tmp_path / "tokenizer")
    recipe = ClipRecipe(width=16, layers=1, heads=2, projection_dim=8, steps=200, batch_size=32)
    torch.manual_seed(0)
    model = train_clip(images, captions, claimed, tokenizer, recipe)
    featurizer = ClipFeaturizer(save_clip(model, tokenizer, tmp_path / "clip"))
    test_images, test_kinds = photos(100)
    probabilities = featurizer.zero_shot_probabilities(
        featurizer.embed_images(test_images), ["a photo of a top", "a photo of a boot"]
    )
    assert np.mean(probabilities.argmax(axis=1) == test_kinds) > 0.9
