"""The profile registry and the built-in digits profile."""

from pathlib import Path

import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics.catalog import METRICS
from attribution.engine.profiles import (
    PROFILES,
    ContributorSpec,
    ModelSpec,
    RoundSpec,
    UnsupportedModelKindError,
    get_profile,
)
from attribution.engine.profiles.digits import DigitsModel, DigitsProfile


def test_every_profile_offers_only_catalog_metrics() -> None:
    for kind, profile in PROFILES.items():
        assert profile.kind == kind
        assert set(profile.available_metrics()) <= set(METRICS)


def test_an_unknown_kind_is_refused_with_the_supported_ones() -> None:
    with pytest.raises(UnsupportedModelKindError, match=r"'flux'.*builtin_digits"):
        get_profile("flux")


def test_loading_the_digits_profile_is_lazy(tmp_path: Path) -> None:
    model = DigitsProfile().load(ModelSpec("builtin_digits", path=str(tmp_path / "missing")))

    assert isinstance(model, DigitsModel)  # nothing was read yet
    with pytest.raises(EngineInputError, match="no trained digits models"):
        _ = model.backend


def test_label_fidelity_needs_every_contributors_labels() -> None:
    model = DigitsProfile().load(ModelSpec("builtin_digits"))
    model.__dict__["reference"] = None  # the metric needs no reference; skip loading the models

    def round_with(*labels: tuple[int, ...] | None) -> RoundSpec:
        contributors = [ContributorSpec(f"c{i}", [0], claimed) for i, claimed in enumerate(labels)]
        return RoundSpec(contributors, n_samples=4, seed=0)

    with pytest.raises(EngineInputError, match="needs every contributor's records"):
        model.metric_setup("label_fidelity", round_with((1, 2), None))
    setup = model.metric_setup("label_fidelity", round_with((1, 2), (3,)))
    assert set(setup.scorers) == {"label_fidelity", "marker"}
    assert setup.empty_value == METRICS["label_fidelity"].default_empty
