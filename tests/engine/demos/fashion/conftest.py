"""A small fake Fashion-MNIST directory in the real file format (gzipped IDX), for offline tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray


def write_idx(path: Path, array: NDArray[np.uint8]) -> None:
    """Write ``array`` as a gzipped unsigned-byte IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def fake_split(n_images: int, seed: int) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Noisy 28x28 images whose class is a bright 7x7 square in one of ten grid cells."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_images, dtype=np.uint8) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n_images, 28, 28), dtype=np.uint8)
    for row, label in enumerate(labels):
        top, left = 7 * (int(label) // 4), 7 * (int(label) % 4)
        images[row, top : top + 7, left : left + 7] = 255
    return images, labels


@pytest.fixture(scope="session")
def fashion_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fashion-mnist")
    for _split, n_images, seed, (image_file, label_file) in (
        ("train", 1200, 0, ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")),
        ("test", 200, 1, ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")),
    ):
        images, labels = fake_split(n_images, seed)
        write_idx(directory / image_file, images)
        write_idx(directory / label_file, labels)
    return directory
