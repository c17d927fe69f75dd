"""Tiny local models for the featurizer tests: a TorchScript "Inception" and a random CLIP.

Nothing is downloaded: the TorchScript module is scripted here and the CLIP model is built from a
config (seed 0) and saved with ``save_pretrained``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

N_EMBEDDING = 8
N_CLASSES = 4


def random_images(count: int, channels: int = 3, size: int = 16, seed: int = 0) -> np.ndarray:
    """Float32 images in [0, 1], shape (count, channels, size, size)."""
    rng = np.random.default_rng(seed)
    return rng.random((count, channels, size, size)).astype(np.float32)


class TinyInception(torch.nn.Module):
    """Stands in for the FID tools' Inception export: uint8 (K, 3, H, W) in, floats out.

    Features are the three channel means (in [0, 1]) followed by 5 learned values; without
    ``return_features`` it returns softmax probabilities over 4 classes (or logits when
    ``logits`` is set, like exports that skip the softmax).
    """

    def __init__(self, logits: bool = False) -> None:
        super().__init__()
        self.logits = logits
        self.hidden = torch.nn.Linear(3, N_EMBEDDING - 3)
        self.head = torch.nn.Linear(N_EMBEDDING, N_CLASSES)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        if x.dtype != torch.uint8 or x.dim() != 4 or x.size(1) != 3:
            raise RuntimeError("expected uint8 images of shape (K, 3, H, W)")
        means = x.float().mean(dim=(2, 3)) / 255.0
        features = torch.cat([means, torch.tanh(self.hidden(means))], dim=1)
        if return_features:
            return features
        scores = 5.0 * self.head(features)
        return scores if self.logits else torch.softmax(scores, dim=1)


def save_tiny_inception(path: Path, logits: bool = False) -> Path:
    torch.manual_seed(0)
    torch.jit.script(TinyInception(logits)).save(str(path))
    return path


def save_tiny_clip(directory: Path) -> Path:
    """A random CLIP model (width 16, one layer, 16x16 images, 8-d projections) and processor."""
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPVisionConfig,
    )

    from tests.engine.tiny_diffusers import make_tiny_clip_tokenizer

    tokenizer = make_tiny_clip_tokenizer(directory.parent / f"{directory.name}-tokenizer")
    layers = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "projection_dim": N_EMBEDDING,
    }
    text = CLIPTextConfig(
        vocab_size=len(tokenizer.get_vocab()),
        max_position_embeddings=tokenizer.model_max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **layers,
    )
    vision = CLIPVisionConfig(image_size=16, patch_size=8, **layers)
    config = CLIPConfig(
        text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=N_EMBEDDING
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(directory)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory
