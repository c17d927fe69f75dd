"""The sparsified fine-tuning game (arXiv 2407.03153): cheap stand-in for retraining per coalition.

Retraining a diffusion model per coalition is the ground truth but costs a full training run each.
Lu et al. approximate it by *sparsified fine-tuning*:

1. take the model trained on all the data and magnitude-prune it: the ``prune_ratio`` fraction of
   conv and linear weights with the smallest |w|, counted globally over those layers, is set to zero
   (biases, norms and embeddings are kept);
2. recover: fine-tune the pruned model on ALL the data for ``recovery_steps``, the pruned weights
   held at zero (done once, cached in the store);
3. v(S): fine-tune the recovered model on S's data only for ``finetune_steps`` (masks enforced),
   then sample, featurize and measure it like
   :class:`~attribution.engine.evaluation.retrain_game.RetrainGame`.

The paper's rationale: pruning removes capacity the full model spent on everyone's data, so the
short per-coalition fine-tune re-learns from S's data, and its utilities track retraining more
closely than fine-tuning the dense model, at a fraction of a retraining run's cost.

Labels are the contributors' indices, as in the demo, so they must be below the base model's null
label (its last class embedding).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from attribution.engine.diffusion_training import (
    TrainRecipe,
    apply_masks,
    train_class_conditional,
)
from attribution.engine.errors import EngineInputError
from attribution.engine.evaluation.model_utility import (
    CoalitionModelGame,
    Measurement,
    SamplingSettings,
    TrainingContributor,
    coalition_data,
)
from attribution.engine.games.proxy import EmptyValue
from attribution.engine.generation import new_sampling_scheduler, state_dict_sha256
from attribution.engine.progress import Progress
from attribution.engine.store import ArtefactStore

if TYPE_CHECKING:
    import torch
    from diffusers import UNet2DModel


def magnitude_masks(module: torch.nn.Module, prune_ratio: float) -> dict[str, torch.Tensor]:
    """Global magnitude pruning masks over the weights of every Conv2d and Linear layer.

    Args:
        module: The model to prune (not modified).
        prune_ratio: Fraction in [0, 1) of those weights to prune; exactly
            ``round(prune_ratio * total)`` are, the smallest |w| first (ties by position).

    Returns:
        Parameter name (e.g. ``"conv_in.weight"``) → boolean mask of its shape, False = pruned.
    """
    import torch

    if not 0.0 <= prune_ratio < 1.0:
        raise EngineInputError(f"prune_ratio must be in [0, 1), got {prune_ratio}.")
    weights = {
        f"{name}.weight" if name else "weight": layer.weight
        for name, layer in module.named_modules()
        if isinstance(layer, torch.nn.Conv2d | torch.nn.Linear)
    }
    if not weights:
        raise EngineInputError("the model has no Conv2d or Linear layers to prune.")
    magnitudes = torch.cat([w.detach().abs().reshape(-1).cpu() for w in weights.values()])
    keep = torch.ones(magnitudes.numel(), dtype=torch.bool)
    n_pruned = round(prune_ratio * magnitudes.numel())
    keep[torch.argsort(magnitudes, stable=True)[:n_pruned]] = False
    pieces = torch.split(keep, [w.numel() for w in weights.values()])
    return {
        name: piece.reshape(w.shape)
        for (name, w), piece in zip(weights.items(), pieces, strict=True)
    }


class SparsifiedFineTuneGame(CoalitionModelGame):
    """v(S) = metric of the pool sampled from the pruned, recovered model fine-tuned on S's data.

    Args:
        contributors: The players; contributor i's images are trained with label i.
        base: The model trained on everyone's data (a class-conditional ``UNet2DModel``, e.g.
            the shipped digits UNet); not modified. Its last class label is the null label.
        measurement: Featurizer, metric and scorers.
        recipe: Fine-tuning hyper-parameters and seed (``steps`` is replaced by
            ``recovery_steps`` and ``finetune_steps``); its widths must be the base's. Default:
            ``TrainRecipe`` with the base's widths.
        prune_ratio: Fraction of conv/linear weights pruned, in [0, 1).
        recovery_steps: Fine-tuning steps on all data after pruning (once, cached).
        finetune_steps: Fine-tuning steps on each coalition's data.
        sampling: Bank size, DDIM steps (default 10), seed, guidance.
        empty_value: v(∅): ``"floor"`` or a number.
        store: Artefact cache for the recovered weights and every coalition's utility.
        progress: ``progress("recover", step, recovery_steps)`` during recovery, then
            ``progress("finetune", rows_done, n_rows)``.
        device: Torch device for training and sampling.

    Attributes:
        n_players: The number of contributors.
        masks_: The pruning masks (see :func:`magnitude_masks`).
        base_sha256: Checksum of the base model's weights.
    """

    stage = "finetune"

    def __init__(
        self,
        contributors: Sequence[TrainingContributor],
        base: UNet2DModel,
        measurement: Measurement,
        *,
        recipe: TrainRecipe | None = None,
        prune_ratio: float = 0.3,
        recovery_steps: int = 300,
        finetune_steps: int = 50,
        sampling: SamplingSettings | None = None,
        empty_value: EmptyValue = "floor",
        store: ArtefactStore | None = None,
        progress: Progress | None = None,
        device: str = "cpu",
    ) -> None:
        config = _config(base)
        widths = tuple(int(w) for w in config.block_out_channels)
        recipe = recipe or TrainRecipe(widths=widths)
        if recipe.widths != widths:
            raise EngineInputError(
                f"recipe.widths {recipe.widths} differ from the base model's widths {widths}."
            )
        super().__init__(
            contributors,
            measurement,
            new_sampling_scheduler(recipe.n_train_steps),
            sampling=sampling or SamplingSettings(),
            empty_value=empty_value,
            store=store,
            progress=progress,
            device=device,
        )
        self.n_labels = int(config.num_class_embeds or 0)
        self.null_label = self.n_labels - 1
        if self.n_players > self.null_label:
            raise EngineInputError(
                f"the base model has {self.n_labels} class labels (the last is null), too few "
                f"for {self.n_players} contributors labelled by their index."
            )
        image_shape = (int(config.in_channels), *(int(config.sample_size),) * 2)
        if self.contributors[0].images.shape[1:] != image_shape:
            raise EngineInputError(
                f"the base model makes images of shape {image_shape}, the contributors' images "
                f"have shape {self.contributors[0].images.shape[1:]}."
            )
        model: Any = base
        self.base = copy.deepcopy(model).cpu().eval()
        self.base_sha256 = state_dict_sha256(self.base)
        self.masks_ = magnitude_masks(self.base, prune_ratio)
        self.prune_ratio = prune_ratio
        self.recovery_recipe = replace(recipe, steps=recovery_steps)
        self.finetune_recipe = replace(recipe, steps=finetune_steps)
        self._recovered: dict[str, torch.Tensor] | None = None

    def recovery_inputs(self) -> dict[str, Any]:
        """Everything that determines the recovered weights, JSON-able."""
        return {
            "game": "sparsified",
            "base_sha256": self.base_sha256,
            "prune_ratio": self.prune_ratio,
            "recipe": asdict(self.recovery_recipe),
            "members": self.data_inputs(range(self.n_players)),
        }

    def recover(self) -> dict[str, torch.Tensor]:
        """The pruned model fine-tuned on all data (a state dict), from memory or the store."""
        import torch

        if self._recovered is None:

            def compute() -> dict[str, Any]:
                images, labels = coalition_data(self.contributors, range(self.n_players))
                pruned = copy.deepcopy(self.base)
                apply_masks(pruned, self.masks_)
                model: Any = train_class_conditional(
                    images,
                    labels,
                    self.n_labels,
                    self.recovery_recipe,
                    init=pruned.state_dict(),
                    frozen_masks=self.masks_,
                    progress=self.progress,
                    stage="recover",
                    device=self.device,
                )
                return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}

            inputs = self.recovery_inputs()
            found = (
                self.store.fetch("recovered_model", inputs, compute) if self.store else compute()
            )
            self._recovered = {k: torch.from_numpy(np.asarray(v)) for k, v in found.items()}
        return self._recovered

    def training_inputs(self, members: Sequence[int]) -> dict[str, Any]:
        """The recovery's inputs, the fine-tuning recipe and each member's key and data digest."""
        return {
            "game": "sparsified",
            "recovery": self.recovery_inputs(),
            "recipe": asdict(self.finetune_recipe),
            "members": self.data_inputs(members),
        }

    def train_coalition(self, members: Sequence[int]) -> UNet2DModel:
        """The recovered model fine-tuned on the members' images, pruned weights kept at zero."""
        images, labels = coalition_data(self.contributors, members)
        return train_class_conditional(
            images,
            labels,
            self.n_labels,
            self.finetune_recipe,
            init=self.recover(),
            frozen_masks=self.masks_,
            device=self.device,
        )


def _config(base: UNet2DModel) -> Any:
    """The base model's config (diffusers' models are untyped to mypy)."""
    model: Any = base
    return model.config
