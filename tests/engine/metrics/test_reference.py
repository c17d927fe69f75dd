"""Reference statistics from features, a pytorch-fid .npz file or a directory of images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from attribution.engine.errors import EngineInputError
from attribution.engine.features import Features
from attribution.engine.metrics import (
    ReferenceStatistics,
    check_reference,
    load_reference_statistics,
    reference_from_image_directory,
    reference_statistics,
    save_reference_statistics,
)

SEED = 5


def _reference(dim: int = 4) -> ReferenceStatistics:
    features = np.random.default_rng(SEED).normal(size=(40, dim))
    return ReferenceStatistics(*reference_statistics(features), n_samples=40)


def test_a_saved_file_loads_back_exactly(tmp_path: Path) -> None:
    reference = _reference()

    loaded = load_reference_statistics(save_reference_statistics(tmp_path / "r.npz", reference), 4)

    np.testing.assert_array_equal(loaded.mean, reference.mean)
    np.testing.assert_array_equal(loaded.covariance, reference.covariance)
    assert loaded.n_samples == 40


def test_a_pytorch_fid_file_with_only_mu_and_sigma_loads(tmp_path: Path) -> None:
    features = np.random.default_rng(SEED).normal(size=(30, 3))
    path = tmp_path / "fid_stats.npz"
    np.savez(path, mu=features.mean(axis=0), sigma=np.cov(features, rowvar=False))

    loaded = load_reference_statistics(path)

    assert loaded.dim == 3
    assert loaded.n_samples is None
    np.testing.assert_allclose(loaded.covariance, np.cov(features, rowvar=False), rtol=1e-15)


@pytest.mark.parametrize(
    ("arrays", "dim", "message"),
    [
        ({"mu": np.zeros(3)}, None, r"lacks \['sigma'\]"),
        ({"mu": np.zeros(3), "sigma": np.eye(3)}, 2048, "3 features but the featurizer gives 2048"),
        ({"mu": np.zeros(3), "sigma": np.eye(4)}, None, r"shape \(d, d\)"),
        ({"mu": np.zeros(2), "sigma": np.array([[1.0, np.inf], [np.inf, 1.0]])}, None, "finite"),
        ({"mu": np.zeros(2), "sigma": np.array([[1.0, 0.5], [0.0, 1.0]])}, None, "symmetric"),
        ({"mu": np.zeros(2), "sigma": np.array([[1.0, 2.0], [2.0, 1.0]])}, None, "semi-definite"),
    ],
)
def test_bad_files_are_refused_with_the_reason(
    tmp_path: Path, arrays: dict[str, Any], dim: int | None, message: str
) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)

    with pytest.raises(EngineInputError, match=message):
        load_reference_statistics(path, dim)


def test_missing_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="does not exist"):
        load_reference_statistics(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(EngineInputError, match="cannot read"):
        load_reference_statistics(tmp_path / "junk.npz")


def test_round_off_asymmetry_and_negative_eigenvalues_are_tolerated() -> None:
    covariance = _reference().covariance.copy()
    covariance[0, 1] += 1e-12
    low_rank = np.outer([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) - 1e-13 * np.eye(3)

    mean, symmetric = check_reference(np.zeros(4), covariance)
    check_reference(np.zeros(3), low_rank)

    np.testing.assert_array_equal(symmetric, symmetric.T)
    assert mean.shape == (4,)


def test_a_reference_checks_the_featurizer_width() -> None:
    with pytest.raises(EngineInputError, match="4 features but the CLIP model gives 768"):
        _reference().check_dim(768, "the CLIP model")
    _reference().check_dim(4)


class ChannelMeans:
    """A featurizer whose embeddings are each image's three channel means."""

    def __call__(self, images: np.ndarray) -> Features:
        return Features(None, images.mean(axis=(2, 3)).astype(np.float64))

    def describe(self) -> dict[str, Any]:
        return {"featurizer": "channel-means"}


def _write_images(directory: Path, sizes: list[int]) -> np.ndarray:
    """Solid-colour RGB images; returns their colours in [0, 1], shape (N, 3)."""
    directory.mkdir()
    rng = np.random.default_rng(SEED)
    colours = rng.integers(0, 256, size=(len(sizes), 3))
    for index, (size, colour) in enumerate(zip(sizes, colours, strict=True)):
        pixels = np.broadcast_to(colour.astype(np.uint8), (size, size, 3))
        Image.fromarray(np.ascontiguousarray(pixels)).save(directory / f"{index:02d}.png")
    (directory / "notes.txt").write_text("ignored")
    return colours / 255.0


def test_a_directory_of_images_gives_the_statistics_of_its_features(tmp_path: Path) -> None:
    colours = _write_images(tmp_path / "reference", [8] * 7)

    reference = reference_from_image_directory(tmp_path / "reference", ChannelMeans(), batch_size=3)

    mean, covariance = reference_statistics(colours)
    np.testing.assert_allclose(reference.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(reference.covariance, covariance, rtol=1e-5, atol=1e-9)
    assert reference.n_samples == 7


def test_images_of_different_sizes_need_a_size(tmp_path: Path) -> None:
    _write_images(tmp_path / "mixed", [8, 8, 12])

    with pytest.raises(EngineInputError, match="different sizes"):
        reference_from_image_directory(tmp_path / "mixed", ChannelMeans())
    resized = reference_from_image_directory(tmp_path / "mixed", ChannelMeans(), size=10)

    assert resized.n_samples == 3


def test_a_directory_needs_two_readable_images(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="does not exist"):
        reference_from_image_directory(tmp_path / "absent", ChannelMeans())
    _write_images(tmp_path / "one", [8])
    with pytest.raises(EngineInputError, match="at least 2 images"):
        reference_from_image_directory(tmp_path / "one", ChannelMeans())
    _write_images(tmp_path / "broken", [8, 8])
    (tmp_path / "broken" / "02.png").write_bytes(b"not an image")
    with pytest.raises(EngineInputError, match="cannot read reference image"):
        reference_from_image_directory(tmp_path / "broken", ChannelMeans())
