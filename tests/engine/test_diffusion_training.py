"""The generic diffusion trainer: determinism, fine-tuning from weights, frozen (pruned) weights."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from attribution.engine.demos.digits.data import load_digit_images
from attribution.engine.diffusion_training import (
    TrainRecipe,
    apply_masks,
    train_class_conditional,
)
from attribution.engine.errors import EngineInputError
from attribution.engine.generation import state_dict_sha256

# widths (8, 16) suit the UNet's 8-group norms; 3 steps on 36 16x16 images take well under a second.
RECIPE = TrainRecipe(steps=3, batch_size=8, widths=(8, 16), n_train_steps=100, seed=0)
N_LABELS = 4  # 3 contributors and the null label


@pytest.fixture(scope="module")
def data() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """12 images of each of the digits 0, 1 and 7, labelled 0, 1, 2."""
    images, digits = load_digit_images()
    rows = np.concatenate([np.flatnonzero(digits == d)[:12] for d in (0, 1, 7)])
    return images[rows], np.repeat(np.arange(3), 12)


def parameters(model: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return float(sum(float((a[k] - b[k]).pow(2).sum()) for k in a) ** 0.5)


def test_training_is_deterministic_under_the_recipe_seed(data: Any) -> None:
    images, labels = data

    first = train_class_conditional(images, labels, N_LABELS, RECIPE)
    again = train_class_conditional(images, labels, N_LABELS, RECIPE)
    other_seed = train_class_conditional(images, labels, N_LABELS, replace(RECIPE, seed=1))

    assert state_dict_sha256(first) == state_dict_sha256(again)  # type: ignore[arg-type]
    assert state_dict_sha256(first) != state_dict_sha256(other_seed)  # type: ignore[arg-type]
    assert not first.training  # type: ignore[attr-defined]


def test_fine_tuning_starts_from_init_and_moves_away_from_it(data: Any) -> None:
    images, labels = data
    base: Any = train_class_conditional(images, labels, N_LABELS, RECIPE)
    init = parameters(base)
    only_sevens = labels == 2
    recipe = replace(RECIPE, steps=2, seed=5)

    tuned = parameters(
        train_class_conditional(
            images[only_sevens], labels[only_sevens], N_LABELS, recipe, init=base.state_dict()
        )
    )
    fresh = parameters(
        train_class_conditional(images[only_sevens], labels[only_sevens], N_LABELS, recipe)
    )

    assert distance(tuned, init) > 0.0
    # two steps from init stay near init; a fresh run starts from an unrelated random point
    assert distance(tuned, init) < 0.1 * distance(fresh, init)


def test_frozen_masks_keep_pruned_weights_exactly_zero(data: Any) -> None:
    images, labels = data
    base: Any = train_class_conditional(images, labels, N_LABELS, RECIPE)
    generator = torch.Generator().manual_seed(0)
    masks = {
        name: torch.rand(p.shape, generator=generator) > 0.5
        for name, p in base.named_parameters()
        if name.endswith(".weight") and p.ndim > 1
    }
    recipe = replace(RECIPE, steps=4, learning_rate=1e-2)

    tuned: Any = train_class_conditional(
        images, labels, N_LABELS, recipe, init=base.state_dict(), frozen_masks=masks
    )

    weights = dict(tuned.named_parameters())
    for name, mask in masks.items():
        assert (weights[name][~mask] == 0).all(), name
        assert (weights[name][mask] != 0).all(), name  # the rest trained (and is not zero)


def test_apply_masks_zeroes_exactly_the_masked_weights() -> None:
    layer = torch.nn.Linear(3, 2)
    mask = torch.tensor([[True, False, True], [False, True, True]])
    before = layer.weight.detach().clone()

    apply_masks(layer, {"weight": mask})

    assert torch.equal(layer.weight.detach()[mask], before[mask])
    assert (layer.weight.detach()[~mask] == 0).all()


def test_labels_must_leave_the_null_label_free(data: Any) -> None:
    images, labels = data

    with pytest.raises(EngineInputError, match="null label"):
        train_class_conditional(images, labels, 3, RECIPE)  # label 2 would be the null label


def test_init_of_another_architecture_is_refused(data: Any) -> None:
    images, labels = data
    wider: Any = train_class_conditional(
        images, labels, N_LABELS, replace(RECIPE, widths=(16, 16), steps=1)
    )

    with pytest.raises(EngineInputError, match="architecture"):
        train_class_conditional(images, labels, N_LABELS, RECIPE, init=wider.state_dict())


def test_masks_must_match_a_parameter(data: Any) -> None:
    images, labels = data

    with pytest.raises(EngineInputError, match="not a UNet parameter"):
        train_class_conditional(
            images, labels, N_LABELS, RECIPE, frozen_masks={"nope": torch.ones(2, dtype=torch.bool)}
        )
    with pytest.raises(EngineInputError, match="boolean tensor of shape"):
        train_class_conditional(
            images, labels, N_LABELS, RECIPE, frozen_masks={"conv_in.weight": torch.ones(2) > 0}
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 0), ("widths", (12, 16)), ("label_dropout", 1.0), ("learning_rate", 0.0)],
)
def test_recipes_with_impossible_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(EngineInputError, match=field):
        TrainRecipe(**{field: value})  # type: ignore[arg-type]
