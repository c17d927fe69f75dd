"""Class-conditional generation: a ``UNet2DModel`` with class embeddings and a DDPM/DDIM scheduler.

:class:`ClassConditionalBackend` samples such a model (the embedded digits model); conditions are a
contributor's class labels. :func:`new_class_conditional_unet`, :func:`new_noise_scheduler` and
:func:`new_sampling_scheduler` build a fresh model, its DDPM training scheduler and a DDIM
sampling scheduler over the same schedule.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.generation.backend import (
    GENERATION_VERSION,
    Images,
    check_counts,
    check_device,
    check_guidance_scale,
    check_positive_int,
    public_config,
    sample_generators,
)
from attribution.engine.generation.fingerprints import state_dict_sha256
from attribution.engine.progress import Progress, report

if TYPE_CHECKING:
    import torch
    from diffusers import UNet2DModel


class ClassConditionalBackend:
    """Samples a class-conditional ``UNet2DModel`` with a DDPM or DDIM scheduler.

    Args:
        unet: A diffusers ``UNet2DModel`` with ``num_class_embeds`` set; it is moved to ``device``
            and put in eval mode. Model space is [-1, 1].
        scheduler: A diffusers scheduler (DDPM or DDIM); ``set_timesteps(n_steps)`` is called per
            batch.
        n_steps: Number of denoising steps (>= 1).
        null_label: The class label of the unconditional branch of classifier-free guidance
            (the label the model was trained with for dropped conditions). Needed when
            ``guidance_scale != 1``.
        guidance_scale: Classifier-free guidance scale s (>= 0): ε = ε_u + s (ε_c − ε_u). 1.0 means
            no guidance (one forward pass per step); otherwise the conditional and unconditional
            halves run as one concatenated forward pass.
        device: Torch device ("cpu", "cuda", "cuda:1", ...).
        batch_size: Images denoised at once (>= 1); does not change the samples.
    """

    def __init__(
        self,
        unet: UNet2DModel,
        scheduler: Any,
        *,
        n_steps: int = 25,
        null_label: int | None = None,
        guidance_scale: float = 1.0,
        device: str = "cpu",
        batch_size: int = 64,
    ) -> None:
        check_device(device)
        self.n_classes = _class_count(unet)
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.guidance_scale = check_guidance_scale(guidance_scale)
        if null_label is not None:
            null_label = self._check_label(null_label, "null_label")
        if self.guidance_scale != 1.0 and null_label is None:
            raise EngineInputError(
                f"guidance_scale={self.guidance_scale} needs null_label, the class label the model "
                "was trained with for its unconditional branch; pass null_label or use "
                "guidance_scale=1.0."
            )
        self.null_label = null_label
        self.device = device
        # diffusers' models are torch modules, but mypy cannot see through its lazy imports.
        self.unet: Any = cast(Any, unet).to(device).eval()
        self.scheduler: Any = scheduler

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str = "cpu",
        *,
        n_steps: int = 25,
        null_label: int | None = None,
        guidance_scale: float = 1.0,
        batch_size: int = 64,
    ) -> ClassConditionalBackend:
        """Load ``path/unet`` (``UNet2DModel``) and ``path/scheduler`` (as a ``DDIMScheduler``).

        Raises:
            EngineInputError: When the directory or one of its parts is missing or unreadable.
        """
        check_device(device)
        from diffusers import DDIMScheduler, UNet2DModel

        root = Path(path)
        if not root.is_dir():
            raise EngineInputError(f"model directory {root} does not exist.")
        for part in ("unet", "scheduler"):
            if not (root / part).is_dir():
                raise EngineInputError(
                    f"model directory {root} has no {part}/ folder; expected a directory written "
                    "by ClassConditionalBackend.save_pretrained (unet/ and scheduler/)."
                )
        try:
            unet = cast(Any, UNet2DModel).from_pretrained(root / "unet", local_files_only=True)
            scheduler = cast(Any, DDIMScheduler).from_pretrained(
                root / "scheduler", local_files_only=True
            )
        except (OSError, ValueError) as error:
            raise EngineInputError(
                f"cannot load a class-conditional model from {root}: {error}"
            ) from error
        return cls(
            unet,
            scheduler,
            n_steps=n_steps,
            null_label=null_label,
            guidance_scale=guidance_scale,
            device=device,
            batch_size=batch_size,
        )

    def save_pretrained(self, path: str | Path) -> None:
        """Write the UNet to ``path/unet`` and the scheduler to ``path/scheduler``."""
        root = Path(path)
        self.unet.save_pretrained(root / "unet")
        self.scheduler.save_pretrained(root / "scheduler")

    def generate(
        self,
        conditions: Sequence[int],
        n_samples: int,
        seed: int,
        progress: Progress | None = None,
    ) -> Images:
        """Sample ``n_samples`` images, their labels drawn uniformly from ``conditions``.

        Args:
            conditions: One contributor's records as class labels (repeats weight a label).
            n_samples: Number of images (>= 1).
            seed: Seed in [0, 2**63): labels come from ``default_rng(seed)``, sample ``i``'s noise
                from a CPU generator seeded from ``(seed, i)``.
            progress: Optional callback, called as ``("generate", done, n_samples)``.

        Returns:
            Float32 images, shape ``(n_samples, C, H, W)``, values in [0, 1].
        """
        import torch

        n_samples, seed = check_counts(conditions, n_samples, seed)
        labels = np.asarray([self._check_label(c, "condition") for c in conditions], np.int64)
        chosen = labels[np.random.default_rng(seed).integers(len(labels), size=n_samples)]
        generators = sample_generators(seed, n_samples)
        config = self.unet.config
        shape = (config.in_channels, *_pair(config.sample_size))
        batches: list[Images] = []
        report(progress, "generate", 0, n_samples)
        with torch.inference_mode():
            for start in range(0, n_samples, self.batch_size):
                stop = min(start + self.batch_size, n_samples)
                batch = self._denoise(chosen[start:stop], generators[start:stop], shape)
                batches.append(batch)
                report(progress, "generate", stop, n_samples)
        return np.concatenate(batches, axis=0)

    def describe(self) -> dict[str, Any]:
        """Everything that determines the samples, JSON-able (a cache key).

        Batch size and device are left out: they do not change the samples (beyond float noise).
        """
        return {
            "backend": type(self).__name__,
            "version": GENERATION_VERSION,
            "unet_class": type(self.unet).__name__,
            "unet_config": public_config(self.unet.config),
            "unet_sha256": state_dict_sha256(self.unet),
            "scheduler_class": type(self.scheduler).__name__,
            "scheduler_config": public_config(self.scheduler.config),
            "n_steps": self.n_steps,
            "guidance_scale": self.guidance_scale,
            "null_label": self.null_label,
        }

    def _denoise(
        self, labels: NDArray[np.int64], generators: list[torch.Generator], shape: tuple[int, ...]
    ) -> Images:
        """Run the reverse process for one batch; return it in [0, 1] as float32 numpy."""
        import torch

        dtype = self.unet.dtype
        noise = [torch.randn((1, *shape), generator=g, dtype=torch.float32) for g in generators]
        sample = torch.cat(noise).to(self.device, dtype)
        class_labels = torch.as_tensor(labels, device=self.device)
        guided = self.guidance_scale != 1.0
        if guided:
            assert self.null_label is not None  # checked in __init__
            null = torch.full_like(class_labels, self.null_label)
            class_labels = torch.cat([class_labels, null])
        self.scheduler.set_timesteps(self.n_steps, device=self.device)
        step_options: dict[str, Any] = {}
        if "generator" in inspect.signature(self.scheduler.step).parameters:
            step_options["generator"] = generators  # DDPM's per-step noise, one stream per sample
        for t in self.scheduler.timesteps:
            model_input = self.scheduler.scale_model_input(sample, t)
            if guided:
                model_input = torch.cat([model_input, model_input])
            output = self.unet(model_input, t, class_labels=class_labels).sample
            if guided:
                conditional, unconditional = output.chunk(2)
                output = unconditional + self.guidance_scale * (conditional - unconditional)
            sample = self.scheduler.step(output, t, sample, **step_options).prev_sample
        images = (sample.float().clamp(-1.0, 1.0) + 1.0) / 2.0
        return np.ascontiguousarray(images.cpu().numpy(), dtype=np.float32)

    def _check_label(self, label: object, what: str) -> int:
        if isinstance(label, bool) or not isinstance(label, int | np.integer):
            raise EngineInputError(f"{what} must be an integer class label, got {label!r}.")
        if not 0 <= int(label) < self.n_classes:
            raise EngineInputError(
                f"{what} {label} is outside the model's class labels 0..{self.n_classes - 1}."
            )
        return int(label)


def _class_count(unet: UNet2DModel) -> int:
    n_classes = getattr(cast(Any, unet).config, "num_class_embeds", None)
    if not isinstance(n_classes, int) or n_classes < 1:
        raise EngineInputError(
            "the UNet is not class-conditional (num_class_embeds is not set); use a UNet2DModel "
            "trained with class labels, or TextToImageBackend for text-conditioned pipelines."
        )
    return n_classes


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def new_class_conditional_unet(
    n_labels: int,
    *,
    sample_size: int = 16,
    channels: int = 1,
    widths: Sequence[int] = (32, 64, 64),
    seed: int = 0,
) -> UNet2DModel:
    """A fresh, randomly initialised class-conditional ``UNet2DModel`` (convolution blocks only).

    Args:
        n_labels: Number of class embeddings, including the null label used for classifier-free
            guidance.
        sample_size: Image height and width in pixels.
        channels: Image channels.
        widths: Channels per resolution level (one down/up block each).
        seed: Seed of the initial weights.
    """
    import torch
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    levels = len(widths)
    model: UNet2DModel = cast(Any, UNet2DModel)(
        sample_size=sample_size,
        in_channels=channels,
        out_channels=channels,
        layers_per_block=1,
        block_out_channels=tuple(widths),
        down_block_types=("DownBlock2D",) * levels,
        up_block_types=("UpBlock2D",) * levels,
        norm_num_groups=8,
        num_class_embeds=n_labels,
    )
    return model


def new_noise_scheduler(n_train_steps: int = 1000) -> Any:
    """The DDPM training scheduler (cosine schedule, which suits small images)."""
    from diffusers import DDPMScheduler

    return cast(Any, DDPMScheduler)(
        num_train_timesteps=n_train_steps, beta_schedule="squaredcos_cap_v2"
    )


def new_sampling_scheduler(n_train_steps: int = 1000) -> Any:
    """A DDIM scheduler over the training schedule of :func:`new_noise_scheduler` (for sampling)."""
    from diffusers import DDIMScheduler

    return cast(Any, DDIMScheduler).from_config(new_noise_scheduler(n_train_steps).config)
