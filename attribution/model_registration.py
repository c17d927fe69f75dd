"""Registering a model version: validate everything a round will need, cheaply and completely,
before anything is saved.

``register_model_version(version)`` takes an unsaved ``ModelVersion`` and checks its name, kind
and conditions and its reference set (one of: an accepted data group, a directory of images,
precomputed statistics), then asks the kind's model profile to check its files (the pipeline's
``model_index.json`` names a supported class, the LoRA loads onto it and matches its layers, the
featurizer's width matches the aesthetic head and the reference statistics, ...). Every problem
is reported, one plain sentence each, in one ``RegistrationError``; nothing is saved unless there
are none. Checksums of every file are recorded on the model version. Nothing is ever
downloaded: every path is local.

The admin form, ``POST /api/v1/model-versions/`` and ``manage.py register_model_version`` all
call this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction

from attribution.engine.generation.fingerprints import directory_fingerprint, file_sha256
from attribution.engine.profiles import PROFILES
from attribution.rounds.config import model_spec
from marketplace.models import DataGroup, ModelVersion


class RegistrationError(ValueError):
    """The model version cannot be registered; ``problems`` lists why, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def check_registration(version: ModelVersion) -> list[str]:
    """Every problem with an unsaved (or changed) model version, one plain sentence each; empty
    if it can be saved. A changed version's own name is no clash."""
    problems = []
    clash = ModelVersion.objects.filter(name=version.name).exclude(pk=version.pk)
    if not version.name.strip():
        problems.append("give the model version a name.")
    elif clash.exists():
        problems.append(f"a model version called {version.name!r} already exists.")
    if version.kind not in ModelVersion.Kind.values:
        problems.append(
            f"kind {version.kind!r} is not one of {', '.join(ModelVersion.Kind.values)}."
        )
        return problems
    if version.kind not in PROFILES:
        problems.append(f"this installation cannot value {version.kind} models yet.")
        return problems
    if version.conditions not in ModelVersion.Conditions.values:
        problems.append(
            f"conditions {version.conditions!r} is not one of "
            f"{', '.join(ModelVersion.Conditions.values)}."
        )
    references = [
        version.reference_group_id is not None,
        bool(version.reference_dir),
        bool(version.reference_stats_path),
    ]
    if sum(references) > 1:
        problems.append(
            "give one reference set: a data group, a directory of images or a statistics file."
        )
    reference_images: tuple[str, ...] = ()
    if version.reference_group_id is not None:
        group = DataGroup.objects.filter(pk=version.reference_group_id).first()
        if group is None or group.status != DataGroup.Status.ACCEPTED:
            problems.append(
                f"reference group {version.reference_group_id} is not an accepted data group."
            )
        else:
            reference_images = tuple(record.image.path for record in group.records.all())
    unusable = _unusable_paths(version)
    if unusable:  # the profile's checks would only trip over the same paths
        return problems + unusable
    spec = model_spec(version, reference_images)
    try:
        problems += PROFILES[version.kind].check(spec)
    except OSError as error:
        problems.append(f"cannot read {error.filename or 'a file'}: {error.strerror or error}.")
    return problems


PATH_FIELDS = (
    "path",
    "lora_path",
    "clip_path",
    "inception_path",
    "aesthetic_head_path",
    "reference_dir",
    "reference_stats_path",
)


def _unusable_paths(version: ModelVersion) -> list[str]:
    """Paths the file system refuses to even look at (too long, bad characters, no access)."""
    problems = []
    for name in PATH_FIELDS:
        raw = getattr(version, name)
        if not raw:
            continue
        try:
            Path(raw).exists()
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            problems.append(f"{name.replace('_', ' ')} {raw[:80]!r} cannot be used: {reason}.")
    return problems


def register_model_version(version: ModelVersion) -> ModelVersion:
    """Validate an unsaved model version and save it with the checksums of its files.

    Raises:
        RegistrationError: Something would keep its rounds from running; nothing was saved.
    """
    problems = check_registration(version)
    if problems:
        raise RegistrationError(problems)
    version.checksums = checksums(version)
    if version.path and Path(version.path).is_dir():
        version.checksum = version.checksums[version.path]
    with transaction.atomic():
        version.save()
    return version


def checksums(version: ModelVersion) -> dict[str, Any]:
    """SHA-256 of each file (a directory: a fingerprint of its files' names, sizes and configs)."""
    paths = [
        version.path,
        version.lora_path,
        version.clip_path,
        version.inception_path,
        version.aesthetic_head_path,
        version.reference_stats_path,
    ]
    found: dict[str, Any] = {}
    for raw in paths:
        if not raw:
            continue
        path = Path(raw)
        if path.is_dir():
            found[raw] = directory_fingerprint(path)
        elif path.is_file():
            found[raw] = file_sha256(path)
    return found
