"""Freezing a round's engine configuration: contents, validation and the hash."""

from __future__ import annotations

import copy

import pytest
from django.test import override_settings

from attribution.rounds.config import (
    CONFIG_VERSION,
    RoundConfig,
    RoundConfigError,
    config_hash,
    freeze_config,
)
from marketplace.models import DataGroup, ModelVersion
from tests.attribution.factories import (
    make_contributor,
    make_group,
    make_model_version,
    make_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db


def test_config_lists_contributors_sorted_by_key_with_counts_and_classes() -> None:
    version = make_model_version(
        ("alice", "bob", "carol"), contributor_labels={"alice": 4, "bob": 7, "carol": 1}
    )
    contributors = [
        make_contributor("carol", labels=("1",)),
        make_contributor("alice", labels=("2", "3", "4")),
        make_contributor("bob", labels=("5", "6")),
    ]
    round = make_round(version=version, contributors=contributors, seed=11, budget=32)

    config = freeze_config(round).to_json()

    assert [c["key"] for c in config["contributors"]] == ["alice", "bob", "carol"]
    assert [c["n_records"] for c in config["contributors"]] == [3, 2, 1]
    assert [c["conditions"] for c in config["contributors"]] == [[4, 4, 4], [7, 7], [1]]
    assert [c["labels"] for c in config["contributors"]] == [[2, 3, 4], [5, 6], [1]]
    assert config["version"] == CONFIG_VERSION
    assert {
        "kind": "builtin_digits",
        "path": "",
        "lora_path": "",
        "checksum": "",
        "conditions": "contributor",
        "reference_images": [],
    }.items() <= config["model"].items()
    assert (config["metric"], config["estimator"]) == ("inception_score", "tolerance")
    assert config["payout_tolerance"] == 0.25
    assert (config["budget"], config["seed"], config["n_samples"]) == (32, 11, 4)


def test_config_counts_only_records_of_accepted_groups() -> None:
    round = make_round(("alice", "bob"))
    alice = round.contributors.get(key="alice")
    make_group(alice, labels=("1", "1", "1"), status=DataGroup.Status.PENDING, title="pending")
    make_group(alice, labels=("2",), status=DataGroup.Status.REJECTED, title="rejected")

    config = freeze_config(round).to_json()

    assert config["contributors"][0]["n_records"] == 2


def test_non_digit_labels_leave_out_the_labels_list() -> None:
    version = make_model_version(("alice", "bob"))
    round = make_round(
        version=version,
        contributors=[make_contributor("alice", labels=("cat", "3")), make_contributor("bob")],
    )

    alice, bob = freeze_config(round).to_json()["contributors"]

    assert "labels" not in alice
    assert bob["labels"] == [3, 5]


def test_label_conditions_come_from_the_record_labels() -> None:
    version = make_model_version(
        ("alice", "bob"), conditions=ModelVersion.Conditions.LABEL, contributor_labels={}
    )
    round = make_round(
        version=version,
        contributors=[make_contributor("alice", labels=("3", " 7 ")), make_contributor("bob")],
    )

    alice, bob = freeze_config(round).to_json()["contributors"]

    assert alice["conditions"] == [3, 7]
    assert bob["conditions"] == [3, 5]


def test_prompt_conditions_are_the_record_captions() -> None:
    version = make_model_version(
        ("alice", "bob"), conditions=ModelVersion.Conditions.PROMPT, contributor_labels={}
    )
    round = make_round(
        version=version,
        contributors=[
            make_contributor("alice", labels=("", ""), captions=("a red fox", "a blue bird")),
            make_contributor("bob", labels=("",), captions=("a cat",)),
        ],
    )

    alice, bob = freeze_config(round).to_json()["contributors"]

    assert alice["conditions"] == ["a red fox", "a blue bird"]
    assert bob["conditions"] == ["a cat"]
    assert "labels" not in alice


def test_contributor_without_accepted_records_is_refused() -> None:
    version = make_model_version(("alice", "bob", "carol"))
    carol = make_contributor("carol", status=DataGroup.Status.PENDING)
    round = make_round(
        version=version,
        contributors=[make_contributor("alice"), make_contributor("bob"), carol],
    )

    with pytest.raises(RoundConfigError, match="carol has no accepted data"):
        freeze_config(round).to_json()


def test_fewer_than_two_contributors_is_refused() -> None:
    round = make_round(("alice",))

    with pytest.raises(RoundConfigError, match="at least 2 contributors"):
        freeze_config(round).to_json()


def test_round_without_contributors_is_refused() -> None:
    round = make_round(("alice", "bob"), contributors=[])

    with pytest.raises(RoundConfigError, match="at least 2 contributors"):
        freeze_config(round).to_json()


def test_contributor_missing_from_the_contributor_labels_is_refused() -> None:
    version = make_model_version(("alice", "bob"), contributor_labels={"alice": 0})
    round = make_round(
        version=version, contributors=[make_contributor("alice"), make_contributor("bob")]
    )

    with pytest.raises(RoundConfigError, match="no class for contributor bob"):
        freeze_config(round).to_json()


def test_non_numeric_label_under_label_conditions_is_refused() -> None:
    version = make_model_version(
        ("alice", "bob"), conditions=ModelVersion.Conditions.LABEL, contributor_labels={}
    )
    round = make_round(
        version=version,
        contributors=[make_contributor("alice", labels=("3", "cat")), make_contributor("bob")],
    )

    with pytest.raises(RoundConfigError, match="alice has a record whose label is not a class"):
        freeze_config(round).to_json()


def test_missing_captions_under_prompt_conditions_are_refused() -> None:
    version = make_model_version(
        ("alice", "bob"), conditions=ModelVersion.Conditions.PROMPT, contributor_labels={}
    )
    round = make_round(
        version=version,
        contributors=[
            make_contributor("alice", labels=("", ""), captions=("a fox", "a dog")),
            make_contributor("bob", labels=("", "", ""), captions=("a cat", " ", "")),
        ],
    )

    with pytest.raises(RoundConfigError, match="bob has 2 record"):
        freeze_config(round).to_json()


def test_non_numeric_contributor_class_is_a_config_error() -> None:
    version = make_model_version(("alice", "bob"), contributor_labels={"alice": 0, "bob": "seven"})
    round = make_round(
        version=version, contributors=[make_contributor("alice"), make_contributor("bob")]
    )

    with pytest.raises(RoundConfigError):
        freeze_config(round).to_json()


def test_superscript_digit_label_does_not_crash_the_freeze() -> None:
    round = make_round(
        ("alice", "bob"),
        contributors=[make_contributor("alice", labels=("²",)), make_contributor("bob")],
    )

    alice, _ = freeze_config(round).to_json()["contributors"]

    assert "labels" not in alice


def test_config_hash_is_stable_and_changes_with_the_config() -> None:
    round = make_round(("alice", "bob"))
    config = freeze_config(round).to_json()
    reordered = dict(reversed(list(config.items())))
    changed = copy.deepcopy(config)
    changed["seed"] += 1

    assert config_hash(config) == config_hash(freeze_config(round).to_json())
    assert config_hash(config) == config_hash(reordered)
    assert config_hash(config) != config_hash(changed)
    assert len(config_hash(config)) == 64


def test_config_hash_ignores_the_device() -> None:
    round = make_round(("alice", "bob"))
    with override_settings(ENGINE_DEVICE="cpu"):
        on_cpu = freeze_config(round).to_json()
    with override_settings(ENGINE_DEVICE="cuda:1"):
        on_gpu = freeze_config(round).to_json()

    assert (on_cpu["device"], on_gpu["device"]) == ("cpu", "cuda:1")
    assert config_hash(on_cpu) == config_hash(on_gpu)


# --- the typed contract -----------------------------------------------------------------------


def test_a_frozen_config_reads_back_equal_from_its_json() -> None:
    round = make_round(("alice", "bob"))

    config = freeze_config(round)

    assert RoundConfig.from_json(config.to_json()) == config
    assert config_hash(config) == config_hash(config.to_json())
    assert config.keys == ["alice", "bob"]
    assert config.contributor("bob").n_records == 2


def test_a_config_of_an_unknown_version_is_refused_with_a_clear_error() -> None:
    data = freeze_config(make_round(("alice", "bob"))).to_json()

    with pytest.raises(RoundConfigError, match="version 6, which this installation cannot read"):
        RoundConfig.from_json({**data, "version": 6})
    with pytest.raises(RoundConfigError, match=r"incomplete or malformed.*'metric'"):
        RoundConfig.from_json({key: value for key, value in data.items() if key != "metric"})
    with pytest.raises(RoundConfigError, match="no frozen configuration"):
        RoundConfig.from_json(None)  # type: ignore[arg-type]


def test_a_version_1_config_reads_with_the_new_model_settings_at_their_defaults() -> None:
    data = freeze_config(make_round(("alice", "bob"))).to_json()
    model = {key: data["model"][key] for key in ("kind", "path", "lora_path", "checksum")}
    old = {**data, "version": 1, "model": {**model, "conditions": "contributor"}}

    config = RoundConfig.from_json(old)

    assert config.version == 1
    assert (config.model.n_steps, config.model.clip_path, config.model.reference_images) == (
        25,
        "",
        (),
    )
    assert config.to_json()["version"] == 1  # the row's hash stays that of the stored JSON


def test_a_version_2_config_reads_with_the_default_tolerance_and_keeps_its_json() -> None:
    data = freeze_config(make_round(("alice", "bob"), payout_tolerance="0.5")).to_json()
    assert data["payout_tolerance"] == 0.5
    newer = ("payout_tolerance", "max_samples")
    old = {key: value for key, value in {**data, "version": 2}.items() if key not in newer}

    config = RoundConfig.from_json(old)

    assert config.payout_tolerance == 0.25
    assert config.to_json() == old
    assert config_hash(config) == config_hash(old)


def test_a_version_3_config_reads_as_never_growing_and_keeps_its_json() -> None:
    data = freeze_config(make_round(("alice", "bob"), max_samples=256)).to_json()
    assert (data["version"], data["max_samples"]) == (5, 256)
    old = {key: value for key, value in {**data, "version": 3}.items() if key != "max_samples"}

    config = RoundConfig.from_json(old)

    assert config.max_samples is None
    assert config.to_json() == old
    assert config_hash(config) == config_hash(old)
    assert RoundConfig.from_json(data).max_samples == 256


def test_a_version_4_config_grows_every_bank_and_a_version_5_config_only_the_drivers() -> None:
    data = freeze_config(make_round(("alice", "bob"), max_samples=256)).to_json()
    old = {**data, "version": 4}

    config = RoundConfig.from_json(old)

    assert config.max_samples == 256
    assert not config.targeted_growth
    assert config.to_json() == old  # same fields: only the version (and so the hash) differs
    assert config_hash(config) == config_hash(old) != config_hash(data)
    assert RoundConfig.from_json(data).targeted_growth


def test_a_growth_allowance_below_the_bank_size_is_refused_at_start() -> None:
    with pytest.raises(RoundConfigError, match="below the round's 64 samples"):
        freeze_config(make_round(("alice", "bob"), n_samples=64, max_samples=32))
    with pytest.raises(RoundConfigError, match="needs their noise measured"):
        freeze_config(make_round(("carol", "dave"), max_samples=256, n_bootstrap=0))


def test_a_worker_fails_a_round_whose_config_it_cannot_read() -> None:
    from attribution.models import ValuationRound
    from attribution.rounds.execution import execute_round
    from tests.attribution.factories import FakeEngine

    round = make_round(("alice", "bob"))
    config = {**freeze_config(round).to_json(), "version": 99}
    ValuationRound.objects.filter(pk=round.pk).update(config=config, status="queued")
    engine = FakeEngine()

    execute_round(round.pk, engine=engine)

    round.refresh_from_db()
    assert round.status == ValuationRound.Status.FAILED
    assert "version 99" in round.error
    assert engine.n_calls == 0
