"""The digits demo: the empty-coalition choice, and the planted truth on the shipped model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from attribution.engine.demos.digits.data import load_digit_images
from attribution.engine.demos.digits.demo import (
    DigitsDemoReport,
    digits_metrics,
    format_report,
    run_digits_demo,
)
from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS, load_digits_models
from attribution.engine.metrics import compute_bank_statistics
from attribution.engine.store import ArtefactStore

pytestmark = pytest.mark.skipif(
    not (SHIPPED_WEIGHTS / "recipe.json").exists(), reason="the shipped digits weights are missing"
)


def _fid(features: np.ndarray, reference: np.ndarray) -> float:
    metric = digits_metrics_from(reference)
    statistics = compute_bank_statistics(features=[features])
    return float(-metric(statistics, np.ones((1, 1)))[0])


def digits_metrics_from(reference: np.ndarray):
    from attribution.engine.features import Features

    return digits_metrics(Features(None, reference))[0]["neg_fid"]


def test_pure_noise_scores_a_better_frechet_distance_than_any_single_digit_class() -> None:
    # Why v(∅) for the Fréchet distance is not "a model that outputs noise": noise would beat
    # every single contributor, making each one's marginal contribution from ∅ negative.
    _, classifier, _ = load_digits_models()
    images, labels = load_digit_images()
    reference = classifier(images).embeddings
    noise = np.random.default_rng(0).random((500, 1, 16, 16)).astype(np.float32)
    noise_fid = _fid(classifier(noise).embeddings, reference)
    class_fids = [_fid(reference[labels == digit], reference) for digit in range(10)]
    assert noise_fid < min(class_fids)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> DigitsDemoReport:
    torch.set_num_threads(1)
    store = ArtefactStore(tmp_path_factory.mktemp("cache"))
    return run_digits_demo(n_bootstrap=0, exact=False, store=store)


@pytest.mark.slow
def test_values_satisfy_efficiency_on_every_metric(report: DigitsDemoReport) -> None:
    for valuation in report.result.valuations.values():
        total = valuation.grand_value - valuation.baseline
        assert valuation.values.sum() == pytest.approx(total, rel=1e-9, abs=1e-12)


@pytest.mark.slow
def test_the_fid_empty_value_is_no_better_than_any_single_contributor(
    report: DigitsDemoReport,
) -> None:
    valuation = report.result.valuations["neg_fid"]
    game_baseline = valuation.baseline
    singles = valuation.estimator.utilities_[valuation.estimator.masks_.sum(axis=1) == 1]
    assert (singles >= game_baseline).all()


@pytest.mark.slow
def test_planted_expectations_hold_on_the_shipped_model(report: DigitsDemoReport) -> None:
    checks = {check.description: check for check in report.checks}
    # Measured: the degraded contributors do NOT rank low on the Fréchet distance (it rewards the
    # spread that noisy samples add, as pure noise beats any single class above); the demo
    # reports that check honestly and it is not asserted here.
    expected = [name for name in checks if not name.endswith("on neg_fid") or "share" in name]
    failed = [f"{name}: {checks[name].detail}" for name in expected if not checks[name].passed]
    assert not failed
    assert len(expected) == len(checks) - 1


@pytest.mark.slow
def test_the_report_shows_every_metric_and_check(report: DigitsDemoReport) -> None:
    text = format_report(report)
    for metric in ("inception_score", "neg_fid", "label_fidelity", "marker_free"):
        assert f"== {metric}:" in text
    assert text.count("[PASS]") + text.count("[FAIL]") == len(report.checks)


def test_a_missing_weights_directory_says_how_to_train(tmp_path: Path) -> None:
    from attribution.engine.errors import EngineInputError

    with pytest.raises(EngineInputError, match="train-digits"):
        run_digits_demo(weights=tmp_path / "nowhere")
