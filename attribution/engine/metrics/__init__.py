"""Coalition utilities of generated-sample pools, computed from per-bank sufficient statistics.

Each metric is a small class with a ``name``, a ``floor`` (its no-information value, or None) and
``__call__(statistics, weights) -> utilities``, vectorised over the rows of the mixture weights.
Every utility is oriented higher-is-better.
"""

from attribution.engine.metrics.aesthetic import AestheticScore
from attribution.engine.metrics.artefact import ArtefactFreeRate
from attribution.engine.metrics.diversity import ClassEntropy
from attribution.engine.metrics.frechet import NegativeFrechetDistance
from attribution.engine.metrics.inception_score import InceptionScore
from attribution.engine.metrics.mean_score import MeanScore
from attribution.engine.metrics.pooled import PooledMetric
from attribution.engine.metrics.prompt_fidelity import PromptFidelity
from attribution.engine.metrics.reference import (
    ReferenceStatistics,
    check_reference,
    load_reference_statistics,
    reference_from_image_directory,
    reference_from_image_files,
    reference_statistics,
    save_reference_statistics,
)
from attribution.engine.metrics.statistics import (
    BankStatistics,
    compute_bank_statistics,
    mixture_weights,
)
from attribution.engine.metrics.zero_shot_diversity import ZeroShotDiversity

__all__ = [
    "AestheticScore",
    "ArtefactFreeRate",
    "BankStatistics",
    "ClassEntropy",
    "InceptionScore",
    "MeanScore",
    "NegativeFrechetDistance",
    "PooledMetric",
    "PromptFidelity",
    "ReferenceStatistics",
    "ZeroShotDiversity",
    "check_reference",
    "compute_bank_statistics",
    "load_reference_statistics",
    "mixture_weights",
    "reference_from_image_directory",
    "reference_from_image_files",
    "reference_statistics",
    "save_reference_statistics",
]
