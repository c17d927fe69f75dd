"""CLIP scorers on a tiny random CLIP: one embedding pass per bank, scores as defined."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from safetensors.numpy import save_file

from attribution.engine.errors import EngineInputError
from attribution.engine.features import (
    AestheticHead,
    AestheticScorer,
    ArtefactScorer,
    ClipFeaturizer,
    ClipImageEmbeddings,
    Features,
    PromptFidelityScorer,
    ZeroShotScorer,
)
from attribution.engine.generation import contributor_seed, sample_conditions
from attribution.engine.metrics import (
    AestheticScore,
    ArtefactFreeRate,
    PromptFidelity,
    ZeroShotDiversity,
    mixture_weights,
)
from attribution.engine.run import build_statistics
from tests.engine.features.tiny_models import N_EMBEDDING, random_images

CLASSES = ["a red cat", "a blue dog", "a green car"]
CLEAN = ["a clean photo"]
ARTEFACTS = ["a watermark", "a hospital tag"]
NO_FEATURES = Features(None, np.zeros((0, N_EMBEDDING)))


class CountingClip(ClipFeaturizer):
    """Counts how many banks go through the image tower."""

    calls = 0

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        return super().embed_images(images)


def _head(path: Path, width: int = N_EMBEDDING) -> AestheticHead:
    rng = np.random.default_rng(0)
    save_file(
        {"weight": rng.normal(size=(1, width)).astype(np.float32), "bias": np.ones(1, np.float32)},
        str(path),
    )
    return AestheticHead.load(path)


def test_every_scorer_shares_one_embedding_pass_per_bank(
    tiny_clip_dir: Path, tmp_path: Path
) -> None:
    clip = CountingClip(tiny_clip_dir)
    embeddings = ClipImageEmbeddings(clip)
    scorers = [
        AestheticScorer(_head(tmp_path / "head"), embeddings),
        ZeroShotScorer(embeddings, CLASSES),
        ArtefactScorer(embeddings, ARTEFACTS, CLEAN),
    ]
    banks = [random_images(3, seed=1), random_images(4, seed=2)]

    for scorer in scorers:
        for index, bank in enumerate(banks):
            scorer(bank, NO_FEATURES, index)
    assert clip.calls == 2

    embeddings(random_images(3, seed=3), NO_FEATURES, 0)  # a new bank under index 0
    assert clip.calls == 3


def test_embeddings_can_come_from_the_rounds_clip_features(tiny_clip_dir: Path) -> None:
    clip = CountingClip(tiny_clip_dir)
    rows = np.eye(N_EMBEDDING)[:3]

    taken = ClipImageEmbeddings(clip, from_features=True)(random_images(3), Features(None, rows), 0)

    np.testing.assert_array_equal(taken, rows)
    assert clip.calls == 0
    with pytest.raises(EngineInputError, match=r"round's features must have shape \(K, 8\)"):
        ClipImageEmbeddings(clip, from_features=True)(
            random_images(3), Features(None, np.zeros((3, 2048))), 0
        )


def test_aesthetic_scores_are_the_head_on_clip_embeddings(
    tiny_clip_dir: Path, tmp_path: Path
) -> None:
    clip = ClipFeaturizer(tiny_clip_dir)
    head = _head(tmp_path / "head")
    images = random_images(5)

    scores = AestheticScorer(head, ClipImageEmbeddings(clip))(images, NO_FEATURES, 0)

    np.testing.assert_allclose(scores, head(clip.embed_images(images)), rtol=1e-12)
    with pytest.raises(EngineInputError, match="takes 5-d embeddings but the CLIP model at"):
        AestheticScorer(_head(tmp_path / "wide", width=5), ClipImageEmbeddings(clip))


def test_prompt_fidelity_compares_each_image_with_its_own_prompt(tiny_clip_dir: Path) -> None:
    clip = ClipFeaturizer(tiny_clip_dir)
    conditions = ["a red cat", "a blue dog"]
    seed = contributor_seed(7, "alice")
    prompts = sample_conditions(conditions, 6, seed)
    images = random_images(6, seed=4)

    scores = PromptFidelityScorer(ClipImageEmbeddings(clip), [prompts])(images, NO_FEATURES, 0)

    image_rows, text_rows = clip.embed_images(images), clip.embed_texts(prompts)
    expected = [float(image_rows[k] @ text_rows[k]) for k in range(6)]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    assert len(set(prompts)) == 2  # both prompts drawn, so a mix-up would show
    assert not np.allclose(scores, (image_rows @ text_rows[[0]].T)[:, 0])
    with pytest.raises(EngineInputError, match="6 samples but 2 prompts"):
        PromptFidelityScorer(ClipImageEmbeddings(clip), [prompts[:2]])(images, NO_FEATURES, 0)
    with pytest.raises(EngineInputError, match="no prompts for contributor index 1"):
        PromptFidelityScorer(ClipImageEmbeddings(clip), [prompts])(images, NO_FEATURES, 1)


class RecordingPipeline:
    """Stands in for a diffusers pipeline: records the prompts, returns grey images."""

    components: dict[str, object] = {}

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def to(self, device: str) -> RecordingPipeline:
        return self

    def set_progress_bar_config(self, **options: object) -> None:
        pass

    def __call__(self, prompt: list[str], **options: object) -> SimpleNamespace:
        self.prompts.extend(prompt)
        return SimpleNamespace(images=np.full((len(prompt), 4, 4, 3), 0.5, dtype=np.float32))


def test_sample_conditions_are_the_prompts_the_text_to_image_backend_draws() -> None:
    from attribution.engine.generation import TextToImageBackend

    pipeline = RecordingPipeline()
    conditions = ["a red cat", "a blue dog", "a green car"]
    seed = contributor_seed(3, "bob")

    TextToImageBackend(pipeline, batch_size=2).generate(conditions, 7, seed)  # type: ignore[arg-type]

    assert pipeline.prompts == sample_conditions(conditions, 7, seed)
    assert len(set(pipeline.prompts)) > 1


def test_artefact_flags_follow_the_zero_shot_rule(tiny_clip_dir: Path) -> None:
    clip = ClipFeaturizer(tiny_clip_dir)
    images = random_images(12, seed=5)

    flags = ArtefactScorer(ClipImageEmbeddings(clip), ARTEFACTS, CLEAN)(images, NO_FEATURES, 0)

    probabilities = clip.zero_shot_probabilities(clip.embed_images(images), CLEAN + ARTEFACTS)
    np.testing.assert_array_equal(flags, probabilities[:, 1:].max(axis=1) > probabilities[:, 0])
    with pytest.raises(EngineInputError, match="both artefact and clean"):
        ArtefactScorer(ClipImageEmbeddings(clip), ARTEFACTS, ["a watermark"])
    with pytest.raises(EngineInputError, match="at least 2 class prompts"):
        ZeroShotScorer(ClipImageEmbeddings(clip), ["a cat"])


def test_scores_flow_through_the_rounds_statistics_into_the_metrics(
    tiny_clip_dir: Path, tmp_path: Path
) -> None:
    clip = ClipFeaturizer(tiny_clip_dir)
    embeddings = ClipImageEmbeddings(clip)
    banks = [random_images(k, seed=10 + k) for k in (3, 5, 4)]
    prompts = [sample_conditions(CLASSES, bank.shape[0], i) for i, bank in enumerate(banks)]
    scorers = {
        "aesthetic": AestheticScorer(_head(tmp_path / "head"), embeddings),
        "prompt_fidelity": PromptFidelityScorer(embeddings, prompts),
        "zero_shot": ZeroShotScorer(embeddings, CLASSES),
        "artefact": ArtefactScorer(embeddings, ARTEFACTS, CLEAN),
    }
    features = [Features(None, np.zeros((bank.shape[0], 2))) for bank in banks]
    statistics = build_statistics(banks, features, scorers)
    weights = mixture_weights(np.array([[True, False, True], [True, True, True]]), [2, 7, 1])

    # The pool, explicitly: every sample of bank i weighs π_i / K_i.
    sample_weights = [
        np.repeat(weights[:, [i]] / bank.shape[0], bank.shape[0], axis=1)
        for i, bank in enumerate(banks)
    ]
    pooled = np.concatenate(sample_weights, axis=1)  # (2, Σ K_i)
    samples = {
        name: np.concatenate([scorer(bank, NO_FEATURES, i) for i, bank in enumerate(banks)])
        for name, scorer in scorers.items()
    }
    mean_class = pooled @ samples["zero_shot"]
    np.testing.assert_allclose(
        AestheticScore()(statistics, weights), pooled @ samples["aesthetic"], rtol=1e-12
    )
    np.testing.assert_allclose(
        PromptFidelity()(statistics, weights), pooled @ samples["prompt_fidelity"], rtol=1e-12
    )
    np.testing.assert_allclose(
        ZeroShotDiversity()(statistics, weights),
        -(mean_class * np.log(mean_class)).sum(axis=1),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        ArtefactFreeRate()(statistics, weights), 1 - pooled @ samples["artefact"], rtol=1e-12
    )
