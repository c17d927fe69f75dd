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
        kind: The profile that loads it (``builtin_digits``, ...).
        path: Local model directory ("" for a profile's shipped default).
        lora_path: Optional LoRA file.
        checksum: The checksum recorded at registration ("" if none).
        conditions: How records become conditions (``contributor``, ``label``, ``prompt``).
        device: Where to compute (``cpu``, ``cuda``); not part of what is computed.
    """

    kind: str
    path: str = ""
    lora_path: str = ""
    checksum: str = ""
    conditions: str = "contributor"
    device: str = "cpu"


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

    def metric_setup(self, name: str, labels: Sequence[Sequence[int] | None]) -> MetricSetup:
        """The metric called ``name`` for contributors whose records claim ``labels`` (None for
        a contributor without numeric labels).

        Raises:
            EngineInputError: The model does not offer ``name``, or the round lacks what it needs.
        """
        ...


class ModelProfile(Protocol):
    """A kind of model: which metrics it offers and how to load it."""

    kind: str

    def available_metrics(self) -> tuple[str, ...]:
        """Names (from the metric catalog) of the metrics this kind of model offers."""
        ...

    def load(self, model: ModelSpec) -> LoadedModel:
        """Load the model (lazily where loading is expensive).

        Raises:
            EngineInputError: The model's files are missing or do not match its checksum.
        """
        ...
