"""ClipFeaturizer's text embeddings, zero-shot probabilities and widths, against the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from attribution.engine.errors import EngineInputError
from attribution.engine.features import ClipFeaturizer, InceptionFeaturizer
from tests.engine.features.tiny_models import N_EMBEDDING, random_images, save_tiny_inception

PROMPTS = ["a red cat", "a blue dog", "a watermark"]  # the tiny tokenizer takes 16 tokens
TOLERANCE = 1e-5  # float32 model outputs against the same computation redone in torch


def _direct(clip_dir: Path, images: np.ndarray, prompts: list[str]) -> np.ndarray:
    """softmax(logit_scale · cos) straight from transformers, the zero-shot recipe."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(clip_dir, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(clip_dir, local_files_only=True)
    pixels = list(np.rint(images * 255).astype(np.uint8).transpose(0, 2, 3, 1))
    inputs = processor(
        text=prompts, images=pixels, return_tensors="pt", padding=True, truncation=True
    )
    with torch.inference_mode():
        output = model(**inputs)
    return torch.softmax(output.logits_per_image, dim=1).numpy()


def test_zero_shot_probabilities_are_clips_own(tiny_clip_dir: Path) -> None:
    images = random_images(4)
    clip = ClipFeaturizer(tiny_clip_dir)

    probabilities = clip.zero_shot_probabilities(clip.embed_images(images), PROMPTS)

    np.testing.assert_allclose(
        probabilities, _direct(tiny_clip_dir, images, PROMPTS), atol=TOLERANCE
    )
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


def test_text_embeddings_are_unit_rows_in_prompt_order_and_cached(tiny_clip_dir: Path) -> None:
    clip = ClipFeaturizer(tiny_clip_dir)

    texts = clip.embed_texts(PROMPTS)
    again = clip.embed_texts([PROMPTS[2], PROMPTS[0], PROMPTS[2]])

    assert texts.shape == (3, N_EMBEDDING)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(again, texts[[2, 0, 2]])
    assert not np.allclose(texts[0], texts[1])
    assert clip.embed_texts([]).shape == (0, N_EMBEDDING)


def test_widths_are_read_without_guessing(tiny_clip_dir: Path, tmp_path: Path) -> None:
    inception = InceptionFeaturizer(save_tiny_inception(tmp_path / "inception.pt"))

    assert ClipFeaturizer(tiny_clip_dir).embedding_width == N_EMBEDDING
    assert inception.embedding_width == N_EMBEDDING


def test_zero_shot_refuses_no_prompts_and_foreign_embeddings(tiny_clip_dir: Path) -> None:
    clip = ClipFeaturizer(tiny_clip_dir)

    with pytest.raises(EngineInputError, match="at least one prompt"):
        clip.zero_shot_probabilities(np.zeros((2, N_EMBEDDING)), [])
    with pytest.raises(EngineInputError, match=r"shape \(K, 8\)"):
        clip.zero_shot_probabilities(np.zeros((2, 2048)), PROMPTS)
    with pytest.raises(EngineInputError, match="list of strings"):
        clip.embed_texts("a cat")  # type: ignore[arg-type]
