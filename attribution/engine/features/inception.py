"""Inception-v3 from a TorchScript file: 2048-d pool features and class probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.features.base import (
    Features,
    file_identity,
    require_path,
    rows_to_simplex,
    to_rgb_uint8,
)

PROBE_SIZE = 64  # side of the blank image that measures the embedding width (the model resizes)


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
        self._width: int | None = None

    @property
    def embedding_width(self) -> int:
        """d of the pool features (2048 for the FID tools' export), measured once on a probe."""
        if self._width is None:
            probe = np.zeros((1, 3, PROBE_SIZE, PROBE_SIZE), dtype=np.float32)
            self._width = int(self(probe).embeddings.shape[1])
        return self._width

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
        pixels = to_rgb_uint8(images)
        embeddings, probabilities = [], []
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                batch = torch.from_numpy(pixels[start : start + self.batch_size]).to(self.device)
                embeddings.append(model(batch, return_features=True).double().cpu().numpy())
                probabilities.append(model(batch).double().cpu().numpy())
        return Features(rows_to_simplex(np.concatenate(probabilities)), np.concatenate(embeddings))

    def describe(self) -> dict[str, Any]:
        return {"featurizer": "inception-torchscript", "file": file_identity(self.path)}
