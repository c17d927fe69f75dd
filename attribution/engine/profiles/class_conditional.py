"""``class_conditional``: a local class-conditional ``UNet2DModel`` directory (``unet/`` and
``scheduler/``, as ``ClassConditionalBackend.save_pretrained`` writes), conditioned on the records'
class labels or on one class per contributor (the SurrogateSHAP paper's CIFAR-20 setting).

Metrics come from the model version's local featurizers (``profiles.featurized``), as for
text-to-image models, except prompt fidelity: class labels are not prompts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attribution.engine.generation import GenerationBackend
from attribution.engine.profiles.base import ModelSpec
from attribution.engine.profiles.featurized import (
    FeaturizedModel,
    check_featurizers,
    offered_metrics,
)


def load_class_conditional_backend(model: ModelSpec) -> GenerationBackend[Any]:
    """The model version's UNet and scheduler on its device, with its sampling settings."""
    from attribution.engine.generation import ClassConditionalBackend

    guidance = model.guidance_scale if model.null_label is not None else 1.0
    return ClassConditionalBackend.from_pretrained(
        model.path,
        model.device,
        n_steps=model.n_steps,
        null_label=model.null_label,
        guidance_scale=guidance,
    )


class ClassConditionalProfile:
    """``class_conditional``: class labels (records' or one per contributor) are the conditions."""

    kind = "class_conditional"

    def available_metrics(self, model: ModelSpec | None = None) -> tuple[str, ...]:
        metrics = offered_metrics(model or _everything(), prompts=False)
        return tuple(name for name in metrics if name != "prompt_fidelity")

    def check(self, model: ModelSpec) -> list[str]:
        problems = []
        root = Path(model.path)
        if not root.is_dir():
            problems.append(f"model directory {root} does not exist.")
        else:
            for part in ("unet", "scheduler"):
                if not (root / part).is_dir():
                    problems.append(f"model directory {root} has no {part}/ folder.")
        if model.conditions not in ("label", "contributor"):
            problems.append("a class-conditional model is conditioned on class labels.")
        if model.n_steps < 1:
            problems.append("steps must be at least 1.")
        problems += check_featurizers(model)
        if not (model.clip_path or model.inception_path):
            problems.append("give a featurizer: a CLIP directory and/or an Inception file.")
        return problems

    def load(self, model: ModelSpec) -> FeaturizedModel:
        return FeaturizedModel(model, lambda: load_class_conditional_backend(model), prompts=False)


def _everything() -> ModelSpec:
    """A model with every featurizer, for the metrics this kind can offer at all."""
    return ModelSpec(
        "class_conditional",
        clip_path="clip",
        inception_path="inception",
        aesthetic_head_path="head",
        reference_dir="reference",
        class_prompts=("a", "b"),
        artefact_prompts=("a",),
        clean_prompts=("b",),
    )
