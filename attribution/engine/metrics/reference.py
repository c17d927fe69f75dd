"""Reference statistics of distribution metrics: the mean and covariance of real features.

Three sources, one result (:class:`ReferenceStatistics`):

- features already computed (:func:`reference_statistics`, e.g. from an accepted data group);
- a directory of images featurized once (:func:`reference_from_image_directory`);
- a precomputed file (:func:`load_reference_statistics`): an ``.npz`` holding ``mu`` (d,) and
  ``sigma`` (d, d), the format pytorch-fid writes with ``--save-stats``.

Every source is validated the same way (:func:`check_reference`): shapes against the feature width,
finite values, a covariance symmetric and positive semi-definite within a stated tolerance.

The engine's covariances are *population* covariances (divide by N), matching the pool covariance
of :class:`~attribution.engine.metrics.frechet.NegativeFrechetDistance`; pytorch-fid's files hold
the sample covariance (divide by N − 1). The difference is a factor 1 + 1/(N − 1) on Σ_r, below
0.02 % for the ≥ 5,000 reference images FID is normally computed on; a loaded file is used as is.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics.statistics import FloatArray

if TYPE_CHECKING:
    from attribution.engine.features import Featurizer

SYMMETRY_TOLERANCE = 1e-8  # max |Σ_r − Σ_rᵀ| relative to max |Σ_r| before we refuse it
PSD_TOLERANCE = 1e-6  # smallest eigenvalue allowed, relative to the largest, before we refuse it
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass(frozen=True)
class ReferenceStatistics:
    """Gaussian fit N(μ_r, Σ_r) of a reference set's features (validated on construction).

    Attributes:
        mean: μ_r, shape (d,), float64.
        covariance: Σ_r, shape (d, d), float64, symmetric PSD.
        n_samples: How many reference samples the fit saw, or None when unknown (a loaded file).
    """

    mean: FloatArray
    covariance: FloatArray
    n_samples: int | None = None

    def __post_init__(self) -> None:
        mean, covariance = check_reference(self.mean, self.covariance)
        mean.setflags(write=False)
        covariance.setflags(write=False)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "covariance", covariance)

    @property
    def dim(self) -> int:
        """d, the feature width."""
        return int(self.mean.shape[0])

    def check_dim(self, dim: int, featurizer: str = "the featurizer") -> None:
        """Raise unless the reference has ``dim`` features (the featurizer's embedding width)."""
        if self.dim != dim:
            raise EngineInputError(
                f"the reference statistics have {self.dim} features but {featurizer} gives "
                f"{dim}; compute the reference with the same feature extractor."
            )


def reference_statistics(features: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Mean and population covariance of reference features (e.g. the real training images).

    Args:
        features: Shape (N, d), N ≥ 1 samples of d features.

    Returns:
        ``(mean, covariance)`` of shapes (d,) and (d, d), float64; the covariance divides by N to
        match the pool covariance of ``NegativeFrechetDistance``.

    Raises:
        EngineInputError: Not a finite (N, d) array with N ≥ 1.
    """
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise EngineInputError(
            f"reference features must have shape (N, d) with N, d ≥ 1, got {array.shape}."
        )
    if not np.isfinite(array).all():
        raise EngineInputError("reference features hold NaN or infinite values.")
    mean = array.mean(axis=0)
    centred = array - mean
    covariance: FloatArray = centred.T @ centred / array.shape[0]
    return mean, covariance


def check_reference(
    mean: ArrayLike, covariance: ArrayLike, dim: int | None = None
) -> tuple[FloatArray, FloatArray]:
    """Validate a reference mean and covariance; return float64 copies, Σ_r symmetrised.

    Args:
        mean: μ_r, shape (d,).
        covariance: Σ_r, shape (d, d).
        dim: The feature width the reference must have, or None to accept any d.

    Raises:
        EngineInputError: Wrong shapes, NaN or infinite values, an asymmetric covariance (beyond
            1e-8 of its largest entry) or one with an eigenvalue below −1e-6 of its largest.
    """
    mu = np.array(mean, dtype=np.float64)
    sigma = np.array(covariance, dtype=np.float64)
    if mu.ndim != 1 or mu.shape[0] < 1:
        raise EngineInputError(f"the reference mean must have shape (d,), got {mu.shape}.")
    d = mu.shape[0]
    if dim is not None and d != dim:
        raise EngineInputError(
            f"the reference mean has {d} features but the featurizer gives {dim}; compute the "
            "reference with the same feature extractor."
        )
    if sigma.shape != (d, d):
        raise EngineInputError(
            f"the reference covariance must have shape (d, d) = {(d, d)}, got {sigma.shape}."
        )
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise EngineInputError("the reference mean and covariance must be finite.")
    scale = max(float(np.abs(sigma).max()), np.finfo(np.float64).tiny)
    if float(np.abs(sigma - sigma.T).max()) > SYMMETRY_TOLERANCE * scale:
        raise EngineInputError("the reference covariance must be symmetric.")
    sigma = (sigma + sigma.T) / 2.0
    eigenvalues = np.linalg.eigvalsh(sigma)
    if eigenvalues[0] < -PSD_TOLERANCE * max(float(eigenvalues[-1]), 0.0) - np.finfo(float).tiny:
        raise EngineInputError(
            f"the reference covariance must be positive semi-definite; its smallest eigenvalue "
            f"is {eigenvalues[0]:.6g} against a largest of {eigenvalues[-1]:.6g}."
        )
    return mu, sigma


def load_reference_statistics(path: str | Path, dim: int | None = None) -> ReferenceStatistics:
    """Read precomputed reference statistics: an ``.npz`` with ``mu`` (d,) and ``sigma`` (d, d).

    This is the file pytorch-fid writes (``python -m pytorch_fid --save-stats images out.npz``);
    :func:`save_reference_statistics` writes the same keys plus ``n_samples``.

    Args:
        path: The ``.npz`` file.
        dim: The featurizer's width the statistics must match, or None.

    Raises:
        EngineInputError: Missing or unreadable file, missing keys, or statistics that fail
            :func:`check_reference`.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise EngineInputError(f"reference statistics file {file} does not exist.")
    try:
        with np.load(file, allow_pickle=False) as archive:
            missing = [key for key in ("mu", "sigma") if key not in archive.files]
            if missing:
                raise EngineInputError(
                    f"{file} must hold arrays 'mu' (d,) and 'sigma' (d, d) (pytorch-fid's "
                    f"format); it lacks {missing} (it has {sorted(archive.files)})."
                )
            mean, covariance = archive["mu"], archive["sigma"]
            count = int(archive["n_samples"]) if "n_samples" in archive.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise EngineInputError(f"cannot read reference statistics from {file}: {error}") from error
    check_reference(mean, covariance, dim)
    return ReferenceStatistics(mean, covariance, count)


def save_reference_statistics(path: str | Path, reference: ReferenceStatistics) -> Path:
    """Write ``reference`` as an ``.npz`` with ``mu``, ``sigma`` (and ``n_samples`` if known)."""
    file = Path(path)
    arrays: dict[str, NDArray[Any]] = {"mu": reference.mean, "sigma": reference.covariance}
    if reference.n_samples is not None:
        arrays["n_samples"] = np.array(reference.n_samples)
    with file.open("wb") as handle:
        np.savez(handle, allow_pickle=False, **arrays)
    return file


def reference_from_image_directory(
    directory: str | Path,
    featurizer: Featurizer,
    *,
    size: int | None = None,
    batch_size: int = 64,
) -> ReferenceStatistics:
    """Featurize every image in ``directory`` (not recursive) and fit its mean and covariance.

    Args:
        directory: Holds .png, .jpg, .jpeg, .webp or .bmp files (at least 2), read as RGB.
        featurizer: The featurizer the metric's banks use (its embeddings are the features).
        size: Resize every image to size × size first; None requires one common size (the
            featurizers resize internally, so any size they accept works).
        batch_size: Images read and featurized at once (bounds memory).

    Raises:
        EngineInputError: Not a directory, fewer than 2 images, an unreadable image, or images
            of different sizes without ``size``.
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise EngineInputError(f"reference image directory {root} does not exist.")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) < 2:
        raise EngineInputError(
            f"reference image directory {root} needs at least 2 images ({', '.join(IMAGE_SUFFIXES)}"
            f"), found {len(files)}."
        )
    return reference_from_image_files(files, featurizer, size=size, batch_size=batch_size)


def reference_from_image_files(
    files: Sequence[str | Path],
    featurizer: Featurizer,
    *,
    size: int | None = None,
    batch_size: int = 64,
) -> ReferenceStatistics:
    """Featurize the image ``files`` (e.g. a data group's records) and fit their mean and
    covariance; see ``reference_from_image_directory`` for the arguments.

    Raises:
        EngineInputError: Fewer than 2 files, an unreadable image, or images of different sizes
            without ``size``.
    """
    paths = [Path(file) for file in files]
    if len(paths) < 2:
        raise EngineInputError(f"a reference set needs at least 2 images, got {len(paths)}.")
    embeddings = []
    shapes: set[tuple[int, ...]] = set()
    for start in range(0, len(paths), batch_size):
        pixels = [_read_image(path, size) for path in paths[start : start + batch_size]]
        shapes.update(array.shape for array in pixels)
        if len(shapes) > 1:
            raise EngineInputError(
                f"reference images have different sizes (H, W, 3) {sorted(shapes)}; "
                "pass size= to resize them to one."
            )
        batch = np.ascontiguousarray(np.stack(pixels).transpose(0, 3, 1, 2))
        embeddings.append(featurizer(batch).embeddings)
    mean, covariance = reference_statistics(np.concatenate(embeddings))
    return ReferenceStatistics(mean, covariance, len(paths))


def _read_image(file: Path, size: int | None) -> NDArray[np.float32]:
    """One image as (H, W, 3) float32 in [0, 1], resized to size × size when asked."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as opened:
            image = opened.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise EngineInputError(f"cannot read reference image {file}: {error}") from error
    if size is not None:
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32) / np.float32(255.0)
