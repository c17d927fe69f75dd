"""The embedded feature extractor: a small CNN trained on the real digits in seconds.

It stands in for Inception-v3: its class probabilities give the Inception Score and label fidelity,
its 32-d penultimate layer the Fréchet distance.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.features import Features
from attribution.engine.progress import Progress, report

if TYPE_CHECKING:
    import torch

EMBEDDING_SIZE = 32
N_CLASSES = 10


def build_network() -> torch.nn.Module:
    """conv(1→16) → pool → conv(16→32) → pool → 32-d embedding → 10 logits, for 16x16 inputs."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, EMBEDDING_SIZE),
        nn.ReLU(),
        nn.Linear(EMBEDDING_SIZE, N_CLASSES),
    )


class DigitsClassifier:
    """Featurizer over a trained ``build_network()``; images (K, 1, 16, 16) in [0, 1]."""

    def __init__(
        self, network: torch.nn.Module, device: str = "cpu", batch_size: int = 256
    ) -> None:
        self.network = network.to(device).eval()
        self.device = device
        self.batch_size = batch_size

    def __call__(self, images: NDArray[np.float32]) -> Features:
        import torch

        if images.ndim != 4 or images.shape[1:] != (1, 16, 16):
            raise EngineInputError(
                f"the digits classifier takes (K, 1, 16, 16), got {images.shape}."
            )
        layers: Any = self.network
        body, head = layers[:-1], layers[-1]
        embeddings, probabilities = [], []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = torch.from_numpy(
                    np.ascontiguousarray(images[start : start + self.batch_size])
                )
                hidden = body(batch.to(self.device).float())
                embeddings.append(hidden.double().cpu().numpy())
                probabilities.append(torch.softmax(head(hidden).double(), dim=1).cpu().numpy())
        return Features(np.concatenate(probabilities), np.concatenate(embeddings))

    def predict(self, images: NDArray[np.float32]) -> NDArray[np.int64]:
        """Most probable digit per image."""
        probabilities = self(images).probabilities
        assert probabilities is not None
        return np.asarray(probabilities.argmax(axis=1), dtype=np.int64)

    def describe(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        for name, tensor in sorted(self.network.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
        return {"featurizer": "digits-cnn", "weights_sha256": digest.hexdigest()}

    def save(self, path: Path) -> None:
        """Write the weights as safetensors."""
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.network.state_dict().items()}, str(path))

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> DigitsClassifier:
        """Read weights written by ``save``."""
        from safetensors.torch import load_file

        if not path.exists():
            raise EngineInputError(f"no digits classifier weights at {path}.")
        network = build_network()
        network.load_state_dict(load_file(str(path)))
        return cls(network, device)


def train_digits_classifier(
    images: NDArray[np.float32],
    labels: NDArray[np.int64],
    *,
    epochs: int = 30,
    seed: int = 0,
    progress: Progress | None = None,
) -> DigitsClassifier:
    """Train ``build_network()`` with Adam on real digits (a few seconds on one CPU thread).

    Light augmentation (±1 pixel shifts) keeps it robust to the small misalignments of generated
    digits.
    """
    import torch

    torch.manual_seed(seed)
    network = build_network()
    optimiser = torch.optim.Adam(network.parameters(), lr=2e-3)
    inputs = torch.from_numpy(images).float()
    targets = torch.from_numpy(labels).long()
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            shift = torch.randint(-1, 2, (2,), generator=generator)
            batch = torch.roll(inputs[rows], shifts=(int(shift[0]), int(shift[1])), dims=(2, 3))
            loss = torch.nn.functional.cross_entropy(network(batch), targets[rows])
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        report(progress, "train classifier", epoch + 1, epochs)
    return DigitsClassifier(network.eval())
