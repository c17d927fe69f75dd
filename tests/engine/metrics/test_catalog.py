"""The metric catalog: complete entries, consistent with the metric objects profiles build."""

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.features import Features
from attribution.engine.metrics.catalog import METRICS, get_metric
from attribution.engine.profiles import PROFILES
from attribution.engine.profiles.digits import digits_metric


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_entry_is_complete_and_higher_is_better(name: str) -> None:
    spec = METRICS[name]

    assert spec.name == name
    assert spec.label
    assert spec.unit
    assert spec.explanation.endswith(".")
    assert spec.orientation == "higher is better"
    assert spec.purpose in ("payout", "audit")
    if spec.default_empty == "floor":
        # neg_fid's floor is its reference's (−2 tr Σ_r), set by each metric instance.
        assert spec.floor is not None or name == "neg_fid", f"{name}: v(∅) = floor needs a floor"
    assert spec.default_empty != "worst_singleton", f"{name}: a bank statistic as default v(∅)"


def test_every_metric_is_offered_by_some_profile() -> None:
    offered = {name for profile in PROFILES.values() for name in profile.available_metrics()}

    assert offered == set(METRICS)


@pytest.mark.parametrize("name", PROFILES["builtin_digits"].available_metrics())
def test_the_digits_metrics_have_the_catalog_floor(name: str) -> None:
    reference = Features(None, np.random.default_rng(0).normal(size=(50, 4)))

    metric = digits_metric(name, reference)

    if name == "neg_fid":
        covariance = np.cov(reference.embeddings.T, bias=True)
        assert metric.floor == pytest.approx(-2.0 * np.trace(covariance))
    else:
        assert metric.floor == METRICS[name].floor


def test_an_unknown_metric_is_refused_with_the_known_names() -> None:
    with pytest.raises(EngineInputError, match=r"unknown metric 'fid'.*neg_fid"):
        get_metric("fid")
