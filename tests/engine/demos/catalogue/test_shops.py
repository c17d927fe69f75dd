"""The catalogue's shops: sizes, captions and planted roles, deterministic per seed."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.demos.catalogue.shops import (
    LOGO_PHRASE,
    PRODUCT_WORDS,
    CatalogueRecipe,
    add_logo,
    catalogue_words,
    derangement,
    make_catalogue,
)
from attribution.engine.errors import EngineInputError

SMALL = CatalogueRecipe(n_shops=20, min_size=20, max_size=100, n_logo=3, n_mislabelled=2)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.arange(6000) % 10
    images = rng.random((6000, 1, 16, 16)).astype(np.float32) * 0.5
    return images, labels.astype(np.int64)


def by_role(shops: list, role: str) -> list:
    return [shop for shop in shops if shop.role == role]


def test_shop_count_sizes_and_roles(data: tuple[np.ndarray, np.ndarray]) -> None:
    shops = make_catalogue(*data, SMALL)
    assert len(shops) == 20
    assert len({s.key for s in shops}) == 20
    assert [len(by_role(shops, r)) for r in ("logo", "duplicate", "mislabelled", "degraded")] == [
        3,
        1,
        2,
        1,
    ]
    assert all(20 <= len(s.rows) <= 100 for s in shops)
    assert all(len(s.captions) == len(s.images) == len(s.labels) for s in shops)


def test_no_photo_in_two_shops_except_the_duplicate(data: tuple[np.ndarray, np.ndarray]) -> None:
    shops = [s for s in make_catalogue(*data, SMALL) if s.role != "duplicate"]
    rows = np.concatenate([s.rows for s in shops])
    assert len(rows) == len(np.unique(rows))


def test_captions_name_the_claimed_type_and_the_logo(data: tuple[np.ndarray, np.ndarray]) -> None:
    shops = make_catalogue(*data, SMALL)
    for shop in shops:
        for text, claimed in zip(shop.captions, shop.claimed, strict=True):
            words = text.split()
            assert PRODUCT_WORDS[int(claimed)] in words
            assert words[2] in shop.styles
            assert (LOGO_PHRASE in text) == (shop.role == "logo")
            assert set(words) <= set(catalogue_words())


def test_planted_roles_change_what_they_should(data: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = data
    shops = make_catalogue(*data, SMALL)
    for shop in shops:
        original = images[shop.rows]
        if shop.role == "logo":
            np.testing.assert_array_equal(shop.images, add_logo(original))
        elif shop.role == "degraded":
            assert np.abs(shop.images - original).mean() > 0.1
        else:
            np.testing.assert_array_equal(shop.images, original)
        mislabelled = shop.claimed != shop.labels
        assert mislabelled.all() if shop.role == "mislabelled" else not mislabelled.any()
    (duplicate,) = by_role(shops, "duplicate")
    (original,) = [s for s in shops if s.key == duplicate.duplicate_of]
    assert original.role == "clean"
    assert original.captions == duplicate.captions
    np.testing.assert_array_equal(original.images, duplicate.images)


def test_deterministic_per_seed(data: tuple[np.ndarray, np.ndarray]) -> None:
    first, again = make_catalogue(*data, SMALL), make_catalogue(*data, SMALL)
    other = make_catalogue(*data, CatalogueRecipe(**{**SMALL.__dict__, "seed": 1}))
    assert [s.captions for s in first] == [s.captions for s in again]
    assert [s.key for s in first] == [s.key for s in again]
    assert [s.captions for s in first] != [s.captions for s in other]


def test_derangement_moves_every_type() -> None:
    permutation = derangement(np.random.default_rng(3))
    assert sorted(permutation) == list(range(10))
    assert not np.any(permutation == np.arange(10))


def test_bad_recipes_are_refused(data: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(EngineInputError):
        make_catalogue(*data, CatalogueRecipe(n_shops=5, n_logo=5))
    with pytest.raises(EngineInputError):
        make_catalogue(*data, CatalogueRecipe(min_size=10, max_size=5))
    with pytest.raises(EngineInputError, match="not enough"):
        make_catalogue(*data, CatalogueRecipe(n_shops=100, min_size=900, max_size=900))
