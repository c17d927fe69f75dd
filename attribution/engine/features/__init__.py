"""Feature extractors: images → class probabilities, embeddings and per-sample scores.

Computed once per sample bank. A *featurizer* is any callable mapping images of shape
(K, channels, H, W), float in [0, 1], to ``Features``. The embedded default is the small digits
classifier (``attribution.engine.demos.digits.classifier``); real deployments load Inception-v3
(a TorchScript file, as used by the standard FID implementations) or a CLIP model from a local
path, and score heads on CLIP embeddings (an aesthetic predictor). Nothing here downloads weights.

Modules:

* ``base``: :class:`Features`, the :class:`Featurizer` protocol, :func:`require_path`.
* ``inception``: :class:`InceptionFeaturizer` (TorchScript, 2048-d pool features, probabilities).
* ``clip``: :class:`ClipFeaturizer` (image and text embeddings, zero-shot probabilities).
* ``aesthetic``: :class:`AestheticHead`, a linear or small MLP head read from a safetensors file.
* ``scorers``: per-sample scores for ``run_round``'s ``scorers`` (aesthetic, prompt fidelity,
  zero-shot class probabilities, zero-shot artefact flags) from CLIP embeddings.
"""

from attribution.engine.features.aesthetic import AestheticHead
from attribution.engine.features.base import Features, Featurizer, require_path
from attribution.engine.features.clip import ClipFeaturizer
from attribution.engine.features.inception import InceptionFeaturizer
from attribution.engine.features.scorers import (
    AestheticScorer,
    ArtefactScorer,
    ClipImageEmbeddings,
    PromptFidelityScorer,
    ZeroShotScorer,
)

__all__ = [
    "AestheticHead",
    "AestheticScorer",
    "ArtefactScorer",
    "ClipFeaturizer",
    "ClipImageEmbeddings",
    "Features",
    "Featurizer",
    "InceptionFeaturizer",
    "PromptFidelityScorer",
    "ZeroShotScorer",
    "require_path",
]
