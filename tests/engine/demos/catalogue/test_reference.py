"""The long-permutation reference: the same proxy game valued two ways, compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from attribution.engine.demos.catalogue.reference import run_reference
from attribution.engine.demos.catalogue.training import train_catalogue_models
from attribution.engine.store import ArtefactStore
from tests.engine.demos.catalogue.conftest import TINY


@pytest.mark.slow
def test_reference_compares_the_estimates_on_the_same_game(
    fake_fashion: Path, tmp_path: Path
) -> None:
    weights = train_catalogue_models(tmp_path / "weights", TINY, fake_fashion)
    comparisons = run_reference(
        weights=weights,
        data_directory=fake_fashion,
        n_samples=4,
        n_steps=2,
        budget=64,
        reference_budget=2000,
        metrics=("clip_diversity",),  # random tiny weights flag no logo: a constant game
        store=ArtefactStore(tmp_path / "cache"),
    )
    assert [(c.metric, c.estimator) for c in comparisons] == [
        ("clip_diversity", "tolerance"),
        ("clip_diversity", "surrogate"),
    ]
    for comparison in comparisons:
        assert comparison.worst_share_points >= 0
        assert comparison.reference_share_points > 0
        assert comparison.reference_evaluations <= 2000
        assert comparison.relative_l2_error >= 0
        assert comparison.reference_relative_stderr > 0
