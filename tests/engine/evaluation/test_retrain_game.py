"""The retraining game: one tiny model per coalition, measured like the proxy game, cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from attribution.engine.demos.digits.classifier import DigitsClassifier
from attribution.engine.demos.digits.data import load_digit_images
from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS
from attribution.engine.diffusion_training import TrainRecipe, train_class_conditional
from attribution.engine.errors import EngineInputError
from attribution.engine.evaluation import retrain_game
from attribution.engine.evaluation.model_utility import (
    Measurement,
    SamplingSettings,
    TrainingContributor,
)
from attribution.engine.evaluation.retrain_game import RetrainGame
from attribution.engine.features import Features
from attribution.engine.metrics import InceptionScore, MeanScore
from attribution.engine.store import ArtefactStore

RECIPE = TrainRecipe(steps=3, batch_size=8, widths=(8, 16), n_train_steps=100, seed=0)
SAMPLING = SamplingSettings(n_samples=4, n_steps=2, seed=0)
ALL_ROWS = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]],
    dtype=bool,
)

pytestmark = pytest.mark.skipif(
    not (SHIPPED_WEIGHTS / "classifier.safetensors").exists(),
    reason="the shipped digits classifier (the featurizer here) is missing",
)


@pytest.fixture(scope="module")
def contributors() -> list[TrainingContributor]:
    """Three contributors: 12 zeros, 12 ones and 6 sevens (16x16)."""
    images, digits = load_digit_images()
    return [
        TrainingContributor(f"c{digit}", images[np.flatnonzero(digits == digit)[:count]])
        for digit, count in ((0, 12), (1, 12), (7, 6))
    ]


@pytest.fixture(scope="module")
def classifier() -> DigitsClassifier:
    return DigitsClassifier.load(SHIPPED_WEIGHTS / "classifier.safetensors")


@pytest.fixture(scope="module")
def measurement(classifier: DigitsClassifier) -> Measurement:
    return Measurement(classifier, InceptionScore())


@pytest.fixture(scope="module")
def utilities(
    contributors: list[TrainingContributor], measurement: Measurement
) -> NDArray[np.float64]:
    """Every coalition of the 3-player game, evaluated once for the module."""
    return RetrainGame(contributors, measurement, RECIPE, sampling=SAMPLING)(ALL_ROWS)


def count_training(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of the game's trainer (each call is one coalition's training run)."""
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return train_class_conditional(*args, **kwargs)

    monkeypatch.setattr(retrain_game, "train_class_conditional", counted)
    return calls


def test_every_coalition_gets_a_finite_utility_and_the_empty_one_the_floor(
    utilities: NDArray[np.float64],
) -> None:
    assert utilities.shape == (8,)
    assert np.isfinite(utilities).all()
    assert utilities[0] == InceptionScore.floor == 1.0
    assert (utilities[1:] >= 1.0 - 1e-9).all()  # an Inception Score is at least 1


def test_different_coalitions_get_different_utilities(utilities: NDArray[np.float64]) -> None:
    assert len(np.unique(utilities[1:])) == 7


def test_utilities_are_deterministic(
    contributors: list[TrainingContributor],
    measurement: Measurement,
    utilities: NDArray[np.float64],
) -> None:
    again = RetrainGame(contributors, measurement, RECIPE, sampling=SAMPLING)(ALL_ROWS[[5, 1]])

    np.testing.assert_array_equal(again, utilities[[5, 1]])


def test_a_numeric_empty_value_is_used_for_the_empty_coalition(
    contributors: list[TrainingContributor], measurement: Measurement
) -> None:
    game = RetrainGame(contributors, measurement, RECIPE, sampling=SAMPLING, empty_value=0.25)

    np.testing.assert_array_equal(game(np.zeros((2, 3), dtype=bool)), [0.25, 0.25])


@pytest.mark.parametrize("empty_value", ["worst_singleton", "nothing", float("nan")])
def test_empty_values_that_need_singletons_or_are_not_numbers_are_refused(
    contributors: list[TrainingContributor], measurement: Measurement, empty_value: Any
) -> None:
    with pytest.raises(EngineInputError, match="empty_value"):
        RetrainGame(contributors, measurement, RECIPE, empty_value=empty_value)


def test_a_floor_is_refused_for_a_metric_without_one(
    contributors: list[TrainingContributor], classifier: DigitsClassifier
) -> None:
    with pytest.raises(EngineInputError, match="no floor"):
        RetrainGame(contributors, Measurement(classifier, MeanScore("index")), RECIPE)


def test_a_second_call_on_the_same_store_does_not_retrain(
    contributors: list[TrainingContributor],
    measurement: Measurement,
    utilities: NDArray[np.float64],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = count_training(monkeypatch)
    store = ArtefactStore(tmp_path)
    masks = ALL_ROWS[[0, 1, 6]]

    first = RetrainGame(contributors, measurement, RECIPE, sampling=SAMPLING, store=store)(masks)
    trained = len(calls)
    again = RetrainGame(contributors, measurement, RECIPE, sampling=SAMPLING, store=store)(masks)

    assert trained == 2  # the empty coalition trains nothing
    assert len(calls) == 2
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, utilities[[0, 1, 6]])
    assert len(list((tmp_path / "coalition_utility").rglob("*.npz"))) == 2
    stored = next((tmp_path / "coalition_statistics").rglob("*.npz"))
    with np.load(stored) as arrays:
        assert len(str(arrays["unet_sha256"])) == 64


def test_another_metric_reuses_the_stored_training_runs(
    contributors: list[TrainingContributor],
    classifier: DigitsClassifier,
    measurement: Measurement,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = count_training(monkeypatch)
    store = ArtefactStore(tmp_path)
    RetrainGame(contributors, measurement, RECIPE, sampling=SAMPLING, store=store)(ALL_ROWS[[1]])

    class RenamedScore(InceptionScore):
        name = "renamed_inception_score"

    renamed = Measurement(classifier, RenamedScore())
    value = RetrainGame(contributors, renamed, RECIPE, sampling=SAMPLING, store=store)(
        ALL_ROWS[[1]]
    )

    assert len(calls) == 1
    assert np.isfinite(value).all()
    assert len(list((tmp_path / "coalition_utility").rglob("*.npz"))) == 2


def test_scorers_see_the_contributors_index_in_the_game_and_pools_mix_by_data_size(
    contributors: list[TrainingContributor], classifier: DigitsClassifier
) -> None:
    def index(images: NDArray[np.float32], features: Features, i: int) -> NDArray[np.float64]:
        return np.full(len(images), float(i))

    measurement = Measurement(classifier, MeanScore("index"), {"index": index})
    game = RetrainGame(contributors, measurement, RECIPE, sampling=SAMPLING, empty_value=0.0)

    # players 1 and 2 hold 12 and 6 images: the pool's mean index is (1·12 + 2·6) / 18
    np.testing.assert_allclose(game(ALL_ROWS[[6]]), [24 / 18], rtol=1e-12)


def test_progress_reports_one_step_per_row(
    contributors: list[TrainingContributor], measurement: Measurement
) -> None:
    events: list[tuple[str, int, int]] = []
    game = RetrainGame(
        contributors,
        measurement,
        RECIPE,
        sampling=SAMPLING,
        empty_value=1.0,
        progress=lambda *event: events.append(event),
    )

    game(np.zeros((2, 3), dtype=bool))

    assert events == [("retrain", 0, 2), ("retrain", 1, 2), ("retrain", 2, 2)]


def test_duplicate_keys_and_mismatched_image_shapes_are_refused(
    contributors: list[TrainingContributor], measurement: Measurement
) -> None:
    twin = TrainingContributor("c0", contributors[1].images)
    small = TrainingContributor("small", contributors[1].images[:, :, :8, :8])

    with pytest.raises(EngineInputError, match="unique"):
        RetrainGame([contributors[0], twin], measurement, RECIPE)
    with pytest.raises(EngineInputError, match="one shape"):
        RetrainGame([contributors[0], small], measurement, RECIPE)
