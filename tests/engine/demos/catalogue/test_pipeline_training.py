"""The catalogue pipeline: a StableDiffusionPipeline that the engine's backend loads unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from attribution.engine.demos.catalogue.clip_training import ClipRecipe, new_clip
from attribution.engine.demos.catalogue.pipeline_training import (
    PipelineRecipe,
    encode_prompts,
    text_encoder_from_clip,
    train_pipeline,
)
from attribution.engine.demos.catalogue.vocabulary import make_tokenizer
from attribution.engine.generation import TextToImageBackend

TINY = PipelineRecipe(
    vae_widths=(8, 8), vae_steps=30, unet_widths=(8, 16), unet_steps=5, batch_size=8
)


def test_the_text_encoder_is_the_clip_text_tower(tmp_path: Path) -> None:
    tokenizer = make_tokenizer(tmp_path)
    clip = new_clip(tokenizer, ClipRecipe(width=16, layers=1, heads=2, projection_dim=8)).eval()
    encoder = text_encoder_from_clip(clip)
    ids = tokenizer(["a dark casual top"], padding="max_length", max_length=16).input_ids
    with torch.no_grad():
        expected = clip.text_model(torch.tensor(ids)).last_hidden_state
    torch.testing.assert_close(encode_prompts(encoder, tokenizer, ["a dark casual top"]), expected)
    assert not any(p.requires_grad for p in encoder.parameters())


@pytest.mark.slow
def test_a_tiny_training_saves_a_pipeline_the_backend_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.random((64, 1, 16, 16)).astype(np.float32)
    captions = [f"a dark casual {'top' if i % 2 else 'bag'}" for i in range(64)]
    tokenizer = make_tokenizer(tmp_path / "tokenizer")
    clip = new_clip(tokenizer, ClipRecipe(width=16, layers=1, heads=2, projection_dim=8))
    pipeline = train_pipeline(images, captions, clip, tokenizer, TINY)
    with torch.no_grad():
        latents = pipeline.vae.encode(torch.from_numpy(images * 2 - 1)).latent_dist.mean
    scaled = latents * pipeline.vae.config.scaling_factor
    assert float(scaled.std()) == pytest.approx(1.0, rel=0.05)  # Stable Diffusion's convention
    pipeline.save_pretrained(tmp_path / "pipeline")
    index = json.loads((tmp_path / "pipeline" / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    backend = TextToImageBackend.from_pretrained(tmp_path / "pipeline", n_steps=2)
    samples = backend.generate(["a dark casual top"], 3, seed=5)
    assert samples.shape == (3, 1, 16, 16)
    np.testing.assert_array_equal(samples, backend.generate(["a dark casual top"], 3, seed=5))
