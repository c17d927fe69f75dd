"""Text-to-image generation: any diffusers pipeline (Stable Diffusion, FLUX, ...).

:class:`TextToImageBackend` samples a pipeline, optionally with a fused LoRA; conditions are a
contributor's prompts. The helpers below read a pipeline directory, resolve its dtype, fuse a LoRA
and hash a pipeline's weights.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from attribution.engine.errors import EngineInputError
from attribution.engine.generation.backend import (
    GENERATION_VERSION,
    Images,
    check_counts,
    check_device,
    check_guidance_scale,
    check_positive_int,
    public_config,
    sample_conditions,
    sample_generators,
)
from attribution.engine.generation.fingerprints import (
    directory_fingerprint,
    file_sha256,
    state_dict_sha256,
)
from attribution.engine.progress import Progress, report

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline


class TextToImageBackend:
    """Samples any diffusers text-to-image pipeline (Stable Diffusion, FLUX, ...).

    Args:
        pipeline: A loaded diffusers pipeline whose ``__call__`` takes ``prompt``,
            ``num_inference_steps``, ``guidance_scale``, ``generator`` and ``output_type``. It is
            moved to ``device``.
        guidance_scale: The pipeline's guidance scale (>= 0).
        n_steps: Number of inference steps (>= 1).
        height: Output height in pixels, or None for the pipeline's default.
        width: Output width in pixels, or None for the pipeline's default.
        device: Torch device ("cpu", "cuda", ...).
        batch_size: Prompts per pipeline call (>= 1); does not change the samples.
        source: What the pipeline was loaded from, for :meth:`describe` (set by
            :meth:`from_pretrained`). Without it ``describe`` hashes every weight in memory.

    The pipeline's torch components are put in eval mode and its progress bar is switched off.
    """

    def __init__(
        self,
        pipeline: DiffusionPipeline,
        *,
        guidance_scale: float = 7.5,
        n_steps: int = 25,
        height: int | None = None,
        width: int | None = None,
        device: str = "cpu",
        batch_size: int = 4,
        source: dict[str, Any] | None = None,
    ) -> None:
        import torch

        check_device(device)
        self.guidance_scale = check_guidance_scale(guidance_scale)
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.height = None if height is None else check_positive_int(height, "height")
        self.width = None if width is None else check_positive_int(width, "width")
        self.device = device
        self.source = source
        self.pipeline: Any = cast(Any, pipeline).to(device)
        self.pipeline.set_progress_bar_config(disable=True)
        for component in self.pipeline.components.values():
            # Pipelines never switch modes; a model built from config would sample with dropout.
            if isinstance(component, torch.nn.Module):
                component.eval()

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        lora_path: str | Path | None = None,
        lora_scale: float = 1.0,
        device: str = "cpu",
        torch_dtype: torch.dtype | str | None = None,
        *,
        guidance_scale: float = 7.5,
        n_steps: int = 25,
        height: int | None = None,
        width: int | None = None,
        batch_size: int = 4,
        scheduler: str | None = None,
    ) -> TextToImageBackend:
        """Load a local diffusers pipeline directory, optionally fusing a LoRA into it.

        Args:
            path: A directory with ``model_index.json`` (as written by ``save_pretrained``).
            lora_path: A LoRA weights file, or a directory holding one, for
                ``load_lora_weights``; None for no LoRA.
            lora_scale: The LoRA's strength when fused.
            device: Torch device.
            torch_dtype: Weight dtype (a ``torch.dtype`` or its name, e.g. "float16").
            guidance_scale: See the class.
            n_steps: See the class.
            height: See the class.
            width: See the class.
            batch_size: See the class.
            scheduler: A diffusers scheduler class name (e.g. ``"DPMSolverMultistepScheduler"``)
                to sample with, built from the pipeline's own scheduler config; None keeps it.

        Raises:
            EngineInputError: When a path does not exist or is not a diffusers pipeline/LoRA, or
                the scheduler is not a diffusers scheduler.
        """
        check_device(device)
        from diffusers import DiffusionPipeline

        root = Path(path)
        index = _read_model_index(root)
        dtype = _torch_dtype(torch_dtype)
        options: dict[str, Any] = {"local_files_only": True}
        if dtype is not None:
            options["torch_dtype"] = dtype
        if "safety_checker" in index and index["safety_checker"] in (None, [None, None]):
            # Saved without a checker: say so, or Stable Diffusion warns that one is required.
            options.update(safety_checker=None, requires_safety_checker=False)
        try:
            pipeline = cast(Any, DiffusionPipeline).from_pretrained(root, **options)
        except (OSError, ValueError) as error:
            raise EngineInputError(
                f"cannot load a diffusers pipeline from {root}: {error}"
            ) from error
        source: dict[str, Any] = {
            "path": str(root.resolve()),
            "fingerprint": directory_fingerprint(root),
            "torch_dtype": None if dtype is None else str(dtype),
            "lora_path": None,
        }
        if scheduler:
            pipeline.scheduler = _scheduler(scheduler, pipeline.scheduler.config)
            source["scheduler"] = scheduler
        if lora_path is not None:
            lora_file = _fuse_lora(pipeline, Path(lora_path), lora_scale)
            source.update(
                lora_path=str(lora_file.resolve()),
                lora_sha256=file_sha256(lora_file),
                lora_scale=float(lora_scale),
            )
        return cls(
            pipeline,
            guidance_scale=guidance_scale,
            n_steps=n_steps,
            height=height,
            width=width,
            device=device,
            batch_size=batch_size,
            source=source,
        )

    def generate(
        self,
        conditions: Sequence[str],
        n_samples: int,
        seed: int,
        progress: Progress | None = None,
    ) -> Images:
        """Sample ``n_samples`` images, their prompts drawn uniformly from ``conditions``.

        Args:
            conditions: One contributor's records as prompts (repeats weight a prompt).
            n_samples: Number of images (>= 1).
            seed: Seed in [0, 2**63): prompts come from ``default_rng(seed)``, sample ``i``'s
                latents from a CPU generator seeded from ``(seed, i)``.
            progress: Optional callback, called as ``("generate", done, n_samples)``.

        Returns:
            Float32 images, shape ``(n_samples, 3, H, W)``, values in [0, 1].
        """
        n_samples, seed = check_counts(conditions, n_samples, seed)
        for prompt in conditions:
            if not isinstance(prompt, str):
                raise EngineInputError(f"conditions must be prompt strings, got {prompt!r}.")
        prompts = sample_conditions(conditions, n_samples, seed)
        generators = sample_generators(seed, n_samples)
        options: dict[str, Any] = {
            "num_inference_steps": self.n_steps,
            "guidance_scale": self.guidance_scale,
            "output_type": "np",
        }
        if self.height is not None:
            options["height"] = self.height
        if self.width is not None:
            options["width"] = self.width
        batches: list[Images] = []
        report(progress, "generate", 0, n_samples)
        for start in range(0, n_samples, self.batch_size):
            stop = min(start + self.batch_size, n_samples)
            result = self.pipeline(
                prompt=prompts[start:stop], generator=generators[start:stop], **options
            )
            batches.append(_channels_first(result.images))
            report(progress, "generate", stop, n_samples)
        return np.concatenate(batches, axis=0)

    def describe(self) -> dict[str, Any]:
        """Everything that determines the samples, JSON-able (a cache key).

        For a pipeline loaded from a directory the weights are identified by the directory's
        fingerprint (configs plus file names and sizes) and the LoRA file's sha256; a pipeline
        passed in directly is identified by a sha256 over all its weights.
        """
        pipeline = self.pipeline
        description: dict[str, Any] = {
            "backend": type(self).__name__,
            "version": GENERATION_VERSION,
            "pipeline_class": type(pipeline).__name__,
            "scheduler_class": type(pipeline.scheduler).__name__,
            "scheduler_config": public_config(pipeline.scheduler.config),
            "n_steps": self.n_steps,
            "guidance_scale": self.guidance_scale,
            "height": self.height,
            "width": self.width,
        }
        if self.source is not None:
            description["source"] = self.source
        else:
            description["weights_sha256"] = _pipeline_sha256(pipeline)
        return description


def _channels_first(images: Any) -> Images:
    """Pipeline output, ``(B, H, W, C)`` numpy or a list of PIL images, as ``(B, C, H, W)``."""
    arrays = [np.asarray(image) for image in images]
    # output_type="np" gives floats in [0, 1]; a pipeline that ignores it gives PIL images (uint8).
    array = np.stack([a / 255.0 if a.dtype == np.uint8 else a for a in arrays]).astype(np.float32)
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2).clip(0.0, 1.0), dtype=np.float32)


def _read_model_index(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise EngineInputError(f"pipeline directory {root} does not exist.")
    index_file = root / "model_index.json"
    if not index_file.is_file():
        raise EngineInputError(
            f"{root} is not a diffusers pipeline directory (no model_index.json); save one with "
            "pipeline.save_pretrained(path)."
        )
    try:
        index: dict[str, Any] = json.loads(index_file.read_text())
    except (OSError, ValueError) as error:
        raise EngineInputError(f"cannot read {index_file}: {error}") from error
    return index


def _torch_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(resolved, torch.dtype):
        raise EngineInputError(f"torch_dtype {dtype!r} is not a torch dtype (e.g. 'float16').")
    return resolved


def _scheduler(name: str, config: Any) -> Any:
    """A diffusers scheduler of class ``name`` built from ``config``."""
    import diffusers

    scheduler_class = getattr(diffusers, name, None)
    if not (
        isinstance(scheduler_class, type) and issubclass(scheduler_class, diffusers.SchedulerMixin)
    ):
        raise EngineInputError(f"{name!r} is not a diffusers scheduler class.")
    return cast(Any, scheduler_class).from_config(config)


def _fuse_lora(pipeline: Any, lora_path: Path, lora_scale: float) -> Path:
    """Load a LoRA (file or directory) into ``pipeline`` and fuse it; return the weights file."""
    if not lora_path.exists():
        raise EngineInputError(f"LoRA path {lora_path} does not exist.")
    if lora_path.is_dir():
        files = sorted(lora_path.glob("*.safetensors")) or sorted(lora_path.glob("*.bin"))
        preferred = [f for f in files if f.stem == "pytorch_lora_weights"]
        if len(preferred) != 1 and len(files) != 1:
            raise EngineInputError(
                f"LoRA directory {lora_path} must hold exactly one .safetensors (or .bin) file, or "
                f"a pytorch_lora_weights one; found {[f.name for f in files]}. Pass the file."
            )
        lora_file = preferred[0] if len(preferred) == 1 else files[0]
    else:
        lora_file = lora_path
    if not hasattr(pipeline, "load_lora_weights"):
        raise EngineInputError(f"{type(pipeline).__name__} does not support LoRA weights.")
    try:
        pipeline.load_lora_weights(str(lora_file.parent), weight_name=lora_file.name)
    except (OSError, ValueError, KeyError) as error:
        raise EngineInputError(f"cannot load LoRA weights from {lora_path}: {error}") from error
    if not any(pipeline.get_list_adapters().values()):
        # diffusers only warns when no key of the file matches a layer: refuse it here.
        raise EngineInputError(
            f"the LoRA at {lora_path} matches no layer of this {type(pipeline).__name__}: it was "
            "trained for another model."
        )
    pipeline.fuse_lora(lora_scale=lora_scale)
    return lora_file


def _pipeline_sha256(pipeline: Any) -> str:
    import torch

    digest = hashlib.sha256()
    for name, component in sorted(pipeline.components.items()):
        if isinstance(component, torch.nn.Module):
            digest.update(
                f"{name}|{type(component).__name__}|{state_dict_sha256(component)}|".encode()
            )
    return digest.hexdigest()
