"""Training a small class-conditional diffusion model (DDPM objective) from images and labels.

One loop serves every game and demo that needs a trained model: the embedded digits model
(``attribution.engine.demos.digits.training``), the retraining game (a fresh model per
coalition) and the sparsified fine-tuning game (a pruned model fine-tuned per coalition, its
pruned weights held at zero by ``frozen_masks``).

Each step draws a batch of rows with replacement, replaces a fraction ``label_dropout`` of labels by
the null label (for classifier-free guidance), noises the images at uniform random timesteps and
regresses the noise (MSE). AdamW with a one-cycle learning-rate schedule; the returned model is
the exponential moving average (EMA) of the weights, with the warm-up ``min(decay, (1+t)/(10+t))``.
All randomness comes from ``recipe.seed``, so a run is deterministic on a given torch build and CPU.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.generation import (
    check_device,
    new_class_conditional_unet,
    new_noise_scheduler,
)
from attribution.engine.progress import Progress, report

if TYPE_CHECKING:
    import torch
    from diffusers import UNet2DModel

StateDict = Mapping[str, "torch.Tensor"]
"""A torch state dict: parameter and buffer name → tensor."""

Masks = Mapping[str, "torch.Tensor"]
"""Parameter name → boolean tensor of the parameter's shape; False marks a weight held at zero."""


@dataclass(frozen=True)
class TrainRecipe:
    """Everything besides the data that determines a trained model.

    Attributes:
        steps: Optimiser steps (>= 1).
        batch_size: Rows per step, drawn with replacement (>= 1).
        learning_rate: Peak learning rate of the one-cycle schedule (> 0).
        widths: Channels per UNet resolution level (multiples of 8: the UNet's group norms).
            Ignored by the architecture when fine-tuning from ``init``, which must match it.
        n_train_steps: Diffusion timesteps T of the DDPM noise schedule (cosine).
        label_dropout: Probability in [0, 1) that a row's label becomes the null label.
        ema_decay: Decay of the exponential moving average of the weights, in [0, 1).
        seed: Seed of the initial weights and of every random draw of the loop.
    """

    steps: int = 900
    batch_size: int = 64
    learning_rate: float = 2e-3
    widths: tuple[int, ...] = (32, 64, 64)
    n_train_steps: int = 1000
    label_dropout: float = 0.1
    ema_decay: float = 0.995
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "n_train_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EngineInputError(f"{name} must be a positive integer, got {value!r}.")
        if not self.learning_rate > 0:
            raise EngineInputError(f"learning_rate must be positive, got {self.learning_rate}.")
        if not self.widths or any(int(w) < 8 or int(w) % 8 for w in self.widths):
            raise EngineInputError(
                f"widths must be positive multiples of 8 (the UNet's group norms use 8 groups), "
                f"got {self.widths}."
            )
        if not 0.0 <= self.label_dropout < 1.0:
            raise EngineInputError(f"label_dropout must be in [0, 1), got {self.label_dropout}.")
        if not 0.0 <= self.ema_decay < 1.0:
            raise EngineInputError(f"ema_decay must be in [0, 1), got {self.ema_decay}.")


def train_class_conditional(
    images: NDArray[np.float32],
    labels: NDArray[np.integer[Any]],
    n_labels: int,
    recipe: TrainRecipe,
    *,
    init: StateDict | None = None,
    frozen_masks: Masks | None = None,
    progress: Progress | None = None,
    stage: str = "train diffusion",
    device: str = "cpu",
) -> UNet2DModel:
    """Train (or fine-tune) a class-conditional UNet on ``images`` and return its EMA weights.

    Args:
        images: Shape (N, C, H, W) with H == W, float32 in [0, 1] (mapped to [-1, 1] inside).
        labels: Shape (N,), integer class labels in [0, n_labels - 1) (the last label is null).
        n_labels: Class embeddings including the null label ``n_labels - 1`` that replaces a
            fraction ``recipe.label_dropout`` of labels during training (classifier-free guidance).
        recipe: Hyper-parameters and seed.
        init: A state dict of a UNet of the same architecture to start from (fine-tuning);
            None starts from the seeded random initialisation.
        frozen_masks: Parameter name → boolean mask of its shape; weights where the mask is False
            are set to zero before training and after every optimiser step, so they stay exactly
            zero in the trained and averaged weights (pruned models).
        progress: Called as ``progress(stage, step, recipe.steps)``.
        stage: The stage name reported to ``progress``.
        device: Torch device to train on. Random draws stay on a CPU generator, so the batches
            do not depend on the device (the arithmetic may, in the last bits).

    Returns:
        The EMA ``UNet2DModel`` on ``device``, in eval mode.

    Raises:
        EngineInputError: On malformed images, labels, masks or an ``init`` of another shape.
    """
    import torch

    check_device(device)
    pixels, targets = _check_data(images, labels, n_labels)
    pixels, targets = pixels.to(device), targets.to(device)
    null_label = n_labels - 1
    # The global seed first, then the factory's own: the shipped digits weights were made so.
    torch.manual_seed(recipe.seed)
    unet: Any = new_class_conditional_unet(
        n_labels,
        sample_size=pixels.shape[-1],
        channels=pixels.shape[1],
        widths=recipe.widths,
        seed=recipe.seed,
    )
    if init is not None:
        _load_init(unet, init)
    unet.to(device)
    masks = {name: mask.to(device) for name, mask in _check_masks(unet, frozen_masks).items()}
    apply_masks(unet, masks)
    scheduler = new_noise_scheduler(recipe.n_train_steps)
    average = copy.deepcopy(unet).eval()
    optimiser = torch.optim.AdamW(unet.parameters(), lr=recipe.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.learning_rate, total_steps=recipe.steps, pct_start=0.05
    )
    generator = torch.Generator().manual_seed(recipe.seed)
    for step in range(recipe.steps):
        rows = torch.randint(0, len(pixels), (recipe.batch_size,), generator=generator)
        rows = rows.to(device)
        batch_labels = targets[rows].clone()
        dropped = torch.rand(recipe.batch_size, generator=generator) < recipe.label_dropout
        batch_labels[dropped.to(device)] = null_label
        noise = torch.randn(pixels[rows].shape, generator=generator).to(device)
        times = torch.randint(0, recipe.n_train_steps, (recipe.batch_size,), generator=generator)
        times = times.to(device)
        noisy = scheduler.add_noise(pixels[rows], noise, times)
        loss = torch.nn.functional.mse_loss(
            unet(noisy, times, class_labels=batch_labels).sample, noise
        )
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        schedule.step()
        apply_masks(unet, masks)
        with torch.no_grad():
            decay = min(recipe.ema_decay, (1 + step) / (10 + step))
            for kept, current in zip(average.parameters(), unet.parameters(), strict=True):
                kept.mul_(decay).add_(current, alpha=1.0 - decay)
        report(progress, stage, step + 1, recipe.steps)
    model: UNet2DModel = average
    return model


def apply_masks(module: torch.nn.Module, masks: Masks) -> None:
    """Set the weights of ``module`` where ``masks`` is False to +0.0, in place."""
    import torch

    if not masks:
        return
    parameters = dict(module.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            parameters[name].masked_fill_(~mask, 0.0)


def _check_data(
    images: NDArray[np.float32], labels: NDArray[np.integer[Any]], n_labels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate the training data; return pixels in [-1, 1] (N, C, H, W) and int64 labels (N,)."""
    import torch

    array = np.asarray(images)
    if array.ndim != 4 or array.shape[0] < 1 or array.shape[2] != array.shape[3]:
        raise EngineInputError(
            f"images must have shape (N, C, H, H) with N >= 1 (square images), got {array.shape}."
        )
    if array.dtype != np.float32 or not np.isfinite(array).all():
        raise EngineInputError(f"images must be finite float32, got dtype {array.dtype}.")
    if array.min() < 0.0 or array.max() > 1.0:
        raise EngineInputError("images must have values in [0, 1].")
    if isinstance(n_labels, bool) or not isinstance(n_labels, int | np.integer) or n_labels < 2:
        raise EngineInputError(
            f"n_labels must be an integer >= 2 (at least one class and the null label), "
            f"got {n_labels!r}."
        )
    classes = np.asarray(labels)
    if classes.shape != (array.shape[0],) or not np.issubdtype(classes.dtype, np.integer):
        raise EngineInputError(
            f"labels must be {array.shape[0]} integers (one per image), got dtype {classes.dtype} "
            f"and shape {classes.shape}."
        )
    if classes.min() < 0 or classes.max() >= n_labels - 1:
        raise EngineInputError(
            f"labels must lie in [0, {n_labels - 1}); label {n_labels - 1} is the null label."
        )
    pixels = torch.from_numpy(np.ascontiguousarray(array)) * 2.0 - 1.0
    return pixels, torch.from_numpy(classes.astype(np.int64))


def _load_init(unet: Any, init: StateDict) -> None:
    """Load ``init`` into ``unet`` (strict), reporting an architecture mismatch clearly."""
    try:
        unet.load_state_dict(dict(init), strict=True)
    except RuntimeError as error:
        raise EngineInputError(
            f"init does not fit the recipe's architecture (widths, image size, n_labels): {error}"
        ) from error


def _check_masks(unet: Any, masks: Masks | None) -> dict[str, torch.Tensor]:
    """Return the masks as boolean tensors on the CPU, checked against the UNet's parameters."""
    import torch

    if not masks:
        return {}
    parameters = dict(unet.named_parameters())
    checked = {}
    for name, mask in masks.items():
        if name not in parameters:
            raise EngineInputError(f"frozen_masks names {name!r}, which is not a UNet parameter.")
        tensor = torch.as_tensor(mask)
        if tensor.dtype != torch.bool or tensor.shape != parameters[name].shape:
            raise EngineInputError(
                f"frozen_masks[{name!r}] must be a boolean tensor of shape "
                f"{tuple(parameters[name].shape)}, got {tensor.dtype} {tuple(tensor.shape)}."
            )
        checked[name] = tensor.cpu()
    return checked
