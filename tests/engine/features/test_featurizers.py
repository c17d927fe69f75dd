"""Featurizers over local weights: a tiny TorchScript "Inception" and a tiny random CLIP model.

Nothing is downloaded: the TorchScript module is scripted here and the CLIP model is built from a
config (seed 0) and saved with ``save_pretrained`` into a temporary directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from attribution.engine.errors import EngineInputError
from attribution.engine.features import ClipFeaturizer, InceptionFeaturizer, require_path
from tests.engine.features.tiny_models import (
    N_CLASSES,
    N_EMBEDDING,
    TinyInception,
    random_images,
    save_tiny_clip,
    save_tiny_inception,
)

PROMPTS = ("a red cat", "a blue dog", "a photo of a digit")
UNIT_TOLERANCE = 1e-6  # float32 model outputs normalised and summed in float64

# The FID tools ship Inception as TorchScript, which torch 2.13 deprecates; the format is the input.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning",
    "ignore:`torch.jit.load` is deprecated:DeprecationWarning",
)


# --- require_path --------------------------------------------------------------------------------


def test_require_path_returns_an_existing_path(tmp_path: Path) -> None:
    assert require_path(str(tmp_path), "the weights") == tmp_path


def test_a_missing_path_names_the_path_and_says_nothing_is_fetched(tmp_path: Path) -> None:
    missing = tmp_path / "inception-2015-12-05.pt"
    with pytest.raises(EngineInputError) as caught:
        require_path(missing, "the Inception TorchScript file")
    message = str(caught.value)
    assert str(missing) in message
    assert "the Inception TorchScript file" in message
    assert "nothing is fetched at run time" in message


# --- InceptionFeaturizer on a tiny TorchScript module --------------------------------------------


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_inception(tmp_path_factory.mktemp("inception") / "tiny-inception.pt")


def test_inception_gives_embeddings_and_probability_rows(inception_file: Path) -> None:
    features = InceptionFeaturizer(inception_file)(random_images(5))

    assert features.embeddings.shape == (5, N_EMBEDDING)
    assert features.probabilities is not None
    assert features.probabilities.shape == (5, N_CLASSES)
    assert (features.probabilities >= 0).all()
    np.testing.assert_allclose(features.probabilities.sum(axis=1), 1.0, atol=UNIT_TOLERANCE)


def test_inception_sees_pixels_as_uint8_from_0_to_255(inception_file: Path) -> None:
    images = np.full((2, 3, 4, 4), 0.5, dtype=np.float32)
    images[1] = 1.0

    embeddings = InceptionFeaturizer(inception_file)(images).embeddings

    # 0.5 rounds to 128 of 255; 1.0 is 255 (channel means are the first three features).
    np.testing.assert_allclose(embeddings[0, :3], 128 / 255, atol=1e-6)
    np.testing.assert_allclose(embeddings[1, :3], 1.0, atol=1e-6)


def test_inception_expands_grey_images_to_rgb(inception_file: Path) -> None:
    grey = random_images(3, channels=1)
    featurizer = InceptionFeaturizer(inception_file)

    from_grey = featurizer(grey)
    from_rgb = featurizer(np.repeat(grey, 3, axis=1))

    np.testing.assert_array_equal(from_grey.embeddings, from_rgb.embeddings)
    assert from_grey.probabilities is not None
    assert from_rgb.probabilities is not None
    np.testing.assert_array_equal(from_grey.probabilities, from_rgb.probabilities)
    np.testing.assert_allclose(from_grey.embeddings[:, 0], from_grey.embeddings[:, 2], atol=1e-7)


def test_inception_features_do_not_depend_on_the_batch_size(inception_file: Path) -> None:
    images = random_images(5)

    whole = InceptionFeaturizer(inception_file, batch_size=64)(images)
    pieces = InceptionFeaturizer(inception_file, batch_size=2)(images)

    np.testing.assert_allclose(whole.embeddings, pieces.embeddings, atol=1e-6)
    assert whole.probabilities is not None
    assert pieces.probabilities is not None
    np.testing.assert_allclose(whole.probabilities, pieces.probabilities, atol=1e-6)


def test_inception_logits_are_turned_into_probabilities(tmp_path: Path) -> None:
    path = save_tiny_inception(tmp_path / "logits.pt", logits=True)

    probabilities = InceptionFeaturizer(path)(random_images(4)).probabilities

    assert probabilities is not None
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)


def test_inception_refuses_images_that_are_not_grey_or_rgb(inception_file: Path) -> None:
    featurizer = InceptionFeaturizer(inception_file)
    with pytest.raises(EngineInputError, match="shape"):
        featurizer(random_images(2, channels=2))
    with pytest.raises(EngineInputError, match="shape"):
        featurizer(random_images(2)[:, 0])


def test_a_file_that_is_not_torchscript_is_refused(tmp_path: Path) -> None:
    not_scripted = tmp_path / "weights.pt"
    torch.save(TinyInception().state_dict(), not_scripted)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model at all")

    for path in (not_scripted, garbage):
        with pytest.raises(EngineInputError, match="not a TorchScript"):
            InceptionFeaturizer(path)(random_images(1))


def test_a_missing_inception_file_is_refused_when_configured(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="nothing is fetched"):
        InceptionFeaturizer(tmp_path / "absent.pt")


def test_inception_description_is_json_and_identifies_the_file(
    inception_file: Path, tmp_path: Path
) -> None:
    description = InceptionFeaturizer(inception_file).describe()
    other = InceptionFeaturizer(save_tiny_inception(tmp_path / "other.pt", logits=True)).describe()

    assert json.loads(json.dumps(description)) == description
    assert description == InceptionFeaturizer(inception_file).describe()
    assert description != other


# --- ClipFeaturizer on a tiny random CLIP model --------------------------------------------------


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "model")


def test_clip_gives_unit_embeddings_and_prompt_probabilities(clip_dir: Path) -> None:
    features = ClipFeaturizer(clip_dir, class_prompts=PROMPTS)(random_images(5))

    assert features.embeddings.shape == (5, N_EMBEDDING)
    np.testing.assert_allclose(
        np.linalg.norm(features.embeddings, axis=1), 1.0, atol=UNIT_TOLERANCE
    )
    assert features.probabilities is not None
    assert features.probabilities.shape == (5, len(PROMPTS))
    assert (features.probabilities >= 0).all()
    np.testing.assert_allclose(features.probabilities.sum(axis=1), 1.0, atol=UNIT_TOLERANCE)


def test_clip_without_prompts_gives_embeddings_only_also_for_grey_images(clip_dir: Path) -> None:
    features = ClipFeaturizer(clip_dir)(random_images(3, channels=1))

    assert features.probabilities is None
    assert features.embeddings.shape == (3, N_EMBEDDING)
    np.testing.assert_allclose(
        np.linalg.norm(features.embeddings, axis=1), 1.0, atol=UNIT_TOLERANCE
    )


def test_clip_description_is_json_and_includes_the_prompts(clip_dir: Path) -> None:
    description = ClipFeaturizer(clip_dir, class_prompts=PROMPTS).describe()

    assert json.loads(json.dumps(description)) == description
    assert description["class_prompts"] == list(PROMPTS)
    assert description != ClipFeaturizer(clip_dir).describe()


def test_a_missing_clip_directory_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "clip-vit-base"
    with pytest.raises(EngineInputError, match="nothing is fetched") as caught:
        ClipFeaturizer(missing)
    assert str(missing) in str(caught.value)


def test_a_directory_without_a_clip_model_is_refused_when_used(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="not a CLIP model directory"):
        ClipFeaturizer(tmp_path)(random_images(1))


def test_describing_a_directory_without_a_clip_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError):
        ClipFeaturizer(tmp_path).describe()
