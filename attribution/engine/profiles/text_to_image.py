"""``text_to_image``: any local diffusers text-to-image pipeline (Stable Diffusion, SDXL, FLUX),
optionally with a LoRA fused in, conditioned on the contributors' captions as prompts.

Metrics come from the model version's local featurizers (``profiles.featurized``): the aesthetic
score, CLIP zero-shot diversity, prompt fidelity, the Fréchet distance to a reference set, the
Inception Score and the zero-shot artefact rate, each offered when what it needs is configured.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from attribution.engine.errors import EngineInputError
from attribution.engine.generation import GenerationBackend
from attribution.engine.profiles.base import ModelSpec
from attribution.engine.profiles.featurized import (
    FEATURIZED_METRICS,
    FeaturizedModel,
    check_featurizers,
    offered_metrics,
)

SUPPORTED_PIPELINES = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "FluxPipeline",
)
"""Pipeline classes (``model_index.json``'s ``_class_name``) this profile samples."""

DTYPES = ("", "float32", "float16", "bfloat16")


def pipeline_class(path: str | Path) -> str:
    """The ``_class_name`` of a pipeline directory's ``model_index.json``.

    Raises:
        EngineInputError: The directory or its index is missing or unreadable.
    """
    index = Path(path) / "model_index.json"
    if not Path(path).is_dir():
        raise EngineInputError(f"pipeline directory {path} does not exist.")
    if not index.is_file():
        raise EngineInputError(
            f"{path} is not a diffusers pipeline directory (no model_index.json); save one with "
            "pipeline.save_pretrained(path)."
        )
    try:
        return str(json.loads(index.read_text()).get("_class_name", ""))
    except (OSError, ValueError) as error:
        raise EngineInputError(f"cannot read {index}: {error}") from error


def load_text_to_image_backend(model: ModelSpec) -> GenerationBackend[Any]:
    """The model version's pipeline on its device, with its LoRA and sampling settings."""
    from attribution.engine.generation import TextToImageBackend

    return TextToImageBackend.from_pretrained(
        model.path,
        lora_path=model.lora_path or None,
        lora_scale=model.lora_scale,
        device=model.device,
        torch_dtype=model.dtype or None,
        guidance_scale=model.guidance_scale,
        n_steps=model.n_steps,
        height=model.resolution,
        width=model.resolution,
        scheduler=model.scheduler or None,
    )


class TextToImageProfile:
    """``text_to_image``: a local diffusers pipeline; records' captions are the prompts."""

    kind = "text_to_image"

    def available_metrics(self, model: ModelSpec | None = None) -> tuple[str, ...]:
        if model is None:
            return FEATURIZED_METRICS
        return offered_metrics(model, prompts=True)

    def check(self, model: ModelSpec) -> list[str]:
        problems = []
        try:
            name = pipeline_class(model.path)
            if name not in SUPPORTED_PIPELINES:
                problems.append(
                    f"{model.path} holds a {name or 'nameless'} pipeline; supported: "
                    f"{', '.join(SUPPORTED_PIPELINES)}."
                )
        except EngineInputError as error:
            problems.append(str(error))
        if model.conditions != "prompt":
            problems.append("a text-to-image model is conditioned on captions: use prompts.")
        if model.dtype not in DTYPES:
            problems.append(f"dtype {model.dtype!r} is not one of {', '.join(DTYPES[1:])}.")
        if model.lora_path and not Path(model.lora_path).exists():
            problems.append(f"LoRA path {model.lora_path} does not exist.")
        if model.n_steps < 1 or model.guidance_scale < 0:
            problems.append("steps must be at least 1 and the guidance scale at least 0.")
        if model.resolution is not None and (model.resolution < 8 or model.resolution % 8):
            problems.append(f"resolution {model.resolution} must be a multiple of 8 (≥ 8).")
        problems += check_featurizers(model)
        if not problems and model.lora_path:  # the LoRA must fit: load it onto the pipeline
            try:
                load_text_to_image_backend(dataclasses.replace(model, device="cpu"))
            except EngineInputError as error:
                problems.append(str(error))
        if not (model.clip_path or model.inception_path):
            problems.append("give a featurizer: a CLIP directory and/or an Inception file.")
        return problems

    def load(self, model: ModelSpec) -> FeaturizedModel:
        return FeaturizedModel(model, lambda: load_text_to_image_backend(model), prompts=True)
