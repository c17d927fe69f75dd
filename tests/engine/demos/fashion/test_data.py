"""Reading Fashion-MNIST's IDX files, downsampling, and dealing products out to shops."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from attribution.engine.demos.fashion.data import (
    DEFAULT_DIRECTORY,
    N_CLASSES,
    downsample,
    load_fashion_mnist,
    make_fashion_marketplace,
    read_idx,
    unused_rows,
)
from attribution.engine.errors import EngineInputError
from tests.engine.demos.fashion.conftest import fake_split, write_idx


def test_read_idx_round_trips_shape_and_bytes(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    write_idx(tmp_path / "a.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)


def test_read_idx_missing_file_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="apt install dataset-fashion-mnist"):
        read_idx(tmp_path / "absent.gz")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (bytes([0, 0, 0x0D, 1]) + (3).to_bytes(4, "big") + b"abc", "bad magic"),
        (bytes([0, 0, 0x08, 2]) + (3).to_bytes(4, "big"), "truncated"),
        (bytes([0, 0, 0x08, 1]) + (5).to_bytes(4, "big") + b"abc", "promises 5 bytes"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "bad.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(payload)
    with pytest.raises(EngineInputError, match=message):
        read_idx(path)


def test_read_idx_rejects_a_file_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "plain.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(EngineInputError, match="not a readable gzip"):
        read_idx(path)


def test_downsample_pads_and_averages_two_by_two_blocks() -> None:
    images = np.zeros((1, 28, 28), dtype=np.uint8)
    images[0, 0, 0] = 255  # lands at (2, 2) after padding: block (1, 1), one pixel of four
    images[0, 26:28, 26:28] = 255  # padded (28..29, 28..29): the whole of block (14, 14)
    out = downsample(images)
    assert out.shape == (1, 1, 16, 16)
    assert out.dtype == np.float32
    assert out[0, 0, 1, 1] == pytest.approx(0.25)
    assert out[0, 0, 14, 14] == pytest.approx(1.0)
    assert out[0, 0, 0, 0] == 0.0
    assert out[0, 0, 15, 15] == 0.0
    assert out.sum() == pytest.approx(1.25)


def test_downsample_rejects_other_sizes() -> None:
    with pytest.raises(EngineInputError, match=r"\(N, 28, 28\)"):
        downsample(np.zeros((2, 16, 16), dtype=np.uint8))


def test_load_fashion_mnist_reads_both_splits(fashion_dir: Path) -> None:
    images, labels = load_fashion_mnist(fashion_dir, "train")
    assert images.shape == (1200, 1, 16, 16)
    assert labels.shape == (1200,)
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    _, expected = fake_split(1200, 0)
    np.testing.assert_array_equal(labels, expected)
    test_images, _ = load_fashion_mnist(fashion_dir, "test")
    assert len(test_images) == 200


def test_load_fashion_mnist_errors(fashion_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="unknown Fashion-MNIST split"):
        load_fashion_mnist(fashion_dir, "validation")
    broken = tmp_path / "broken"
    shutil.copytree(fashion_dir, broken)
    write_idx(broken / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(EngineInputError, match="200 images but labels of shape"):
        load_fashion_mnist(broken, "test")
    write_idx(broken / "t10k-labels-idx1-ubyte.gz", np.full(200, 12, dtype=np.uint8))
    with pytest.raises(EngineInputError, match="beyond 9"):
        load_fashion_mnist(broken, "test")


def test_shops_hold_disjoint_images_of_their_labels(fashion_dir: Path) -> None:
    images, labels = load_fashion_mnist(fashion_dir, "train")
    shops = make_fashion_marketplace(images, labels, n_shops=5, min_size=40, max_size=80, seed=3)
    assert [shop.key for shop in shops] == [f"shop{i:02d}" for i in range(5)]
    all_rows = np.concatenate([shop.rows for shop in shops])
    assert len(np.unique(all_rows)) == len(all_rows)
    for shop in shops:
        assert 40 <= len(shop.images) <= 80
        np.testing.assert_array_equal(shop.images, images[shop.rows])
        np.testing.assert_array_equal(shop.labels, labels[shop.rows])
        assert shop.class_counts.sum() == len(shop.images)
    spare = unused_rows(len(images), shops)
    assert len(spare) + len(all_rows) == len(images)
    assert not np.isin(spare, all_rows).any()


def test_small_concentration_makes_specialised_shops(fashion_dir: Path) -> None:
    images, labels = load_fashion_mnist(fashion_dir, "train")

    def top_share(concentration: float) -> float:
        shops = make_fashion_marketplace(
            images, labels, n_shops=8, min_size=50, max_size=50, concentration=concentration
        )
        return float(np.mean([s.class_counts.max() / s.class_counts.sum() for s in shops]))

    assert top_share(0.1) > 0.6 > 0.3 > top_share(100.0)


def test_shops_are_deterministic_per_seed(fashion_dir: Path) -> None:
    images, labels = load_fashion_mnist(fashion_dir, "train")
    sizes = {"n_shops": 3, "min_size": 30, "max_size": 60}
    first = make_fashion_marketplace(images, labels, seed=1, **sizes)
    again = make_fashion_marketplace(images, labels, seed=1, **sizes)
    other = make_fashion_marketplace(images, labels, seed=2, **sizes)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.rows, b.rows)
    assert any(
        len(a.rows) != len(c.rows) or not np.array_equal(a.rows, c.rows)
        for a, c in zip(first, other, strict=True)
    )


def test_shops_errors(fashion_dir: Path) -> None:
    images, labels = load_fashion_mnist(fashion_dir, "train")
    with pytest.raises(EngineInputError, match="min_size <= max_size"):
        make_fashion_marketplace(images, labels, min_size=10, max_size=5)
    with pytest.raises(EngineInputError, match="not enough"):
        make_fashion_marketplace(images, labels, n_shops=40, min_size=200, max_size=200)


@pytest.mark.slow
@pytest.mark.skipif(
    not DEFAULT_DIRECTORY.is_dir(), reason="apt package dataset-fashion-mnist not installed"
)
def test_the_real_dataset_has_six_thousand_images_per_class() -> None:
    images, labels = load_fashion_mnist()
    assert images.shape == (60_000, 1, 16, 16)
    np.testing.assert_array_equal(np.bincount(labels, minlength=N_CLASSES), [6000] * 10)
    test_images, test_labels = load_fashion_mnist(split="test")
    assert test_images.shape == (10_000, 1, 16, 16)
    assert len(test_labels) == 10_000
    assert 0.1 < float(images.mean()) < 0.5
