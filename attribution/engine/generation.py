"""Sample banks: images a diffusion model generates for one contributor's conditions.

This is the only engine module that imports diffusers. torch, diffusers and transformers load
inside the functions that need them, so importing this module stays cheap.

Two backends share one interface, ``generate(conditions, n_samples, seed, progress)`` returning
float32 images of shape ``(n_samples, channels, height, width)`` with values in [0, 1]:

* :class:`ClassConditionalBackend`: a class-conditional ``UNet2DModel`` plus a DDPM/DDIM scheduler
  (the embedded digits model); conditions are a contributor's class labels.
* :class:`TextToImageBackend`: any diffusers text-to-image pipeline (Stable Diffusion, FLUX, ...),
  optionally with a fused LoRA; conditions are a contributor's prompts.

Randomness is per sample: sample ``i`` of a bank draws its condition from ``default_rng(seed)`` and
all its noise from its own CPU ``torch.Generator`` seeded from ``(seed, i)``. So a bank does not
depend on the batch size or the device's random number generator, and its first ``k`` samples do
not depend on ``n_samples``. Seeds are derived per contributor (:func:`contributor_seed`), so adding
a contributor never changes anyone else's samples.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.progress import Progress, report

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline, UNet2DModel

Images = NDArray[np.float32]
"""Float32 images, shape ``(n_samples, channels, height, width)``, values in [0, 1]."""

ConditionT = TypeVar("ConditionT", contravariant=True)

GENERATION_VERSION = 1
"""Bumped whenever a change here changes the samples drawn (it is part of ``describe``)."""

_SEED_LIMIT = 2**63


class GenerationBackend(Protocol[ConditionT]):
    """Anything that turns one contributor's conditions into a bank of images."""

    def generate(
        self,
        conditions: Sequence[ConditionT],
        n_samples: int,
        seed: int,
        progress: Progress | None = None,
    ) -> Images:
        """Return ``n_samples`` images, shape ``(n_samples, C, H, W)``, values in [0, 1]."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return a JSON-able description of everything that determines the samples."""
        ...


def contributor_seed(round_seed: int, contributor_key: str) -> int:
    """Derive a contributor's generation seed from the round seed and the contributor's key.

    Args:
        round_seed: The valuation round's seed (any integer).
        contributor_key: A stable identifier of the contributor (e.g. a primary key as text).

    Returns:
        A seed in [0, 2**63): the first 8 bytes of sha256 over both, shifted right by one bit.
        Depends on nothing else, so adding a contributor never changes anyone else's samples.
    """
    if isinstance(round_seed, bool) or not isinstance(round_seed, int | np.integer):
        raise EngineInputError(f"round_seed must be an integer, got {type(round_seed).__name__}.")
    if not isinstance(contributor_key, str) or not contributor_key:
        raise EngineInputError("contributor_key must be a non-empty string.")
    digest = hashlib.sha256(f"{int(round_seed)}:{contributor_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def generate_bank(
    backend: GenerationBackend[ConditionT],
    conditions: Sequence[ConditionT],
    n_samples: int,
    round_seed: int,
    contributor_key: str,
    progress: Progress | None = None,
) -> Images:
    """Generate one contributor's sample bank with their own seed.

    Args:
        backend: The generation backend (class-conditional or text-to-image).
        conditions: The contributor's conditions (class labels or prompts), one per record.
        n_samples: Number of images to generate (>= 1).
        round_seed: The valuation round's seed.
        contributor_key: The contributor's stable key (see :func:`contributor_seed`).
        progress: Optional ``progress("generate", done, total)`` callback.

    Returns:
        Float32 images, shape ``(n_samples, C, H, W)``, values in [0, 1].
    """
    seed = contributor_seed(round_seed, contributor_key)
    return backend.generate(conditions, n_samples, seed, progress)


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
        self.n_steps = _check_positive_int(n_steps, "n_steps")
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.guidance_scale = _check_guidance_scale(guidance_scale)
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

        n_samples, seed = _check_counts(conditions, n_samples, seed)
        labels = np.asarray([self._check_label(c, "condition") for c in conditions], np.int64)
        chosen = labels[np.random.default_rng(seed).integers(len(labels), size=n_samples)]
        generators = _sample_generators(seed, n_samples)
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
            "unet_config": _public_config(self.unet.config),
            "unet_sha256": state_dict_sha256(self.unet),
            "scheduler_class": type(self.scheduler).__name__,
            "scheduler_config": _public_config(self.scheduler.config),
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
        self.guidance_scale = _check_guidance_scale(guidance_scale)
        self.n_steps = _check_positive_int(n_steps, "n_steps")
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.height = None if height is None else _check_positive_int(height, "height")
        self.width = None if width is None else _check_positive_int(width, "width")
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

        Raises:
            EngineInputError: When a path does not exist or is not a diffusers pipeline/LoRA.
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
        n_samples, seed = _check_counts(conditions, n_samples, seed)
        for prompt in conditions:
            if not isinstance(prompt, str):
                raise EngineInputError(f"conditions must be prompt strings, got {prompt!r}.")
        picks = np.random.default_rng(seed).integers(len(conditions), size=n_samples)
        prompts = [conditions[int(k)] for k in picks]
        generators = _sample_generators(seed, n_samples)
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
            "scheduler_config": _public_config(pipeline.scheduler.config),
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


def check_device(device: str) -> None:
    """Raise ``EngineInputError`` when ``device`` asks for CUDA and CUDA is not available."""
    if not isinstance(device, str) or not device:
        raise EngineInputError(f"device must be a torch device name such as 'cpu', got {device!r}.")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise EngineInputError(
                f"CUDA requested but not available (device={device!r}); use device='cpu'."
            )


def state_dict_sha256(module: torch.nn.Module) -> str:
    """Return sha256 (hex) over a module's state dict: names, dtypes, shapes, bytes; name order."""
    import torch

    digest = hashlib.sha256()
    state = module.state_dict()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def directory_fingerprint(path: Path) -> str:
    """Return sha256 (hex) over a model directory's JSON/text files and every file's name and size.

    Cheap on multi-gigabyte checkpoints: weight files contribute their relative path and size only.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path).as_posix()
        digest.update(f"{relative}|{file.stat().st_size}|".encode())
        if file.suffix in {".json", ".txt"}:
            digest.update(file.read_bytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Return the sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sample_generators(seed: int, n_samples: int) -> list[torch.Generator]:
    """One CPU generator per sample, seeded from ``(seed, i)``, independent of batching."""
    import torch

    states = np.random.SeedSequence(seed).generate_state(n_samples, np.uint64)
    return [torch.Generator("cpu").manual_seed(int(s) >> 1) for s in states]


def _check_counts(conditions: Sequence[object], n_samples: int, seed: int) -> tuple[int, int]:
    if isinstance(conditions, str) or not isinstance(conditions, Sequence):
        raise EngineInputError("conditions must be a list of the contributor's conditions.")
    if len(conditions) == 0:
        raise EngineInputError("conditions is empty: a contributor needs at least one record.")
    n_samples = _check_positive_int(n_samples, "n_samples")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise EngineInputError(f"seed must be an integer, got {type(seed).__name__}.")
    if not 0 <= int(seed) < _SEED_LIMIT:
        raise EngineInputError(f"seed must be in [0, 2**63), got {seed}.")
    return n_samples, int(seed)


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise EngineInputError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def _check_guidance_scale(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise EngineInputError(f"guidance_scale must be a number, got {value!r}.")
    if not math.isfinite(value) or value < 0:
        raise EngineInputError(f"guidance_scale must be finite and >= 0, got {value}.")
    return float(value)


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


def _public_config(config: Any) -> dict[str, Any]:
    """A diffusers config as plain JSON types, without private keys (``_diffusers_version``...)."""
    public = {key: value for key, value in dict(config).items() if not key.startswith("_")}
    loaded: dict[str, Any] = json.loads(json.dumps(public, sort_keys=True, default=str))
    return loaded


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
        pipeline.fuse_lora(lora_scale=lora_scale)
    except (OSError, ValueError, KeyError) as error:
        raise EngineInputError(f"cannot load LoRA weights from {lora_path}: {error}") from error
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
