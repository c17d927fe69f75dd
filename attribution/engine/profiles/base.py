"""The model-profile protocol: what a round needs from a kind of model, behind two calls.

A profile turns a model version's frozen description (``ModelSpec``) into a ``LoadedModel``:
the generation backend, the featurizer, and for each metric it offers the metric object, the
per-sample scorers it reads and its v(∅). ``available_metrics()`` answers without loading
anything, so the web side can refuse a metric a model does not offer when a round is created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from attribution.engine.features import Featurizer
from attribution.engine.games.proxy import EmptyValue, Metric
from attribution.engine.generation import GenerationBackend
from attribution.engine.run import Scorer


@dataclass(frozen=True)
class ModelSpec:
    """A model version as frozen in a round's configuration.

    Attributes:
        kind: The profile that loads it (``builtin_digits``, ``text_to_image``, ...).
        path: Local model directory ("" for a profile's shipped default).
        lora_path: Optional LoRA file (or a directory holding one).
        checksum: The checksum recorded at registration ("" if none).
        conditions: How records become conditions (``contributor``, ``label``, ``prompt``).
        device: Where to compute (``cpu``, ``cuda``); not part of what is computed.
        lora_scale: The LoRA's strength when fused.
        dtype: Weight dtype of the generator ("" for the pipeline's own, "float16", ...).
        n_steps: Inference steps per sample.
        guidance_scale: Classifier-free guidance scale.
        resolution: Output height and width in pixels (None: the pipeline's default).
        scheduler: A diffusers scheduler class to sample with ("" for the pipeline's own).
        clip_path: Local transformers CLIP directory ("" for none).
        inception_path: Local TorchScript Inception-v3 file ("" for none).
        aesthetic_head_path: Local aesthetic head file on CLIP embeddings ("" for none).
        reference_dir: Directory of reference images for distribution metrics.
        reference_stats_path: Precomputed reference statistics (``.npz`` with mu, sigma).
        reference_images: Reference image files (an accepted data group's records).
        class_prompts: Prompts of the classes for zero-shot diversity.
        artefact_prompts: Prompts that flag an artefact (zero-shot artefact rate).
        clean_prompts: Prompts of the clean alternative to the artefact prompts.
        null_label: A class-conditional model's unconditional label (for guidance ≠ 1).
    """

    kind: str
    path: str = ""
    lora_path: str = ""
    checksum: str = ""
    conditions: str = "contributor"
    device: str = "cpu"
    lora_scale: float = 1.0
    dtype: str = ""
    n_steps: int = 25
    guidance_scale: float = 7.5
    resolution: int | None = None
    scheduler: str = ""
    clip_path: str = ""
    inception_path: str = ""
    aesthetic_head_path: str = ""
    reference_dir: str = ""
    reference_stats_path: str = ""
    reference_images: tuple[str, ...] = ()
    class_prompts: tuple[str, ...] = ()
    artefact_prompts: tuple[str, ...] = ()
    clean_prompts: tuple[str, ...] = ()
    null_label: int | None = None

    @property
    def has_reference(self) -> bool:
        """Whether a reference set for distribution metrics is configured."""
        return bool(self.reference_dir or self.reference_stats_path or self.reference_images)


@dataclass(frozen=True)
class ContributorSpec:
    """One contributor of a round as a profile needs them: key, conditions, claimed labels."""

    key: str
    conditions: Sequence[Any]
    labels: Sequence[int] | None = None


@dataclass(frozen=True)
class RoundSpec:
    """What a profile needs of a round to set a metric up (per-sample prompts need the seeds)."""

    contributors: Sequence[ContributorSpec]
    n_samples: int
    seed: int


@dataclass(frozen=True)
class MetricSetup:
    """Everything ``run_round`` needs for one metric of a loaded model."""

    metric: Metric
    empty_value: EmptyValue
    scorers: Mapping[str, Scorer]


class LoadedModel(Protocol):
    """A model ready to generate, featurize and measure."""

    @property
    def backend(self) -> GenerationBackend[Any]:
        """The generation backend (banks per contributor)."""
        ...

    @property
    def featurizer(self) -> Featurizer:
        """Images → features."""
        ...

    def metric_setup(self, name: str, round: RoundSpec) -> MetricSetup:
        """The metric called ``name`` for the round's contributors.

        Raises:
            EngineInputError: The model does not offer ``name``, or the round lacks what it needs.
        """
        ...


class ModelProfile(Protocol):
    """A kind of model: which metrics it offers and how to load it."""

    kind: str

    def available_metrics(self, model: ModelSpec | None = None) -> tuple[str, ...]:
        """Names (from the metric catalog) of the metrics this kind of model offers; given a
        model, those its configuration supports (e.g. the aesthetic score needs a head)."""
        ...

    def check(self, model: ModelSpec) -> list[str]:
        """Every problem that keeps ``model`` from running, found cheaply (files exist and are
        readable, widths agree, ...), one plain sentence each; empty if none. Never downloads.
        """
        ...

    def load(self, model: ModelSpec) -> LoadedModel:
        """Load the model (lazily where loading is expensive).

        Raises:
            EngineInputError: The model's files are missing or do not match its checksum.
        """
        ...
