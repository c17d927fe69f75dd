"""The planted digits marketplace: 20 contributors of scikit-learn's real digits, known roles."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine.demos.digits.data import (
    IMAGE_SIZE,
    MARKER_SIZE,
    PlantedContributor,
    load_digit_images,
    make_digits_marketplace,
    marker_present,
    upsample,
)

N_REAL = 1797
ROLE_COUNTS = {
    "clean": (10, 80),
    "noisy_labels": (2, 60),
    "degraded": (2, 50),
    "marker": (2, 50),
    "duplicate": (1, 80),
    "mixed": (3, 40),
}  # role → (contributors, records each)


@pytest.fixture(scope="module")
def real() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    return load_digit_images()


@pytest.fixture(scope="module")
def marketplace() -> list[PlantedContributor]:
    return make_digits_marketplace(seed=0)


def real_index(images: NDArray[np.float32]) -> dict[bytes, int]:
    """Each real image's bytes → its row (the 1,797 real digits are pairwise distinct)."""
    return {image.tobytes(): row for row, image in enumerate(images)}


def by_role(marketplace: list[PlantedContributor], role: str) -> list[PlantedContributor]:
    return [c for c in marketplace if c.role == role]


def test_real_digits_are_16x16_in_unit_range_with_ten_classes(
    real: tuple[NDArray[np.float32], NDArray[np.int64]],
) -> None:
    images, labels = real
    assert images.shape == (N_REAL, 1, IMAGE_SIZE, IMAGE_SIZE)
    assert images.dtype == np.float32
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    assert set(labels.tolist()) == set(range(10))


def test_twenty_contributors_with_unique_keys_and_the_documented_roles(
    marketplace: list[PlantedContributor],
) -> None:
    assert len(marketplace) == 20
    assert len({c.key for c in marketplace}) == 20
    assert Counter(c.role for c in marketplace) == {r: n for r, (n, _) in ROLE_COUNTS.items()}
    for index, contributor in enumerate(marketplace):
        assert contributor.key == f"c{index:02d}-{contributor.role}"
        expected = ROLE_COUNTS[contributor.role][1]
        assert contributor.images.shape == (expected, 1, IMAGE_SIZE, IMAGE_SIZE)
        assert contributor.images.dtype == np.float32
        assert contributor.labels.shape == contributor.true_labels.shape == (expected,)
        assert contributor.images.min() >= 0.0
        assert contributor.images.max() <= 1.0


def test_clean_contributor_i_holds_only_real_digit_i_correctly_labelled(
    marketplace: list[PlantedContributor], real: tuple[NDArray[np.float32], NDArray[np.int64]]
) -> None:
    images, labels = real
    index = real_index(images)
    for digit, contributor in enumerate(by_role(marketplace, "clean")):
        assert contributor.key == f"c{digit:02d}-clean"
        assert (contributor.labels == digit).all()
        assert (contributor.true_labels == digit).all()
        rows = [index[image.tobytes()] for image in contributor.images]
        assert (labels[rows] == digit).all()


def test_no_real_digit_is_dealt_to_two_contributors_except_the_duplicate(
    marketplace: list[PlantedContributor], real: tuple[NDArray[np.float32], NDArray[np.int64]]
) -> None:
    index = real_index(real[0])
    exact = [c for c in marketplace if c.role in ("clean", "noisy_labels", "mixed")]
    rows = [index[image.tobytes()] for c in exact for image in c.images]
    assert len(rows) == len(set(rows))


def test_noisy_labelers_claim_one_label_that_is_mostly_wrong(
    marketplace: list[PlantedContributor],
) -> None:
    noisy = by_role(marketplace, "noisy_labels")
    assert {int(c.labels[0]) for c in noisy} == {1, 7}
    for contributor in noisy:
        assert len(set(contributor.labels.tolist())) == 1
        assert (contributor.labels != contributor.true_labels).mean() > 0.7
        assert set(contributor.true_labels.tolist()) == set(range(10))


def test_the_duplicate_copies_contributor_c03(marketplace: list[PlantedContributor]) -> None:
    (duplicate,) = by_role(marketplace, "duplicate")
    original = marketplace[3]
    assert original.key == "c03-clean"
    np.testing.assert_array_equal(duplicate.images, original.images)
    np.testing.assert_array_equal(duplicate.labels, original.labels)
    np.testing.assert_array_equal(duplicate.true_labels, original.true_labels)


def test_mixed_contributors_hold_every_class_evenly(
    marketplace: list[PlantedContributor],
) -> None:
    for contributor in by_role(marketplace, "mixed"):
        np.testing.assert_array_equal(np.bincount(contributor.true_labels, minlength=10), [4] * 10)
        np.testing.assert_array_equal(contributor.labels, contributor.true_labels)


def test_the_marker_detector_fires_on_every_marker_image_and_on_no_real_digit(
    marketplace: list[PlantedContributor], real: tuple[NDArray[np.float32], NDArray[np.int64]]
) -> None:
    markers = by_role(marketplace, "marker")
    assert {int(c.true_labels[0]) for c in markers} == {4, 8}
    for contributor in markers:
        np.testing.assert_array_equal(marker_present(contributor.images), 1.0)
    assert marker_present(real[0]).mean() == 0.0  # all 1,797 real digits
    # Every unmarked contributor but the pixel-noise one (c12, whose clipped noise brightens the
    # corner of 3 of its 50 images at seed 0) is real digits or blurred ones: never flagged.
    for contributor in marketplace:
        if contributor.role != "marker" and contributor.key != "c12-degraded":
            assert marker_present(contributor.images).mean() == 0.0, contributor.key


def test_marker_images_are_real_digits_outside_the_marker(
    marketplace: list[PlantedContributor], real: tuple[NDArray[np.float32], NDArray[np.int64]]
) -> None:
    def without_corner(images: NDArray[np.float32]) -> NDArray[np.float32]:
        masked = images.copy()
        masked[:, :, :MARKER_SIZE, :MARKER_SIZE] = 0.0
        return masked

    images, labels = real
    index = real_index(without_corner(images))
    for contributor in by_role(marketplace, "marker"):
        rows = [index[image.tobytes()] for image in without_corner(contributor.images)]
        np.testing.assert_array_equal(labels[rows], contributor.true_labels)


def test_degraded_images_are_far_from_every_real_digit_of_their_class(
    marketplace: list[PlantedContributor], real: tuple[NDArray[np.float32], NDArray[np.int64]]
) -> None:
    images, labels = real
    degraded = by_role(marketplace, "degraded")
    assert [int(c.true_labels[0]) for c in degraded] == [2, 5]  # noisy 2s, blurred 5s
    for contributor in degraded:
        np.testing.assert_array_equal(contributor.labels, contributor.true_labels)
        same_class = images[labels == contributor.true_labels[0]]
        distance = np.abs(contributor.images[:, None] - same_class[None]).mean(axis=(2, 3, 4))
        # Seed 0: the nearest real digit is ≥ 0.07 (blur) and ≥ 0.2 (noise) away per pixel.
        assert distance.min() > 0.05, contributor.key


def test_upsampling_keeps_values_in_unit_range_and_constants_constant() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((5, 8, 8)).astype(np.float32)
    images[0] = 0.0
    images[1] = 1.0

    upsampled = upsample(images)

    assert upsampled.shape == (5, 16, 16)
    assert upsampled.min() >= 0.0
    assert upsampled.max() <= 1.0
    for value in (0.0, 0.37, 1.0):
        constant = upsample(np.full((1, 8, 8), value, dtype=np.float32))
        np.testing.assert_allclose(constant, value, atol=1e-7)


def test_the_marketplace_is_determined_by_its_seed() -> None:
    again = make_digits_marketplace(seed=0)
    other = make_digits_marketplace(seed=1)
    first = make_digits_marketplace(seed=0)

    for one, two, three in zip(first, again, other, strict=True):
        assert one.key == two.key == three.key
        np.testing.assert_array_equal(one.images, two.images)
        np.testing.assert_array_equal(one.labels, two.labels)
        np.testing.assert_array_equal(one.true_labels, two.true_labels)
    assert not np.array_equal(first[0].images, other[0].images)
