"""Fashion-MNIST product images dealt out to shops, the evaluation's second real dataset.

Debian's ``dataset-fashion-mnist`` package (MIT licence; ``apt install dataset-fashion-mnist``)
installs Zalando's 60,000 training and 10,000 test product images as gzipped IDX files under
``/usr/share/datasets/fashion-mnist``. Nothing is downloaded: a missing directory is a clear error.

The 28x28 images are padded to 32x32 and 2x2-averaged to 16x16 (the size of the digits task, so the
same diffusion recipe and classifier architecture apply). Contributors are *shops*: each sells a few
product types (class proportions drawn from a sparse Dirichlet), in catalogues of different sizes,
so a coalition's product diversity depends on which shops it holds — the analogue of the
SurrogateSHAP paper's Fashion-Product task, where contributors are brands.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError

DEFAULT_DIRECTORY = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
N_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 16
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_UBYTE = 0x08


@dataclass(frozen=True)
class Shop:
    """One contributor: a shop's product photos.

    Attributes:
        key: Stable identifier, e.g. ``"shop03"``.
        images: Shape (K, 1, 16, 16), float32 in [0, 1].
        labels: Product type of each image, shape (K,), in [0, 10).
        rows: The images' row indices in the training split.
    """

    key: str
    images: NDArray[np.float32]
    labels: NDArray[np.int64]
    rows: NDArray[np.intp]

    @property
    def class_counts(self) -> NDArray[np.int64]:
        """Images per product type, shape (10,)."""
        return np.bincount(self.labels, minlength=N_CLASSES).astype(np.int64)


def read_idx(path: Path) -> NDArray[np.uint8]:
    """Read a gzipped IDX file of unsigned bytes (the MNIST format) into an array of its shape.

    Raises:
        EngineInputError: If the file is missing, not gzip, or not an unsigned-byte IDX file whose
            payload matches its header.
    """
    if not path.is_file():
        raise EngineInputError(
            f"{path} does not exist; install Fashion-MNIST with "
            "`apt install dataset-fashion-mnist` or pass the directory that holds its files."
        )
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise EngineInputError(f"{path} is not a readable gzip file: {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE or raw[3] == 0:
        raise EngineInputError(f"{path} is not an unsigned-byte IDX file (bad magic number).")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise EngineInputError(f"{path} is truncated inside its IDX header.")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise EngineInputError(
            f"{path}: the header promises {expected} bytes of data for shape {shape}, "
            f"the file holds {len(raw) - header}."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def downsample(images: NDArray[np.uint8]) -> NDArray[np.float32]:
    """(N, 28, 28) bytes → (N, 1, 16, 16) float32 in [0, 1]: pad 2 pixels a side, then 2x2 means."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise EngineInputError(f"Fashion-MNIST images are (N, 28, 28), got {images.shape}.")
    padded = np.pad(images.astype(np.float32) / 255.0, ((0, 0), (2, 2), (2, 2)))
    pooled = padded.reshape(len(images), IMAGE_SIZE, 2, IMAGE_SIZE, 2).mean(axis=(2, 4))
    return np.asarray(pooled[:, None], dtype=np.float32)


def load_fashion_mnist(
    directory: Path = DEFAULT_DIRECTORY, split: str = "train"
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """One split as (N, 1, 16, 16) float32 images in [0, 1] and int64 labels in [0, 10).

    Raises:
        EngineInputError: If ``split`` is unknown, a file is missing or malformed, or the image
            and label files disagree.
    """
    if split not in FILES:
        raise EngineInputError(f"unknown Fashion-MNIST split {split!r}; use 'train' or 'test'.")
    image_file, label_file = FILES[split]
    images = read_idx(Path(directory) / image_file)
    labels = read_idx(Path(directory) / label_file)
    if labels.ndim != 1 or len(labels) != len(images):
        raise EngineInputError(
            f"{directory}: {len(images)} images but labels of shape {labels.shape} "
            f"in the {split} split."
        )
    if labels.size and int(labels.max()) >= N_CLASSES:
        raise EngineInputError(f"{directory}: a label is {int(labels.max())}, beyond 9.")
    return downsample(images), labels.astype(np.int64)


def make_fashion_marketplace(
    images: NDArray[np.float32],
    labels: NDArray[np.int64],
    *,
    n_shops: int = 12,
    min_size: int = 80,
    max_size: int = 240,
    concentration: float = 0.3,
    seed: int = 0,
) -> list[Shop]:
    """Deal product images out to ``n_shops`` shops, each specialised in a few product types.

    Shop j's size is uniform in [min_size, max_size]; its class proportions are drawn from a
    symmetric Dirichlet(``concentration``) (small: specialised shops) and its images are drawn
    without replacement, so no image belongs to two shops.

    Raises:
        EngineInputError: On bad sizes, or when a product type runs out of images.
    """
    if n_shops < 1 or not 1 <= min_size <= max_size or concentration <= 0:
        raise EngineInputError(
            "need n_shops >= 1, 1 <= min_size <= max_size and concentration > 0; got "
            f"{n_shops}, {min_size}, {max_size}, {concentration}."
        )
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in range(N_CLASSES)]
    shops = []
    for index in range(n_shops):
        size = int(rng.integers(min_size, max_size + 1))
        counts = rng.multinomial(size, rng.dirichlet(np.full(N_CLASSES, concentration)))
        chosen: list[int] = []
        for product, count in enumerate(counts):
            if count > len(pools[product]):
                raise EngineInputError(
                    f"not enough {CLASS_NAMES[product]} images for shop {index} ({count} wanted)."
                )
            chosen += pools[product][:count]
            pools[product] = pools[product][count:]
        rows = np.sort(np.array(chosen, dtype=np.intp))
        shops.append(Shop(f"shop{index:02d}", images[rows], labels[rows], rows))
    return shops


def unused_rows(n_images: int, shops: list[Shop]) -> NDArray[np.intp]:
    """Training-split rows that no shop holds (the classifier is trained on these)."""
    taken = np.zeros(n_images, dtype=bool)
    for shop in shops:
        taken[shop.rows] = True
    return np.flatnonzero(~taken)
