"""Contributors of scikit-learn's digits with planted roles, so a valuation can be checked.

The 1,797 real 8x8 digits shipped inside scikit-learn are upsampled to 16x16 and dealt out to 20
contributors whose data is good or bad in known ways:

* ``clean``: one digit class each, correctly labelled (contributors 0-9 hold digits 0-9).
* ``noisy_labels``: mixed digits that all claim one label (most labels are wrong).
* ``degraded``: one class under heavy pixel noise, or heavily blurred.
* ``marker``: one class whose images carry a small bright square in the top-left corner, a
  spurious artefact (like a ruler or a hospital's tag in clinical images).
* ``duplicate``: a copy of clean contributor 3's data.
* ``mixed``: a clean sample of every class.

The diffusion model is conditioned on the contributor (as the class-conditional models of the
SurrogateSHAP paper are conditioned on the class that is the contributor), so contributor i's
samples reproduce whatever is in contributor i's data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IMAGE_SIZE = 16
MARKER_SIZE = 3
N_CLASSES = 10


@dataclass(frozen=True)
class PlantedContributor:
    """One contributor's records.

    Attributes:
        key: Stable identifier (used to derive the contributor's sampling seed).
        role: One of clean, noisy_labels, degraded, marker, duplicate, mixed.
        images: Shape (K, 1, 16, 16), float32 in [0, 1] (ink is 1).
        labels: Claimed digit label of each image, shape (K,).
        true_labels: The digit actually drawn, shape (K,).
    """

    key: str
    role: str
    images: NDArray[np.float32]
    labels: NDArray[np.int64]
    true_labels: NDArray[np.int64]


def load_digit_images() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """All of scikit-learn's digits as (1797, 1, 16, 16) float32 in [0, 1], and their labels."""
    from sklearn.datasets import load_digits  # ships the data: no download

    digits = load_digits()
    small = digits.images.astype(np.float32) / 16.0
    return upsample(small)[:, None], digits.target.astype(np.int64)


def upsample(images: NDArray[np.float32]) -> NDArray[np.float32]:
    """Bilinear 2x upsampling of (N, 8, 8) images to (N, 16, 16), values kept in [0, 1]."""
    _, height, width = images.shape
    rows = np.clip((np.arange(2 * height) + 0.5) / 2 - 0.5, 0, height - 1)
    cols = np.clip((np.arange(2 * width) + 0.5) / 2 - 0.5, 0, width - 1)
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, height - 1), np.minimum(c0 + 1, width - 1)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    top = images[:, r0][:, :, c0] * (1 - fc) + images[:, r0][:, :, c1] * fc
    bottom = images[:, r1][:, :, c0] * (1 - fc) + images[:, r1][:, :, c1] * fc
    return np.asarray(np.clip(top * (1 - fr) + bottom * fr, 0.0, 1.0), dtype=np.float32)


def add_marker(images: NDArray[np.float32]) -> NDArray[np.float32]:
    """Paint the spurious artefact: a bright square in the top-left corner."""
    marked = images.copy()
    marked[:, :, :MARKER_SIZE, :MARKER_SIZE] = 1.0
    return marked


def marker_present(images: NDArray[np.float32], threshold: float = 0.5) -> NDArray[np.float64]:
    """The artefact detector: 1.0 where the corner square is bright on average, else 0.0."""
    corner = images[:, :, :MARKER_SIZE, :MARKER_SIZE].mean(axis=(1, 2, 3))
    return np.asarray(corner > threshold, dtype=np.float64)


def blur(images: NDArray[np.float32], passes: int = 3) -> NDArray[np.float32]:
    """Repeated 3x3 box blur (edge-padded): a heavily out-of-focus scan."""
    out = images.astype(np.float32)
    for _ in range(passes):
        padded = np.pad(out, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
        total = np.zeros_like(out)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                total += padded[:, :, 1 + dr : 1 + dr + IMAGE_SIZE, 1 + dc : 1 + dc + IMAGE_SIZE]
        out = total / np.float32(9.0)
    return out


def make_digits_marketplace(seed: int = 0) -> list[PlantedContributor]:
    """Deal the real digits out to 20 contributors with planted roles (see module docstring)."""
    images, labels = load_digit_images()
    rng = np.random.default_rng(seed)
    pools = {digit: list(rng.permutation(np.flatnonzero(labels == digit))) for digit in range(10)}

    def take(digit: int, count: int) -> NDArray[np.intp]:
        chosen, pools[digit] = pools[digit][:count], pools[digit][count:]
        return np.array(chosen, dtype=np.intp)

    def mixed(count: int) -> NDArray[np.intp]:
        return np.concatenate([take(digit, count // 10) for digit in range(10)])

    contributors: list[PlantedContributor] = []

    def add(
        role: str, rows: NDArray[np.intp], pixels: NDArray[np.float32], claimed: NDArray[np.int64]
    ) -> None:
        key = f"c{len(contributors):02d}-{role}"
        contributors.append(PlantedContributor(key, role, pixels, claimed, labels[rows]))

    for digit in range(10):
        rows = take(digit, 80)
        add("clean", rows, images[rows], labels[rows])
    for claimed in (1, 7):
        rows = mixed(60)
        add("noisy_labels", rows, images[rows], np.full(len(rows), claimed, dtype=np.int64))
    rows = take(2, 50)
    noise = rng.normal(0.0, 0.45, size=images[rows].shape).astype(np.float32)
    add("degraded", rows, np.clip(images[rows] + noise, 0.0, 1.0), labels[rows])
    rows = take(5, 50)
    add("degraded", rows, blur(images[rows]), labels[rows])
    for digit in (4, 8):
        rows = take(digit, 50)
        add("marker", rows, add_marker(images[rows]), labels[rows])
    original = contributors[3]
    contributors.append(
        PlantedContributor(
            "c16-duplicate",
            "duplicate",
            original.images.copy(),
            original.labels.copy(),
            original.true_labels.copy(),
        )
    )
    for _ in range(3):
        rows = mixed(40)
        add("mixed", rows, images[rows], labels[rows])
    return contributors
