"""An aesthetic head: a linear layer or small MLP on CLIP image embeddings, from a local file.

The LAION aesthetic predictors are such heads: v1 (``sa_0_4_vit_l_14_linear.pth``) is one
``Linear(768, 1)``; the "improved" predictor (``sac+logos+ava1-l14-linearMSE.pth``) is five linear
layers 768 → 1024 → 128 → 64 → 16 → 1 with dropout between them and no activation. Both take the
L2-normalised CLIP ViT-L/14 image embedding, which :class:`~attribution.engine.features.clip.
ClipFeaturizer` returns.

**File format.** A safetensors file (never a pickle) holding, for each layer j, a ``weight`` of
shape (out, in) and a ``bias`` of shape (out,), named either ``weight``/``bias`` (one layer) or
``<prefix>.<j>.weight``/``<prefix>.<j>.bias`` with integer j, layers applied in increasing j (so
a LAION ``state_dict`` saved as is — ``layers.0``, ``layers.2``, …, ``layers.7`` — works). Widths
must chain and the last layer must have one output. Optional metadata ``activation``: ``"none"``
(default, as LAION's) or ``"relu"`` between layers. docs/metrics.md shows the conversion.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.features.base import require_path

ACTIVATIONS = ("none", "relu")
_LAYER_KEY = re.compile(r"^(?:(?P<prefix>.+)\.)?(?P<index>\d+)\.(?P<kind>weight|bias)$")

Layer = tuple[NDArray[np.float64], NDArray[np.float64]]


class AestheticHead:
    """score(x) = layer_L(… act(layer_1(x))) for embeddings x of width ``input_width``.

    Args:
        layers: (weight (out, in), bias (out,)) per layer, applied in order; widths must chain
            and the last ``out`` must be 1.
        activation: ``"none"`` or ``"relu"`` between layers (not after the last).
        source: What the head was read from, for :meth:`describe`.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        activation: str = "none",
        source: dict[str, Any] | None = None,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise EngineInputError(
                f"the aesthetic head's activation must be one of {ACTIVATIONS}, got {activation!r}."
            )
        self.layers = _check_layers(layers)
        self.activation = activation
        self.source = source

    @classmethod
    def load(cls, path: str | Path) -> AestheticHead:
        """Read a head from a safetensors file (format in the module docstring).

        Raises:
            EngineInputError: Missing or unreadable file, unexpected tensor names, widths that do
                not chain, a last layer with more than one output, or an unknown activation.
        """
        from safetensors import SafetensorError, safe_open

        file = require_path(path, "the aesthetic head file")
        try:
            with safe_open(str(file), framework="numpy") as opened:
                metadata = opened.metadata() or {}
                tensors = {key: opened.get_tensor(key) for key in opened.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError, TypeError) as error:
            raise EngineInputError(
                f"{file} is not a safetensors file of a linear or MLP head ({error}); convert a "
                "LAION .pth as docs/metrics.md shows."
            ) from error
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        source = {"file": file.name, "sha256": digest}
        return cls(_layers_from_tensors(tensors, file), metadata.get("activation", "none"), source)

    @property
    def input_width(self) -> int:
        """The embedding width the head takes (768 for LAION's ViT-L/14 heads)."""
        return int(self.layers[0][0].shape[1])

    def check_width(self, width: int, featurizer: str = "the CLIP model") -> None:
        """Raise unless the head takes embeddings of ``width`` (the featurizer's width)."""
        if width != self.input_width:
            raise EngineInputError(
                f"the aesthetic head takes {self.input_width}-d embeddings but {featurizer} "
                f"gives {width}-d ones; use the head trained on that CLIP model's embeddings."
            )

    def __call__(self, embeddings: NDArray[np.float64]) -> NDArray[np.float64]:
        """Scores, shape (K,), of embeddings of shape (K, input_width)."""
        values = np.asarray(embeddings, dtype=np.float64)
        if values.ndim != 2:
            raise EngineInputError(f"embeddings must have shape (K, d), got {values.shape}.")
        self.check_width(int(values.shape[1]), "these embeddings")
        for position, (weight, bias) in enumerate(self.layers):
            values = values @ weight.T + bias
            if self.activation == "relu" and position < len(self.layers) - 1:
                values = np.maximum(values, 0.0)
        scores: NDArray[np.float64] = values[:, 0]
        return scores

    def describe(self) -> dict[str, Any]:
        """JSON-able identity: the file's sha256 (or the widths when built in memory)."""
        widths = [self.input_width] + [int(weight.shape[0]) for weight, _ in self.layers]
        return {"head": "aesthetic", "widths": widths, "activation": self.activation} | (
            {"source": self.source} if self.source else {}
        )


def _layers_from_tensors(tensors: dict[str, NDArray[Any]], file: Path) -> list[Layer]:
    """Order ``weight``/``bias`` pairs by their layer index; one bare pair is one layer."""
    if set(tensors) == {"weight", "bias"}:
        return [(tensors["weight"], tensors["bias"])]
    layers: dict[int, dict[str, NDArray[Any]]] = {}
    prefixes = set()
    for key, tensor in tensors.items():
        match = _LAYER_KEY.match(key)
        if match is None:
            raise EngineInputError(
                f"{file} holds a tensor {key!r}; an aesthetic head holds only 'weight'/'bias' or "
                "'<prefix>.<j>.weight'/'<prefix>.<j>.bias' tensors."
            )
        prefixes.add(match["prefix"])
        layers.setdefault(int(match["index"]), {})[match["kind"]] = tensor
    if len(prefixes) > 1 or not layers:
        raise EngineInputError(f"{file} must hold one head's layers, found prefixes {prefixes}.")
    incomplete = [j for j, pair in layers.items() if set(pair) != {"weight", "bias"}]
    if incomplete:
        raise EngineInputError(f"{file}: layers {incomplete} lack a weight or a bias.")
    return [(layers[j]["weight"], layers[j]["bias"]) for j in sorted(layers)]


def _check_layers(layers: Sequence[Layer]) -> list[Layer]:
    """Float64 copies of the layers, or raise unless the widths chain down to one output."""
    if not layers:
        raise EngineInputError("an aesthetic head needs at least one layer.")
    checked: list[Layer] = []
    for position, (weight, bias) in enumerate(layers):
        w = np.array(weight, dtype=np.float64)
        b = np.array(bias, dtype=np.float64)
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise EngineInputError(
                f"layer {position} of the aesthetic head needs weight (out, in) and bias (out,), "
                f"got {w.shape} and {b.shape}."
            )
        if checked and w.shape[1] != checked[-1][0].shape[0]:
            raise EngineInputError(
                f"layer {position} of the aesthetic head takes {w.shape[1]} inputs but the layer "
                f"before gives {checked[-1][0].shape[0]}."
            )
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise EngineInputError(f"layer {position} of the aesthetic head holds NaN or inf.")
        checked.append((w, b))
    if checked[-1][0].shape[0] != 1:
        raise EngineInputError(
            f"the aesthetic head's last layer must have one output (the score), got "
            f"{checked[-1][0].shape[0]}."
        )
    return checked
