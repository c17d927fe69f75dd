"""The built-in digits model: a class-conditional DDPM and a small classifier, shipped with the
project (``attribution.engine.demos.digits``), valued against the real scikit-learn digits.

Metrics it offers (see the metric catalog): the Inception Score and the Fréchet distance from the
classifier's predictions and embeddings, class diversity, the fidelity of samples to the digits a
contributor's labels claim, and the rate of the spurious corner marker (an audit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.features import Features, Featurizer
from attribution.engine.games.proxy import EmptyValue, Metric
from attribution.engine.generation import GenerationBackend
from attribution.engine.metrics import (
    ArtefactFreeRate,
    ClassEntropy,
    InceptionScore,
    MeanScore,
    NegativeFrechetDistance,
    reference_statistics,
)
from attribution.engine.metrics.catalog import get_metric
from attribution.engine.profiles.base import MetricSetup, ModelSpec, RoundSpec
from attribution.engine.run import Scorer

DIGITS_METRICS = ("inception_score", "neg_fid", "class_entropy", "label_fidelity", "marker_free")


def digits_metric(name: str, reference: Features) -> Metric:
    """The metric called ``name`` on the digits classifier's features.

    Args:
        name: One of ``DIGITS_METRICS``.
        reference: The classifier's features of the real digits (for the Fréchet distance).
    """
    if name == "inception_score":
        return InceptionScore()
    if name == "neg_fid":
        mean, covariance = reference_statistics(reference.embeddings)
        return NegativeFrechetDistance(mean, covariance)
    if name == "class_entropy":
        return ClassEntropy()
    if name == "label_fidelity":
        return MeanScore("label_fidelity")
    if name == "marker_free":
        return ArtefactFreeRate("marker")
    raise EngineInputError(
        f"the built-in digits model does not offer {name!r}; it offers {', '.join(DIGITS_METRICS)}."
    )


def digits_scorers(claimed_labels: Sequence[Sequence[int]]) -> dict[str, Scorer]:
    """Per-sample scores: the marker detector and the probability of the claimed digit.

    Args:
        claimed_labels: Per contributor, the digit labels their records claim.
    """
    from attribution.engine.demos.digits.data import marker_present

    counts = [
        np.bincount(np.asarray(labels, dtype=np.int64), minlength=10) for labels in claimed_labels
    ]
    claimed = [c / c.sum() for c in counts if c.sum() > 0]

    def fidelity(
        images: NDArray[np.float32], features: Features, index: int
    ) -> NDArray[np.float64]:
        assert features.probabilities is not None
        return np.asarray(features.probabilities @ claimed[index], dtype=np.float64)

    def marker(images: NDArray[np.float32], features: Features, index: int) -> NDArray[np.float64]:
        return marker_present(images)

    if len(claimed) < len(counts):  # someone claims no labels: fidelity is undefined
        return {"marker": marker}
    return {"label_fidelity": fidelity, "marker": marker}


@dataclass
class DigitsModel:
    """The digits model loaded from ``weights`` on ``device`` (models load on first use)."""

    weights: Path
    device: str

    @cached_property
    def _models(self) -> tuple[Any, Any]:
        from attribution.engine.demos.digits.training import load_digits_models

        backend, classifier, _ = load_digits_models(self.weights, self.device)
        return backend, classifier

    @property
    def backend(self) -> GenerationBackend[Any]:
        backend: GenerationBackend[Any] = self._models[0]
        return backend

    @property
    def featurizer(self) -> Featurizer:
        featurizer: Featurizer = self._models[1]
        return featurizer

    @cached_property
    def reference(self) -> Features:
        """The classifier's features of the real digits."""
        from attribution.engine.demos.digits.data import load_digit_images

        images, _ = load_digit_images()
        return self.featurizer(images)

    def metric_setup(self, name: str, round: RoundSpec) -> MetricSetup:
        metric = digits_metric(name, self.reference)
        spec = get_metric(name)
        labels = [contributor.labels for contributor in round.contributors]
        if spec.needs_labels and any(not claimed for claimed in labels):
            raise EngineInputError(
                f"{spec.label} needs every contributor's records to carry digit labels."
            )
        scorers = digits_scorers([list(claimed or []) for claimed in labels])
        empty: EmptyValue = spec.default_empty
        return MetricSetup(metric, empty, scorers)


class DigitsProfile:
    """``builtin_digits``: the shipped weights, or a directory trained by ``train-digits``."""

    kind = "builtin_digits"

    def available_metrics(self, model: ModelSpec | None = None) -> tuple[str, ...]:
        return DIGITS_METRICS

    def check(self, model: ModelSpec) -> list[str]:
        if not model.path:
            return []
        recipe = Path(model.path) / "recipe.json"
        if not recipe.is_file():
            return [f"{model.path} holds no trained digits models (no recipe.json)."]
        return []

    def load(self, model: ModelSpec) -> DigitsModel:
        from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS

        return DigitsModel(Path(model.path) if model.path else SHIPPED_WEIGHTS, model.device)
