"""Metrics of a local model version from its local featurizers: CLIP, Inception, an aesthetic
head and a reference set. Shared by the text-to-image and class-conditional profiles.

The round's featurizer is Inception when the model version names one (Fréchet distance and
Inception Score in Inception space), else CLIP (Fréchet distance in CLIP space). Every CLIP
scorer of a round shares one ``ClipImageEmbeddings``, so each bank goes through CLIP once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from attribution.engine.errors import EngineInputError
from attribution.engine.features import (
    AestheticHead,
    AestheticScorer,
    ArtefactScorer,
    ClipFeaturizer,
    ClipImageEmbeddings,
    Featurizer,
    InceptionFeaturizer,
    PromptFidelityScorer,
    ZeroShotScorer,
)
from attribution.engine.generation import GenerationBackend, contributor_seed, sample_conditions
from attribution.engine.metrics import (
    AestheticScore,
    ArtefactFreeRate,
    InceptionScore,
    NegativeFrechetDistance,
    PromptFidelity,
    ZeroShotDiversity,
    load_reference_statistics,
    reference_from_image_directory,
    reference_from_image_files,
)
from attribution.engine.metrics.catalog import get_metric
from attribution.engine.profiles.base import MetricSetup, ModelSpec, RoundSpec

FEATURIZED_METRICS = (
    "aesthetic",
    "clip_diversity",
    "prompt_fidelity",
    "neg_fid",
    "inception_score",
    "artefact_free",
)


def offered_metrics(model: ModelSpec, *, prompts: bool) -> tuple[str, ...]:
    """The metrics ``model``'s featurizers support (``prompts``: records carry captions)."""
    clip, inception = bool(model.clip_path), bool(model.inception_path)
    offered = {
        "aesthetic": clip and bool(model.aesthetic_head_path),
        "clip_diversity": clip and len(model.class_prompts) >= 2,
        "prompt_fidelity": clip and prompts,
        "neg_fid": (clip or inception) and model.has_reference,
        "inception_score": inception,
        "artefact_free": clip and bool(model.artefact_prompts) and bool(model.clean_prompts),
    }
    return tuple(name for name in FEATURIZED_METRICS if offered[name])


def check_featurizers(model: ModelSpec) -> list[str]:
    """Problems with the featurizers, head and reference of ``model`` (cheap: configs, headers)."""
    problems: list[str] = []
    width = None
    if model.clip_path:
        clip_dir = Path(model.clip_path)
        if not (clip_dir / "config.json").is_file():
            problems.append(f"CLIP directory {clip_dir} has no config.json (save_pretrained).")
        else:
            try:
                width = ClipFeaturizer(clip_dir).embedding_width
            except EngineInputError as error:
                problems.append(str(error))
    stats_width = width
    if model.inception_path:
        if not Path(model.inception_path).is_file():
            problems.append(f"Inception file {model.inception_path} does not exist.")
            stats_width = None
        else:
            try:
                stats_width = InceptionFeaturizer(model.inception_path).embedding_width
            except EngineInputError as error:
                problems.append(str(error))
                stats_width = None
    if model.aesthetic_head_path:
        if not model.clip_path:
            problems.append("an aesthetic head scores CLIP embeddings: give a CLIP directory.")
        try:
            head = AestheticHead.load(model.aesthetic_head_path)
            if width is not None:
                head.check_width(width, f"the CLIP model at {model.clip_path}")
        except EngineInputError as error:
            problems.append(str(error))
    if model.reference_stats_path:
        try:
            load_reference_statistics(model.reference_stats_path, dim=stats_width)
        except EngineInputError as error:
            problems.append(str(error))
    if model.reference_dir and not Path(model.reference_dir).is_dir():
        problems.append(f"reference image directory {model.reference_dir} does not exist.")
    missing = [path for path in model.reference_images if not Path(path).is_file()]
    if missing:
        problems.append(f"{len(missing)} reference image file(s) are missing, e.g. {missing[0]}.")
    if (model.artefact_prompts or model.clean_prompts) and not (
        model.artefact_prompts and model.clean_prompts
    ):
        problems.append("the artefact rate needs both artefact prompts and clean prompts.")
    if len(model.class_prompts) == 1:
        problems.append("zero-shot diversity needs at least 2 class prompts.")
    return problems


@dataclass
class FeaturizedModel:
    """A loaded local model: its backend (built by ``load_backend``) and its featurizers."""

    model: ModelSpec
    load_backend: Callable[[], GenerationBackend[Any]]
    prompts: bool

    @cached_property
    def backend(self) -> GenerationBackend[Any]:
        return self.load_backend()

    @cached_property
    def clip(self) -> ClipFeaturizer | None:
        if not self.model.clip_path:
            return None
        return ClipFeaturizer(self.model.clip_path, device=self.model.device)

    @cached_property
    def featurizer(self) -> Featurizer:
        if self.model.inception_path:
            return InceptionFeaturizer(self.model.inception_path, device=self.model.device)
        if self.clip is None:
            raise EngineInputError("this model version names no featurizer (CLIP or Inception).")
        return self.clip

    @cached_property
    def embeddings(self) -> ClipImageEmbeddings:
        clip = self._require_clip("CLIP metrics")
        return ClipImageEmbeddings(clip, from_features=self.featurizer is clip)

    def metric_setup(self, name: str, round: RoundSpec) -> MetricSetup:
        offered = offered_metrics(self.model, prompts=self.prompts)
        if name not in offered:
            raise EngineInputError(
                f"this model version does not offer {name!r}; it offers {', '.join(offered)}."
            )
        spec = get_metric(name)
        setup = self._setups()[name](round)
        return MetricSetup(setup[0], spec.default_empty, setup[1])

    def _setups(self) -> dict[str, Callable[[RoundSpec], tuple[Any, dict[str, Any]]]]:
        return {
            "aesthetic": self._aesthetic,
            "clip_diversity": lambda round: (
                ZeroShotDiversity("zero_shot"),
                {"zero_shot": ZeroShotScorer(self.embeddings, self.model.class_prompts)},
            ),
            "prompt_fidelity": self._prompt_fidelity,
            "neg_fid": lambda round: (NegativeFrechetDistance(self._reference()), {}),
            "inception_score": lambda round: (InceptionScore(), {}),
            "artefact_free": lambda round: (
                ArtefactFreeRate("artefact"),
                {
                    "artefact": ArtefactScorer(
                        self.embeddings, self.model.artefact_prompts, self.model.clean_prompts
                    )
                },
            ),
        }

    def _aesthetic(self, round: RoundSpec) -> tuple[Any, dict[str, Any]]:
        head = AestheticHead.load(self.model.aesthetic_head_path)
        head.check_width(self._require_clip("the aesthetic score").embedding_width)
        return AestheticScore("aesthetic"), {"aesthetic": AestheticScorer(head, self.embeddings)}

    def _prompt_fidelity(self, round: RoundSpec) -> tuple[Any, dict[str, Any]]:
        prompts = [
            [str(p) for p in sample_conditions(c.conditions, round.n_samples, _seed(round, c.key))]
            for c in round.contributors
        ]
        return PromptFidelity("prompt_fidelity"), {
            "prompt_fidelity": PromptFidelityScorer(self.embeddings, prompts)
        }

    def _reference(self) -> Any:
        model = self.model
        if model.reference_stats_path:
            width = getattr(self.featurizer, "embedding_width", None)
            return load_reference_statistics(model.reference_stats_path, dim=width)
        if model.reference_dir:
            return reference_from_image_directory(
                model.reference_dir, self.featurizer, size=model.resolution
            )
        return reference_from_image_files(
            model.reference_images, self.featurizer, size=model.resolution
        )

    def _require_clip(self, what: str) -> ClipFeaturizer:
        if self.clip is None:
            raise EngineInputError(f"{what} needs a CLIP directory on the model version.")
        return self.clip


def _seed(round: RoundSpec, key: str) -> int:
    return contributor_seed(round.seed, key)
