"""The catalogue's planted checks pass on values that show the planted effect and fail otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.demos.catalogue.checks import (
    diversity_follows_breadth,
    duplicate_matches_original,
    format_checks,
    logo_shops_lowest,
    not_visible,
)
from attribution.engine.demos.catalogue.shops import CatalogueRecipe, make_catalogue


@pytest.fixture(scope="module")
def shops() -> list:
    rng = np.random.default_rng(0)
    images = rng.random((6000, 1, 16, 16)).astype(np.float32)
    recipe = CatalogueRecipe(n_shops=20, min_size=20, max_size=100, n_logo=3)
    return make_catalogue(images, (np.arange(6000) % 10).astype(np.int64), recipe)


def test_logo_check(shops: list) -> None:
    good = {s.key: (-1.0 if s.role == "logo" else 0.0) for s in shops}
    assert logo_shops_lowest(shops, good).passed
    (one_logo, *_) = [s.key for s in shops if s.role == "logo"]
    bad = {**good, one_logo: 0.5}
    check = logo_shops_lowest(shops, bad)
    assert not check.passed
    assert "2 of 3" in check.detail
    assert format_checks([check]).startswith("FAIL")


def test_duplicate_check(shops: list) -> None:
    (duplicate,) = [s for s in shops if s.role == "duplicate"]
    values = {s.key: 0.0 for s in shops}
    assert duplicate_matches_original(shops, values, 0.1, "m").passed
    values[duplicate.key] = 0.3
    assert not duplicate_matches_original(shops, values, 0.1, "m").passed


def test_breadth_check(shops: list) -> None:
    def entropy(shop) -> float:  # type: ignore[no-untyped-def]
        share = shop.class_counts[shop.class_counts > 0] / shop.class_counts.sum()
        return float(-(share * np.log(share)).sum())

    assert diversity_follows_breadth(shops, {s.key: entropy(s) for s in shops}).passed
    assert not diversity_follows_breadth(shops, {s.key: -entropy(s) for s in shops}).passed


def test_roles_the_round_cannot_see_are_reported_not_passed(shops: list) -> None:
    values = {s.key: float(i) for i, s in enumerate(shops)}
    check = not_visible(shops, values, "degraded", "clip_diversity")
    assert check.passed is None
    assert check.verdict == "N/A"
    (degraded,) = [s for s in shops if s.role == "degraded"]
    rank = sorted(values, key=values.get).index(degraded.key) + 1
    assert (
        f"{degraded.key} {values[degraded.key]:+.4f} (rank {rank} of {len(shops)}" in check.detail
    )
    assert "not visible" in check.detail
    assert "median clean shop" in check.detail
    assert format_checks([check]).startswith("N/A   clip_diversity: the degraded shops")
