"""The embedded digits classifier: trained in about a second, it featurizes 16x16 digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from attribution.engine.demos.digits.classifier import (
    EMBEDDING_SIZE,
    N_CLASSES,
    DigitsClassifier,
    build_network,
    train_digits_classifier,
)
from attribution.engine.demos.digits.data import load_digit_images
from attribution.engine.errors import EngineInputError

N_TRAIN = 1200
SPLIT_SEED = 0  # permutation of the 1,797 real digits: first 1,200 train, other 597 test
TRAIN_SEED = 0
# Measured 0.930 on the 597 held-out digits (torch 2.13 CPU, seed 0; seeds 1 and 2 give 0.923
# and 0.916), so 0.9 leaves about 18 digits of margin.
MIN_ACCURACY = 0.9


@pytest.fixture(scope="module")
def split() -> tuple[
    NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]
]:
    images, labels = load_digit_images()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    return images[train], labels[train], images[test], labels[test]


@pytest.fixture(scope="module")
def classifier(
    split: tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]],
) -> DigitsClassifier:
    images, labels, _, _ = split
    return train_digits_classifier(images, labels, epochs=8, seed=TRAIN_SEED)


def test_eight_epochs_on_1200_digits_classify_the_other_597_well(
    classifier: DigitsClassifier,
    split: tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]],
) -> None:
    _, _, images, labels = split
    assert len(images) == 597

    accuracy = float((classifier.predict(images) == labels).mean())

    assert accuracy > MIN_ACCURACY


def test_features_are_class_probabilities_and_32d_embeddings(
    classifier: DigitsClassifier,
    split: tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]],
) -> None:
    features = classifier(split[2][:7])

    assert features.probabilities is not None
    assert features.probabilities.shape == (7, N_CLASSES) == (7, 10)
    assert features.embeddings.shape == (7, EMBEDDING_SIZE) == (7, 32)
    assert (features.probabilities >= 0).all()
    np.testing.assert_allclose(features.probabilities.sum(axis=1), 1.0, atol=1e-12)
    assert np.isfinite(features.embeddings).all()


def test_features_do_not_depend_on_the_batch_size(
    classifier: DigitsClassifier,
    split: tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]],
) -> None:
    images = split[2][:9]
    small_batches = DigitsClassifier(classifier.network, batch_size=4)(images)

    whole = classifier(images)

    # float32 convolutions round differently per batch shape: agree to ~1e-6 relative.
    np.testing.assert_allclose(small_batches.embeddings, whole.embeddings, rtol=1e-5, atol=1e-5)
    assert small_batches.probabilities is not None
    assert whole.probabilities is not None
    np.testing.assert_allclose(small_batches.probabilities, whole.probabilities, atol=1e-5)


def test_saved_weights_load_to_identical_probabilities(
    classifier: DigitsClassifier,
    split: tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]],
    tmp_path: Path,
) -> None:
    path = tmp_path / "classifier.safetensors"
    classifier.save(path)

    loaded = DigitsClassifier.load(path)

    images = split[2][:16]
    np.testing.assert_array_equal(loaded(images).probabilities, classifier(images).probabilities)
    assert loaded.describe() == classifier.describe()


def test_loading_missing_weights_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="no digits classifier weights"):
        DigitsClassifier.load(tmp_path / "absent.safetensors")


@pytest.mark.parametrize(
    "shape", [(2, 1, 8, 8), (2, 3, 16, 16), (2, 16, 16), (1, 2, 1, 16, 16)], ids=str
)
def test_images_of_the_wrong_shape_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(EngineInputError, match=r"\(K, 1, 16, 16\)"):
        DigitsClassifier(build_network())(np.zeros(shape, dtype=np.float32))


def test_the_description_changes_exactly_when_the_weights_change() -> None:
    torch.manual_seed(0)
    network = build_network()
    classifier = DigitsClassifier(network)
    before = classifier.describe()
    assert classifier.describe() == before

    with torch.no_grad():
        next(network.parameters()).view(-1)[0] += 1e-3

    assert classifier.describe() != before
    assert classifier.describe()["featurizer"] == before["featurizer"]
