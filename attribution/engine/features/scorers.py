"""Per-sample scores from CLIP embeddings, for ``run_round(..., scorers={name: scorer})``.

A scorer is called as ``scorer(images, features, contributor_index)`` for each bank and returns
one score per sample: shape (K,) for a scalar, (K, C) for a vector (zero-shot probabilities). The
bank means become ``BankStatistics.score_means[name]`` and the metrics in
:mod:`attribution.engine.metrics` mix them over coalitions.

All the CLIP scorers of a round should share one :class:`ClipImageEmbeddings`, so each bank goes
through CLIP once whichever scorers read it. When the round's featurizer *is* that CLIP model, use
``ClipImageEmbeddings(clip, from_features=True)``: the embeddings then come from ``features``.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.features.aesthetic import AestheticHead
from attribution.engine.features.base import Features
from attribution.engine.features.clip import ClipFeaturizer, check_width

Images = NDArray[np.float32]


class ClipImageEmbeddings:
    """Each bank's unit CLIP image embeddings (K, d), computed once per bank and shared.

    Args:
        clip: The CLIP model.
        from_features: Take ``features.embeddings`` instead of running CLIP (when the round's
            featurizer is ``clip`` itself).

    The cache holds one (K, d) array per contributor index, tied to the bank array by a weak
    reference, so a new bank under the same index is embedded afresh.
    """

    def __init__(self, clip: ClipFeaturizer, from_features: bool = False) -> None:
        self.clip = clip
        self.from_features = from_features
        self._cache: dict[int, tuple[weakref.ref[Images], NDArray[np.float64]]] = {}

    def __call__(self, images: Images, features: Features, index: int) -> NDArray[np.float64]:
        """The bank's embeddings, shape (K, d)."""
        if self.from_features:
            embeddings = np.asarray(features.embeddings, dtype=np.float64)
            check_width(embeddings, self.clip.embedding_width, "the round's features")
            return embeddings
        cached = self._cache.get(index)
        if cached is not None and cached[0]() is images:
            return cached[1]
        embeddings = self.clip.embed_images(images)
        self._cache[index] = (weakref.ref(images), embeddings)
        return embeddings


class AestheticScorer:
    """The aesthetic head's score of each sample (score name ``"aesthetic"``).

    Raises:
        EngineInputError: On construction, when the head's input width is not the CLIP model's.
    """

    def __init__(self, head: AestheticHead, embeddings: ClipImageEmbeddings) -> None:
        clip = embeddings.clip
        head.check_width(clip.embedding_width, f"the CLIP model at {clip.path}")
        self.head = head
        self.embeddings = embeddings

    def __call__(self, images: Images, features: Features, index: int) -> NDArray[np.float64]:
        return self.head(self.embeddings(images, features, index))


class PromptFidelityScorer:
    """cos(CLIP image embedding, CLIP embedding of the sample's own prompt), per sample.

    Args:
        embeddings: The shared CLIP image embeddings.
        prompts: Per contributor index, the prompts its bank's samples were generated from, in
            sample order: ``sample_conditions(conditions, n_samples, contributor_seed(seed,
            key))`` from :mod:`attribution.engine.generation`, exactly as the backend drew them.
    """

    def __init__(self, embeddings: ClipImageEmbeddings, prompts: Sequence[Sequence[str]]) -> None:
        self.embeddings = embeddings
        self.prompts = [list(bank) for bank in prompts]

    def __call__(self, images: Images, features: Features, index: int) -> NDArray[np.float64]:
        if not 0 <= index < len(self.prompts):
            raise EngineInputError(
                f"no prompts for contributor index {index} ({len(self.prompts)} banks given)."
            )
        prompts = self.prompts[index]
        image_embeddings = self.embeddings(images, features, index)
        if len(prompts) != image_embeddings.shape[0]:
            raise EngineInputError(
                f"contributor {index} has {image_embeddings.shape[0]} samples but "
                f"{len(prompts)} prompts; pass the prompts the bank was generated from."
            )
        texts = self.embeddings.clip.embed_texts(prompts)
        similarity: NDArray[np.float64] = np.einsum("kd,kd->k", image_embeddings, texts)
        return similarity


class ZeroShotScorer:
    """CLIP zero-shot probabilities over class prompts, per sample: shape (K, C), a vector score.

    The bank means are each bank's mean class distribution; the ``clip_diversity`` metric takes
    the entropy of their mixture.
    """

    def __init__(self, embeddings: ClipImageEmbeddings, class_prompts: Sequence[str]) -> None:
        if isinstance(class_prompts, str) or len(class_prompts) < 2:
            raise EngineInputError("zero-shot diversity needs a list of at least 2 class prompts.")
        self.embeddings = embeddings
        self.class_prompts = list(class_prompts)

    def __call__(self, images: Images, features: Features, index: int) -> NDArray[np.float64]:
        return self.embeddings.clip.zero_shot_probabilities(
            self.embeddings(images, features, index), self.class_prompts
        )


class ArtefactScorer:
    """1 for a sample CLIP rates likelier an artefact than clean, else 0 (score ``"artefact"``).

    Zero-shot over ``clean_prompts + artefact_prompts`` jointly ("a photo of a product", "a photo
    with a watermark", ...): a sample is flagged when its largest artefact probability exceeds its
    largest clean one. Its bank mean is the bank's artefact rate, which ``ArtefactFreeRate`` turns
    into the higher-is-better ``artefact_free`` utility.
    """

    def __init__(
        self,
        embeddings: ClipImageEmbeddings,
        artefact_prompts: Sequence[str],
        clean_prompts: Sequence[str],
    ) -> None:
        for name, prompts in (("artefact_prompts", artefact_prompts), ("clean", clean_prompts)):
            if isinstance(prompts, str) or len(prompts) < 1:
                raise EngineInputError(f"{name} must be a non-empty list of prompts.")
        overlap = set(artefact_prompts) & set(clean_prompts)
        if overlap:
            raise EngineInputError(f"prompts cannot be both artefact and clean: {sorted(overlap)}.")
        self.embeddings = embeddings
        self.artefact_prompts = list(artefact_prompts)
        self.clean_prompts = list(clean_prompts)

    def __call__(self, images: Images, features: Features, index: int) -> NDArray[np.float64]:
        probabilities = self.embeddings.clip.zero_shot_probabilities(
            self.embeddings(images, features, index), self.clean_prompts + self.artefact_prompts
        )
        clean = probabilities[:, : len(self.clean_prompts)].max(axis=1)
        artefact = probabilities[:, len(self.clean_prompts) :].max(axis=1)
        flags: NDArray[np.float64] = (artefact > clean).astype(np.float64)
        return flags
