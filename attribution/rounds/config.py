"""The frozen engine configuration of a round: built from the database once, then self-contained.

``freeze_config`` reads the round, its model version and its contributors' accepted records and
returns plain JSON; ``config_hash`` is its SHA-256. Everything the worker needs to reproduce the
round is in that JSON, so later edits to records or settings never change a started round.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.conf import settings

from marketplace.models import ModelVersion

if TYPE_CHECKING:
    from attribution.models import ValuationRound

CONFIG_VERSION = 1


class RoundConfigError(ValueError):
    """The round cannot start as configured; the message says what to fix."""


def freeze_config(round: ValuationRound) -> dict[str, Any]:
    """The round's full engine configuration as JSON-able data."""
    version = round.model_version
    contributors = []
    for contributor in round.contributors.order_by("key"):
        records = list(contributor.accepted_records().order_by("pk").values("label", "caption"))
        if not records:
            raise RoundConfigError(
                f"contributor {contributor.key} has no accepted data; accept one of their data "
                "groups or remove them from the round."
            )
        entry: dict[str, Any] = {
            "key": contributor.key,
            "n_records": len(records),
            "conditions": _conditions(version, contributor.key, records),
        }
        labels = [record["label"] for record in records]
        if all(label.strip().isdecimal() and label.strip().isascii() for label in labels):
            entry["labels"] = [int(label) for label in labels]  # claimed classes, for fidelity
        contributors.append(entry)
    if len(contributors) < 2:
        raise RoundConfigError("a round needs at least 2 contributors with accepted data.")
    return {
        "version": CONFIG_VERSION,
        "model": {
            "kind": version.kind,
            "path": version.path,
            "lora_path": version.lora_path,
            "checksum": version.checksum,
            "conditions": version.conditions,
        },
        "contributors": contributors,
        "metric": round.metric,
        "estimator": round.estimator,
        "budget": round.budget,
        "n_samples": round.n_samples,
        "n_bootstrap": round.n_bootstrap,
        "seed": round.seed,
        "device": settings.ENGINE_DEVICE,
    }


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a frozen configuration (device excluded: it does not
    change what is computed)."""
    canonical = {key: value for key, value in config.items() if key != "device"}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


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
