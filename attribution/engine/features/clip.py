"""CLIP from a local transformers directory: image and text embeddings, zero-shot probabilities."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.features.base import Features, file_identity, require_path, to_rgb_uint8

if TYPE_CHECKING:
    import torch


class ClipFeaturizer:
    """CLIP image embeddings and zero-shot class probabilities from a local transformers model.

    Embeddings are the projected image features, L2-normalised (unit rows, as the LAION aesthetic
    heads and CLIP's own similarity expect). Zero-shot probabilities are CLIP's: a softmax over
    the prompts of ``logit_scale · cos(image, prompt)``.

    Args:
        path: A local directory holding a CLIP model and processor (``save_pretrained`` output).
        class_prompts: One text prompt per class for the ``probabilities`` of ``__call__`` ("a
            photo of a dress", ...); empty gives embeddings only.
        device: Torch device.
        batch_size: Images per forward pass.
    """

    def __init__(
        self,
        path: str | Path,
        class_prompts: Sequence[str] = (),
        device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        self.path = require_path(path, "the CLIP model directory")
        self.class_prompts = list(class_prompts)
        self.device = device
        self.batch_size = batch_size
        self._loaded: tuple[Any, Any] | None = None
        self._texts: dict[str, NDArray[np.float64]] = {}

    @property
    def embedding_width(self) -> int:
        """d, the width of the projected embeddings, read from ``config.json`` (no weights load)."""
        config = self._config()
        width = config.get("projection_dim")
        if not isinstance(width, int) or width < 1:
            raise EngineInputError(
                f"{self.path / 'config.json'} has no positive integer projection_dim; is it a "
                "CLIPModel saved with save_pretrained?"
            )
        return width

    def _config(self) -> dict[str, Any]:
        config = self.path / "config.json"
        if not config.is_file():
            raise EngineInputError(
                f"{self.path} is not a CLIP model directory: it has no config.json."
            )
        try:
            loaded: dict[str, Any] = json.loads(config.read_text())
        except (OSError, ValueError) as error:
            raise EngineInputError(f"cannot read {config}: {error}") from error
        return loaded

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from transformers import CLIPModel, CLIPProcessor

            try:
                model = CLIPModel.from_pretrained(self.path, local_files_only=True)
                processor = CLIPProcessor.from_pretrained(self.path, local_files_only=True)
            except (OSError, ValueError) as error:
                raise EngineInputError(
                    f"{self.path} is not a CLIP model directory: {error}"
                ) from error
            loaded: Any = model
            self._loaded = (loaded.to(self.device).eval(), processor)
        return self._loaded

    @property
    def logit_scale(self) -> float:
        """CLIP's learned temperature exp(logit_scale) (100 for the released models)."""
        model, _ = self._load()
        return float(model.logit_scale.detach().exp())

    def embed_images(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        """Unit image embeddings, shape (K, d), of images (K, 1 or 3, H, W) in [0, 1]."""
        import torch

        model, processor = self._load()
        pixels = list(to_rgb_uint8(images).transpose(0, 2, 3, 1))
        embeddings = []
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                inputs = processor(
                    images=pixels[start : start + self.batch_size], return_tensors="pt"
                )
                features = model.get_image_features(
                    pixel_values=inputs["pixel_values"].to(self.device)
                )
                embeddings.append(_normalise(_projected(features)).double().cpu().numpy())
        return np.concatenate(embeddings)

    def embed_texts(self, prompts: Sequence[str]) -> NDArray[np.float64]:
        """Unit text embeddings, shape (T, d), one per prompt (each prompt encoded once, cached)."""
        import torch

        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise EngineInputError("prompts must be a list of strings.")
        missing = sorted({p for p in prompts if p not in self._texts})
        if missing:
            model, processor = self._load()
            with torch.inference_mode():
                for start in range(0, len(missing), self.batch_size):
                    chunk = missing[start : start + self.batch_size]
                    text = processor(text=chunk, return_tensors="pt", padding=True, truncation=True)
                    features = model.get_text_features(
                        **{k: v.to(self.device) for k, v in text.items()}
                    )
                    rows = _normalise(_projected(features)).double().cpu().numpy()
                    self._texts.update(zip(chunk, rows, strict=True))
        width = self.embedding_width
        return np.stack([self._texts[p] for p in prompts]) if prompts else np.zeros((0, width))

    def zero_shot_probabilities(
        self, embeddings: NDArray[np.float64], prompts: Sequence[str]
    ) -> NDArray[np.float64]:
        """CLIP's zero-shot p(prompt | image), shape (K, T), from unit image embeddings (K, d).

        A softmax over the prompts of ``logit_scale · cos(image, prompt)``.
        """
        if len(prompts) < 1:
            raise EngineInputError("zero-shot probabilities need at least one prompt.")
        texts = self.embed_texts(prompts)
        check_width(embeddings, texts.shape[1], "the CLIP image embeddings")
        logits = self.logit_scale * (embeddings @ texts.T)
        logits -= logits.max(axis=1, keepdims=True)
        exponentials = np.exp(logits)
        probabilities: NDArray[np.float64] = exponentials / exponentials.sum(axis=1, keepdims=True)
        return probabilities

    def __call__(self, images: NDArray[np.float32]) -> Features:
        embeddings = self.embed_images(images)
        probabilities = (
            self.zero_shot_probabilities(embeddings, self.class_prompts)
            if self.class_prompts
            else None
        )
        return Features(probabilities, embeddings)

    def describe(self) -> dict[str, Any]:
        self._config()
        return {
            "featurizer": "clip",
            "directory": sorted(p.name for p in self.path.iterdir()),
            "config": file_identity(self.path / "config.json"),
            "class_prompts": self.class_prompts,
        }


def check_width(embeddings: NDArray[np.float64], width: int, what: str) -> None:
    """Raise unless ``embeddings`` is (K, width)."""
    if embeddings.ndim != 2 or embeddings.shape[1] != width:
        raise EngineInputError(
            f"{what} must have shape (K, {width}), got {embeddings.shape}; were they computed "
            "by the same CLIP model?"
        )


def _projected(output: Any) -> torch.Tensor:
    """The projected embedding: transformers 5 wraps it in an output object (``pooler_output``)."""
    tensor: torch.Tensor = getattr(output, "pooler_output", output)
    return tensor


def _normalise(features: torch.Tensor) -> torch.Tensor:
    normalised: torch.Tensor = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return normalised
