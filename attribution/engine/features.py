"""Feature extractors: images → class probabilities and embeddings, computed once per sample bank.

A *featurizer* is any callable mapping images of shape (K, channels, H, W), float in [0, 1], to
``Features``. The embedded default is the small digits classifier
(``attribution.engine.demos.digits.classifier``); real deployments load Inception-v3 (a
TorchScript file, as used by the standard FID implementations) or a CLIP model from a local
path. Nothing here downloads weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Features:
    """Per-sample outputs of a featurizer.

    Attributes:
        probabilities: Class probabilities, shape (K, n_classes), rows summing to 1; None for
            featurizers without a classifier head.
        embeddings: Feature vectors, shape (K, d), for Fréchet distances and linear score heads.
    """

    probabilities: NDArray[np.float64] | None
    embeddings: NDArray[np.float64]


class Featurizer(Protocol):
    """Maps a batch of images to ``Features``."""

    def __call__(self, images: NDArray[np.float32]) -> Features:
        """Featurize images of shape (K, channels, H, W) in [0, 1]."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-able description of everything that determines the features (a cache key)."""
        ...


def require_path(path: str | Path, what: str) -> Path:
    """Return ``path`` if it exists, else raise a clear error saying what was expected there."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise EngineInputError(
            f"{what} not found at {resolved}. Download the weights once on a machine with "
            "internet access and point this setting at the local copy; nothing is fetched at "
            "run time."
        )
    return resolved


class InceptionFeaturizer:
    """Inception-v3 pool features (2048-d) and logits from a TorchScript file.

    Expects the TorchScript export used by the StyleGAN/ADM FID tools
    (``inception-2015-12-05.pt``): called as ``model(images_uint8_nchw, return_features=True)``
    for features; without the flag it returns class probabilities. Images are resized by the model.
    """

    def __init__(self, path: str | Path, device: str = "cpu", batch_size: int = 64) -> None:
        self.path = require_path(path, "the Inception TorchScript file")
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            import torch

            try:
                self._model = torch.jit.load(  # type: ignore[no-untyped-call]
                    str(self.path), map_location=self.device
                ).eval()
            except (RuntimeError, ValueError) as error:
                raise EngineInputError(
                    f"{self.path} is not a TorchScript Inception model: {error}"
                ) from error
        return self._model

    def __call__(self, images: NDArray[np.float32]) -> Features:
        import torch

        model = self._load()
        pixels = _to_rgb_uint8(images)
        embeddings, probabilities = [], []
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                batch = torch.from_numpy(pixels[start : start + self.batch_size]).to(self.device)
                embeddings.append(model(batch, return_features=True).double().cpu().numpy())
                probabilities.append(model(batch).double().cpu().numpy())
        return Features(_rows_to_simplex(np.concatenate(probabilities)), np.concatenate(embeddings))

    def describe(self) -> dict[str, Any]:
        return {"featurizer": "inception-torchscript", "file": _file_identity(self.path)}


class ClipFeaturizer:
    """CLIP image embeddings and zero-shot class probabilities from a local transformers model.

    Args:
        path: A local directory holding a CLIP model and processor (``save_pretrained`` output).
        class_prompts: One text prompt per class for zero-shot probabilities ("a photo of a
            dress", ...); empty gives embeddings only.
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

    def __call__(self, images: NDArray[np.float32]) -> Features:
        import torch

        model, processor = self._load()
        pixels = list(_to_rgb_uint8(images).transpose(0, 2, 3, 1))
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
            stacked = np.concatenate(embeddings)
            probabilities = None
            if self.class_prompts:
                text = processor(text=self.class_prompts, return_tensors="pt", padding=True)
                text_features = _normalise(
                    _projected(
                        model.get_text_features(**{k: v.to(self.device) for k, v in text.items()})
                    )
                )
                scale = float(model.logit_scale.exp())
                logits = scale * torch.from_numpy(stacked).to(text_features) @ text_features.T
                probabilities = torch.softmax(logits, dim=1).double().cpu().numpy()
        return Features(probabilities, stacked)

    def describe(self) -> dict[str, Any]:
        config = self.path / "config.json"
        if not config.is_file():
            raise EngineInputError(
                f"{self.path} is not a CLIP model directory: it has no config.json."
            )
        return {
            "featurizer": "clip",
            "directory": sorted(p.name for p in self.path.iterdir()),
            "config": _file_identity(config),
            "class_prompts": self.class_prompts,
        }


def _projected(output: Any) -> torch.Tensor:
    """The projected embedding: transformers 5 wraps it in an output object (``pooler_output``)."""
    tensor: torch.Tensor = getattr(output, "pooler_output", output)
    return tensor


def _normalise(features: torch.Tensor) -> torch.Tensor:
    normalised: torch.Tensor = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return normalised


def _to_rgb_uint8(images: NDArray[np.float32]) -> NDArray[np.uint8]:
    """(K, C, H, W) floats in [0, 1] → (K, 3, H, W) uint8, grey images repeated to RGB."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise EngineInputError(f"images must have shape (K, 1 or 3, H, W), got {images.shape}.")
    pixels = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(pixels, 3, axis=1) if pixels.shape[1] == 1 else pixels


def _rows_to_simplex(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rows as probabilities: kept if they already are, else a softmax of logits."""
    if (values >= 0).all() and np.allclose(values.sum(axis=1), 1.0, atol=1e-4):
        return np.asarray(values / values.sum(axis=1, keepdims=True), dtype=np.float64)
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def _file_identity(path: Path) -> dict[str, Any]:
    """Name, size and modification time: cheap identity for multi-GB weight files."""
    stat = path.stat()
    return {"name": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
