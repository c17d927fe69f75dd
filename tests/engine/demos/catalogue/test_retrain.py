"""The catalogue retrain game: a coalition's UNet retrained on its shops, scored as the round."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from attribution.engine.demos.catalogue.pipeline_training import PipelineRecipe
from attribution.engine.demos.catalogue.retrain import (
    CatalogueRetrainGame,
    RetrainRecipe,
    shop_digest,
)
from attribution.engine.demos.catalogue.shops import CatalogueShop, caption
from attribution.engine.demos.catalogue.training import load_catalogue_models
from attribution.engine.errors import EngineInputError
from attribution.engine.store import ArtefactStore

TINY = RetrainRecipe(unet=PipelineRecipe(unet_steps=2, batch_size=4), n_samples=2, n_steps=2)


def shop(index: int, product: int) -> CatalogueShop:
    rng = np.random.default_rng(index)
    images = rng.random((6, 1, 16, 16)).astype(np.float32)
    labels = np.full(6, product, dtype=np.int64)
    captions = tuple(caption("dark", "casual", product, logo=False) for _ in range(6))
    return CatalogueShop(
        f"shop{index:02d}-clean",
        "clean",
        images,
        labels,
        labels,
        captions,
        np.arange(6),
        ("casual", "smart"),
    )


@pytest.fixture(scope="module")
def shops() -> list[CatalogueShop]:
    return [shop(0, 1), shop(1, 5), shop(2, 8)]


@pytest.mark.slow
def test_utilities_are_cached_entropies_and_the_empty_coalition_is_the_floor(
    shops: list[CatalogueShop], tmp_path: Path
) -> None:
    game = CatalogueRetrainGame(shops, load_catalogue_models(), TINY, store=ArtefactStore(tmp_path))
    masks = np.array([[0, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=bool)
    utilities = game(masks)
    assert utilities[0] == 0.0  # clip_diversity's floor
    assert all(0.0 < u <= math.log(10) for u in utilities[1:])
    statistics = game.statistics([0, 1, 2])
    assert statistics.n_contributors == 3

    def refuse(members: object) -> None:
        raise AssertionError("retrained a cached coalition")

    game.train_coalition = refuse  # type: ignore[method-assign]
    np.testing.assert_array_equal(game(masks), utilities)
    assert game.utility([1, 0]) == utilities[1]  # members in any order


def test_the_cache_key_follows_the_data_and_the_seeds(shops: list[CatalogueShop]) -> None:
    game = CatalogueRetrainGame(shops, load_catalogue_models(), TINY)
    other = CatalogueRetrainGame(shops, load_catalogue_models(), TINY.replica(1))
    assert game.inputs([0, 1]) != other.inputs([0, 1])
    assert other.recipe.unet.seed == 1
    assert other.recipe.sampling_seed == 1
    assert TINY.replica(0) is TINY
    changed = replace(shops[0], captions=(caption("light", "casual", 1, logo=False),) * 6)
    assert shop_digest(changed) != shop_digest(shops[0])
    assert "unet" not in " ".join(game.inputs([0])["fixed"])  # the UNet is what is retrained


def test_bad_coalitions_are_refused(shops: list[CatalogueShop]) -> None:
    game = CatalogueRetrainGame(shops, load_catalogue_models(), TINY)
    with pytest.raises(EngineInputError, match=r"0\.\.2"):
        game.utility([3])
    with pytest.raises(EngineInputError, match="unique keys"):
        CatalogueRetrainGame([shops[0], shops[0]], load_catalogue_models(), TINY)
