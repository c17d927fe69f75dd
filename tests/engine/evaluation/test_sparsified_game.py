"""The sparsified fine-tuning game: prune, recover once (cached), fine-tune per coalition."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from attribution.engine.demos.digits.classifier import DigitsClassifier
from attribution.engine.demos.digits.data import load_digit_images
from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS
from attribution.engine.diffusion_training import TrainRecipe, train_class_conditional
from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import ExactShapley
from attribution.engine.evaluation import sparsified_game
from attribution.engine.evaluation.model_utility import (
    Measurement,
    SamplingSettings,
    TrainingContributor,
    coalition_data,
)
from attribution.engine.evaluation.sparsified_game import SparsifiedFineTuneGame, magnitude_masks
from attribution.engine.metrics import InceptionScore
from attribution.engine.store import ArtefactStore

RECIPE = TrainRecipe(steps=4, batch_size=8, widths=(8, 16), n_train_steps=100, seed=0)
SAMPLING = SamplingSettings(n_samples=4, n_steps=2, seed=0)
OPTIONS: dict[str, Any] = {
    "recipe": RECIPE,
    "recovery_steps": 3,
    "finetune_steps": 2,
    "sampling": SAMPLING,
}

pytestmark = pytest.mark.skipif(
    not (SHIPPED_WEIGHTS / "classifier.safetensors").exists(),
    reason="the shipped digits classifier (the featurizer here) is missing",
)


@pytest.fixture(scope="module")
def contributors() -> list[TrainingContributor]:
    """Three contributors of 12 images each: zeros, ones and sevens (16x16)."""
    images, digits = load_digit_images()
    return [
        TrainingContributor(f"c{digit}", images[np.flatnonzero(digits == digit)[:12]])
        for digit in (0, 1, 7)
    ]


@pytest.fixture(scope="module")
def base(contributors: list[TrainingContributor]) -> Any:
    """The "full" model: trained on everyone's data, 3 labels and the null label."""
    images, labels = coalition_data(contributors, [0, 1, 2])
    return train_class_conditional(images, labels, 4, RECIPE)


@pytest.fixture(scope="module")
def measurement() -> Measurement:
    classifier = DigitsClassifier.load(SHIPPED_WEIGHTS / "classifier.safetensors")
    return Measurement(classifier, InceptionScore())


@pytest.fixture
def game(contributors: list[TrainingContributor], base: Any, measurement: Measurement) -> Any:
    return SparsifiedFineTuneGame(contributors, base, measurement, **OPTIONS)


def count_training(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the stage of each training run the game starts."""
    stages: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        stages.append(kwargs.get("stage", "finetune"))
        return train_class_conditional(*args, **kwargs)

    monkeypatch.setattr(sparsified_game, "train_class_conditional", counted)
    return stages


def pruned_fraction(state: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> float:
    zeros = sum(int((state[name] == 0).sum()) for name in masks)
    return zeros / sum(mask.numel() for mask in masks.values())


@pytest.mark.parametrize("ratio", [0.3, 0.55])
def test_magnitude_pruning_honours_the_ratio_and_prunes_the_smallest_weights(
    base: Any, ratio: float
) -> None:
    masks = magnitude_masks(base, ratio)
    weights = dict(base.named_parameters())
    kept = torch.cat([weights[n].detach().abs()[m] for n, m in masks.items()])
    pruned = torch.cat([weights[n].detach().abs()[~m] for n, m in masks.items()])

    assert abs(pruned.numel() / (pruned.numel() + kept.numel()) - ratio) < 0.01
    assert float(pruned.max()) <= float(kept.min())
    assert "conv_in.weight" in masks
    assert "class_embedding.weight" not in masks  # embeddings and norms are not pruned
    assert all(name.endswith(".weight") for name in masks)


def test_the_recovered_model_keeps_the_pruned_weights_at_zero(game: Any) -> None:
    recovered = game.recover()

    assert abs(pruned_fraction(recovered, game.masks_) - 0.3) < 0.01
    for name, mask in game.masks_.items():
        assert (recovered[name][~mask] == 0).all(), name


def test_recovery_runs_once_and_is_cached_in_the_store(
    contributors: list[TrainingContributor],
    base: Any,
    measurement: Measurement,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stages = count_training(monkeypatch)
    store = ArtefactStore(tmp_path)
    first = SparsifiedFineTuneGame(contributors, base, measurement, store=store, **OPTIONS)

    recovered = first.recover()
    first.recover()
    again = SparsifiedFineTuneGame(contributors, base, measurement, store=store, **OPTIONS)
    reloaded = again.recover()

    assert stages == ["recover"]
    assert len(list((tmp_path / "recovered_model").rglob("*.npz"))) == 1
    assert recovered.keys() == reloaded.keys()
    assert all(torch.equal(recovered[k], reloaded[k]) for k in recovered)


def test_pruned_weights_stay_zero_after_a_coalitions_fine_tuning(game: Any) -> None:
    tuned = dict(game.train_coalition([0, 2]).named_parameters())
    recovered = game.recover()

    for name, mask in game.masks_.items():
        assert (tuned[name][~mask] == 0).all(), name
    assert any(not torch.equal(tuned[name], recovered[name]) for name in game.masks_)


def test_exact_shapley_values_of_the_game_are_finite_and_efficient(
    game: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = count_training(monkeypatch)

    estimator = ExactShapley().fit(game)

    assert stages.count("finetune") == 7  # every non-empty coalition of 3 players, once
    assert np.isfinite(estimator.values_).all()
    assert estimator.baseline_ == 1.0  # the Inception Score's floor
    np.testing.assert_allclose(
        estimator.values_.sum(), estimator.grand_value_ - estimator.baseline_, atol=1e-9
    )
    singles = game(np.eye(3, dtype=bool))
    assert np.isfinite(singles).all()
    assert len(np.unique(singles)) == 3


def test_a_base_with_too_few_labels_or_other_widths_is_refused(
    contributors: list[TrainingContributor], base: Any, measurement: Measurement
) -> None:
    extra = TrainingContributor("extra", contributors[0].images)

    with pytest.raises(EngineInputError, match="too few"):
        SparsifiedFineTuneGame([*contributors, extra], base, measurement, **OPTIONS)
    with pytest.raises(EngineInputError, match="widths"):
        SparsifiedFineTuneGame(
            contributors, base, measurement, **{**OPTIONS, "recipe": replace(RECIPE, widths=(8,))}
        )
    with pytest.raises(EngineInputError, match="prune_ratio"):
        SparsifiedFineTuneGame(contributors, base, measurement, prune_ratio=1.0, **OPTIONS)
