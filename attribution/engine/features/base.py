"""What every featurizer shares: the ``Features`` it returns, its protocol, path and pixel checks.

A *featurizer* is any callable mapping images of shape (K, channels, H, W), float in [0, 1], to
``Features``, with a ``describe()`` that identifies it (a cache key).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError


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


def to_rgb_uint8(images: NDArray[np.float32]) -> NDArray[np.uint8]:
    """(K, C, H, W) floats in [0, 1] → (K, 3, H, W) uint8, grey images repeated to RGB."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise EngineInputError(f"images must have shape (K, 1 or 3, H, W), got {images.shape}.")
    pixels = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(pixels, 3, axis=1) if pixels.shape[1] == 1 else pixels


def rows_to_simplex(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rows as probabilities: kept if they already are, else a softmax of logits."""
    if (values >= 0).all() and np.allclose(values.sum(axis=1), 1.0, atol=1e-4):
        return np.asarray(values / values.sum(axis=1, keepdims=True), dtype=np.float64)
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def file_identity(path: Path) -> dict[str, Any]:
    """Name, size and modification time: cheap identity for multi-GB weight files."""
    stat = path.stat()
    return {"name": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
