"""The frozen configuration of a round: built from the database once, then self-contained.

``freeze_config`` reads the round, its model version and its contributors' accepted records and
returns a ``RoundConfig``; the row stores ``config.to_json()`` and ``config_hash``, its SHA-256.
Everything the worker needs to reproduce the round is in that JSON, so later edits to records or
settings never change a started round. This module is the only one that writes or reads that
JSON: workers get a ``RoundConfig`` from ``RoundConfig.from_json``, which refuses a configuration
of a version it does not know with a clear error instead of guessing at its fields.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from attribution.engine.metrics.catalog import get_metric
from attribution.engine.profiles import ModelSpec
from marketplace.models import DataGroup, DataRecord, ModelVersion

if TYPE_CHECKING:
    from attribution.models import ValuationRound

CONFIG_VERSION = 5
READABLE_VERSIONS = (1, 2, 3, 4, 5)
"""Version 2 added the model's sampling, featurizer and reference settings; a version-1
configuration (the built-in digits model only) reads with their defaults. Version 3 added the
payout tolerance; older configurations read with the default (±0.25 pp). Version 4 added the
bank growth allowance ``max_samples``; older configurations read as "never grow". Version 5
(same fields) grows only the banks that drive the uncertainty, each to the size its own share
needs; a version-4 round grows every bank to the largest need, as it did when it was frozen."""

DEFAULT_PAYOUT_TOLERANCE = 0.25


class RoundConfigError(ValueError):
    """The round cannot start as configured, or a stored configuration cannot be read; the
    message says what to fix."""


PROMPT_LISTS = ("class_prompts", "artefact_prompts", "clean_prompts")
VERSION_FIELDS = tuple(
    name for name in ModelSpec.__dataclass_fields__ if name not in ("device", "reference_images")
)
"""The model version's fields a round freezes: every ``ModelSpec`` field the row holds."""


def model_spec(version: ModelVersion, reference_images: tuple[str, ...] = ()) -> ModelSpec:
    """The engine's description of a model version (``reference_images``: its reference
    group's files), on the CPU until a worker puts it on its own device."""
    fields: dict[str, Any] = {name: getattr(version, name) for name in VERSION_FIELDS}
    for name in PROMPT_LISTS:
        fields[name] = tuple(fields[name] or ())
    return ModelSpec(**fields, reference_images=reference_images)


def model_to_json(model: ModelSpec) -> dict[str, Any]:
    """The stored form of a frozen model (the device is the round's, not the model's)."""
    data = dataclasses.asdict(model)
    del data["device"]
    for name in (*PROMPT_LISTS, "reference_images"):
        data[name] = list(data[name])
    return data


def model_from_json(data: Mapping[str, Any]) -> ModelSpec:
    """Read a stored model; settings it lacks (version 1 stored five) take their defaults."""
    known = {name: data[name] for name in ModelSpec.__dataclass_fields__ if name in data}
    known.pop("device", None)
    for name in (*PROMPT_LISTS, "reference_images"):
        if name in known:
            known[name] = tuple(str(item) for item in known[name])
    return ModelSpec(**known)


@dataclass(frozen=True)
class ContributorConfig:
    """One contributor of a round.

    Attributes:
        key: The contributor's key (with the round seed it fixes their samples).
        n_records: How many accepted records they gave: their weight in every mixture.
        conditions: What the model generates from for them (class numbers or prompts).
        labels: The class numbers their records claim, when every label is a whole number.
    """

    key: str
    n_records: int
    conditions: tuple[Any, ...]
    labels: tuple[int, ...] | None = None


@dataclass(frozen=True)
class RoundConfig:
    """Everything a worker needs to run a round; ``to_json`` is what the row stores."""

    model: ModelSpec
    contributors: tuple[ContributorConfig, ...]
    metric: str
    estimator: str
    budget: int
    n_samples: int
    n_bootstrap: int
    seed: int
    device: str
    payout_tolerance: float = DEFAULT_PAYOUT_TOLERANCE
    """± percentage points of the pool, at 95%, that every share must be within."""
    max_samples: int | None = None
    """Grow the banks up to this many samples each when the tolerance needs it (None: never)."""
    version: int = CONFIG_VERSION

    @property
    def targeted_growth(self) -> bool:
        """Growth tops up only the banks that drive the uncertainty (version 5 on); a version-4
        round grows every bank to the largest need."""
        return self.version >= 5

    @property
    def keys(self) -> list[str]:
        """Contributor keys in round order (ascending)."""
        return [contributor.key for contributor in self.contributors]

    def contributor(self, key: str) -> ContributorConfig:
        """The contributor called ``key``.

        Raises:
            KeyError: ``key`` is not one of the round's contributors.
        """
        for contributor in self.contributors:
            if contributor.key == key:
                return contributor
        raise KeyError(f"contributor {key!r} is not in the round's configuration.")

    def restricted(self, keys: Sequence[str]) -> RoundConfig:
        """The same round for the contributors ``keys`` only (a distributed unit's share).

        Raises:
            KeyError: A key is not one of the round's contributors.
        """
        by_key = {contributor.key: contributor for contributor in self.contributors}
        missing = [key for key in keys if key not in by_key]
        if missing:
            raise KeyError(f"contributor {missing[0]!r} is not in the round's configuration.")
        return dataclasses.replace(self, contributors=tuple(by_key[key] for key in keys))

    @property
    def engine_model(self) -> ModelSpec:
        """The frozen model on the round's device."""
        return dataclasses.replace(self.model, device=self.device)

    def on_device(self, device: str) -> RoundConfig:
        """The same configuration computed on ``device`` (outside the hash)."""
        return dataclasses.replace(self, device=device)

    def to_json(self) -> dict[str, Any]:
        """The JSON the row stores (version 3 adds ``payout_tolerance`` to version 1's layout,
        version 4 ``max_samples``; version 5 has version 4's fields)."""
        contributors = []
        for contributor in self.contributors:
            entry: dict[str, Any] = {
                "key": contributor.key,
                "n_records": contributor.n_records,
                "conditions": list(contributor.conditions),
            }
            if contributor.labels is not None:
                entry["labels"] = list(contributor.labels)
            contributors.append(entry)
        data = {
            "version": self.version,
            "model": model_to_json(self.model),
            "contributors": contributors,
            "metric": self.metric,
            "estimator": self.estimator,
            "budget": self.budget,
            "n_samples": self.n_samples,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "device": self.device,
        }
        if self.version >= 3:  # an older row's JSON (and so its hash) stays as it was stored
            data["payout_tolerance"] = self.payout_tolerance
        if self.version >= 4:
            data["max_samples"] = self.max_samples
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoundConfig:
        """Read a stored configuration.

        Raises:
            RoundConfigError: It is not a configuration, is of an unknown version, or lacks a field.
        """
        if not isinstance(data, Mapping):
            raise RoundConfigError("the round has no frozen configuration; start it first.")
        version = data.get("version")
        if version not in READABLE_VERSIONS:
            readable = ", ".join(map(str, READABLE_VERSIONS))
            raise RoundConfigError(
                f"the round's configuration is of version {version!r}, which this installation "
                f"cannot read (it reads versions {readable}); run the round with the "
                "release that started it, or restart it to freeze a new configuration."
            )
        try:
            return cls(
                model=model_from_json(data["model"]),
                contributors=tuple(
                    ContributorConfig(
                        key=str(entry["key"]),
                        n_records=int(entry["n_records"]),
                        conditions=tuple(entry["conditions"]),
                        labels=None if "labels" not in entry else tuple(entry["labels"]),
                    )
                    for entry in data["contributors"]
                ),
                metric=str(data["metric"]),
                estimator=str(data["estimator"]),
                budget=int(data["budget"]),
                n_samples=int(data["n_samples"]),
                n_bootstrap=int(data["n_bootstrap"]),
                seed=int(data["seed"]),
                device=str(data.get("device", "cpu")),
                payout_tolerance=float(data.get("payout_tolerance", DEFAULT_PAYOUT_TOLERANCE)),
                max_samples=None if data.get("max_samples") is None else int(data["max_samples"]),
                version=int(version),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RoundConfigError(
                f"the round's configuration (version {version}) is incomplete or "
                f"malformed: {type(error).__name__}: {error}"
            ) from error


def freeze_config(round: ValuationRound) -> RoundConfig:
    """The round's full engine configuration.

    Raises:
        RoundConfigError: The round cannot run as configured (its metric is not offered by its
            model, it needs labels that records lack, too few contributors have data, ...).
    """
    version = round.model_version
    problem = round.metric_problem()
    if problem:
        raise RoundConfigError(problem)
    spec = get_metric(round.metric)
    records_by_key: dict[str, list[dict[str, str]]] = {}
    rows = (
        DataRecord.objects.filter(
            group__status=DataGroup.Status.ACCEPTED, group__contributor__rounds=round
        )
        .order_by("group__contributor__key", "pk")
        .values_list("group__contributor__key", "label", "caption")
    )
    for key, label, caption in rows.iterator(chunk_size=10_000):
        records_by_key.setdefault(key, []).append({"label": label, "caption": caption})
    contributors = []
    for key in round.contributors.order_by("key").values_list("key", flat=True):
        records = records_by_key.get(key)
        if not records:
            raise RoundConfigError(
                f"contributor {key} has no accepted data; accept one of their data "
                "groups or remove them from the round."
            )
        labels = [record["label"] for record in records]
        numeric = all(label.strip().isdecimal() and label.strip().isascii() for label in labels)
        if spec.needs_labels and not numeric:
            raise RoundConfigError(
                f"{spec.label} needs every record to carry a class number as its label; "
                f"contributor {key} has records without one."
            )
        contributors.append(
            ContributorConfig(
                key=key,
                n_records=len(records),
                conditions=tuple(_conditions(version, key, records)),
                labels=tuple(int(label) for label in labels) if numeric else None,
            )
        )
    if len(contributors) < 2:
        raise RoundConfigError("a round needs at least 2 contributors with accepted data.")
    problem = round.budget_problem(len(contributors)) or round.growth_problem()
    if problem:
        raise RoundConfigError(problem)
    return RoundConfig(
        model=model_spec(version, _reference_images(version)),
        contributors=tuple(contributors),
        metric=round.metric,
        estimator=round.estimator,
        budget=round.budget,
        n_samples=round.n_samples,
        n_bootstrap=round.n_bootstrap,
        seed=round.seed,
        device=settings.ENGINE_DEVICE,
        payout_tolerance=float(round.payout_tolerance),
        max_samples=round.max_samples,
    )


def config_hash(config: RoundConfig | Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a frozen configuration (device excluded: it does not
    change what is computed)."""
    data = config.to_json() if isinstance(config, RoundConfig) else config
    canonical = {key: value for key, value in data.items() if key != "device"}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _reference_images(version: ModelVersion) -> tuple[str, ...]:
    """The image files of the model version's reference group (accepted), in record order."""
    if version.reference_group_id is None:
        return ()
    group = version.reference_group
    if group is None or group.status != DataGroup.Status.ACCEPTED:
        raise RoundConfigError(
            f"model version {version.name}'s reference group is not accepted; accept it or "
            "choose another reference set."
        )
    return tuple(record.image.path for record in group.records.order_by("pk").only("image"))


def _conditions(version: ModelVersion, key: str, records: list[dict[str, str]]) -> list[Any]:
    """How this contributor's records become the model's conditions."""
    if version.conditions == ModelVersion.Conditions.CONTRIBUTOR:
        if key not in version.contributor_labels:
            raise RoundConfigError(
                f"model version {version.name} has no class for contributor {key}; add it to "
                "the version's contributor labels."
            )
        label = version.contributor_labels[key]
        if isinstance(label, bool) or not str(label).isdecimal():
            raise RoundConfigError(
                f"model version {version.name} maps contributor {key} to {label!r}; "
                "classes must be whole numbers."
            )
        return [int(label)] * len(records)
    if version.conditions == ModelVersion.Conditions.LABEL:
        bad = [r["label"] for r in records if not r["label"].strip().isdecimal()]
        if bad:
            raise RoundConfigError(
                f"contributor {key} has a record whose label is not a class number: {bad[0]!r}"
            )
        return [int(record["label"]) for record in records]
    missing = sum(1 for record in records if not record["caption"].strip())
    if missing:
        raise RoundConfigError(f"contributor {key} has {missing} record(s) without a caption.")
    return [record["caption"] for record in records]
