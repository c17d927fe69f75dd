"""Registering a model version: validate everything a round will need, cheaply and completely,
before anything is saved.

``register_model_version(registration)`` checks the name, kind and conditions, the reference set
(one of: an accepted data group, a directory of images, precomputed statistics), and asks the
kind's model profile to check its files (the pipeline's ``model_index.json`` names a supported
class, the LoRA loads onto it, the featurizer's width matches the aesthetic head and the
reference statistics, ...). Every problem is reported, one plain sentence each, in one
``RegistrationError``; nothing is saved unless there are none. Checksums of every file are
recorded on the model version. Nothing is ever downloaded: every path is local.

The admin form, ``POST /api/v1/model-versions/`` and ``manage.py register_model_version`` all
call this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from attribution.engine.generation.fingerprints import directory_fingerprint, file_sha256
from attribution.engine.profiles import PROFILES
from attribution.rounds.config import ModelConfig
from marketplace.models import DataGroup, ModelVersion

_SPECIAL = {"reference_group_id", "class_prompts", "artefact_prompts", "clean_prompts"}


class RegistrationError(ValueError):
    """The model version cannot be registered; ``problems`` lists why, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Registration:
    """What an operator registers (see ``ModelVersion`` for the fields)."""

    name: str
    kind: str
    path: str = ""
    conditions: str = ModelVersion.Conditions.PROMPT
    lora_path: str = ""
    lora_scale: float = 1.0
    scheduler: str = ""
    n_steps: int = 25
    guidance_scale: float = 7.5
    resolution: int | None = None
    dtype: str = ""
    null_label: int | None = None
    clip_path: str = ""
    inception_path: str = ""
    aesthetic_head_path: str = ""
    reference_group_id: int | None = None
    reference_dir: str = ""
    reference_stats_path: str = ""
    class_prompts: tuple[str, ...] = ()
    artefact_prompts: tuple[str, ...] = ()
    clean_prompts: tuple[str, ...] = ()
    contributor_labels: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, version: ModelVersion) -> Registration:
        """The registration of an (unsaved or changed) model version's settings."""
        fields = {
            name: getattr(version, name)
            for name in cls.__dataclass_fields__
            if name not in _SPECIAL
        }
        return cls(
            **fields,
            reference_group_id=version.reference_group_id,
            class_prompts=tuple(version.class_prompts or ()),
            artefact_prompts=tuple(version.artefact_prompts or ()),
            clean_prompts=tuple(version.clean_prompts or ()),
        )

    def model_version(self) -> ModelVersion:
        """An unsaved model version with these settings."""
        fields = dataclasses.asdict(self)
        for name in ("class_prompts", "artefact_prompts", "clean_prompts"):
            fields[name] = list(fields[name])
        return ModelVersion(**fields)


def check_registration(registration: Registration, *, existing: int | None = None) -> list[str]:
    """Every problem with ``registration``, one plain sentence each (empty: it can be saved).

    ``existing`` is the primary key of the model version being changed (its own name is fine).
    """
    problems = []
    clash = ModelVersion.objects.filter(name=registration.name).exclude(pk=existing)
    if not registration.name.strip():
        problems.append("give the model version a name.")
    elif clash.exists():
        problems.append(f"a model version called {registration.name!r} already exists.")
    if registration.kind not in ModelVersion.Kind.values:
        problems.append(
            f"kind {registration.kind!r} is not one of {', '.join(ModelVersion.Kind.values)}."
        )
        return problems
    if registration.kind not in PROFILES:
        problems.append(f"this installation cannot value {registration.kind} models yet.")
        return problems
    if registration.conditions not in ModelVersion.Conditions.values:
        problems.append(
            f"conditions {registration.conditions!r} is not one of "
            f"{', '.join(ModelVersion.Conditions.values)}."
        )
    references = [
        registration.reference_group_id is not None,
        bool(registration.reference_dir),
        bool(registration.reference_stats_path),
    ]
    if sum(references) > 1:
        problems.append(
            "give one reference set: a data group, a directory of images or a statistics file."
        )
    reference_images: tuple[str, ...] = ()
    if registration.reference_group_id is not None:
        group = DataGroup.objects.filter(pk=registration.reference_group_id).first()
        if group is None or group.status != DataGroup.Status.ACCEPTED:
            problems.append(
                f"reference group {registration.reference_group_id} is not an accepted data group."
            )
        else:
            reference_images = tuple(record.image.path for record in group.records.all())
    unusable = _unusable_paths(registration)
    if unusable:  # the profile's checks would only trip over the same paths
        return problems + unusable
    version = registration.model_version()
    spec = ModelConfig.of(version, reference_images).spec("cpu")
    try:
        problems += PROFILES[registration.kind].check(spec)
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


def _unusable_paths(registration: Registration) -> list[str]:
    """Paths the file system refuses to even look at (too long, bad characters, no access)."""
    problems = []
    for name in PATH_FIELDS:
        raw = getattr(registration, name)
        if not raw:
            continue
        try:
            Path(raw).exists()
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            problems.append(f"{name.replace('_', ' ')} {raw[:80]!r} cannot be used: {reason}.")
    return problems


def register_model_version(registration: Registration) -> ModelVersion:
    """Validate and save a model version with the checksums of its files.

    Raises:
        RegistrationError: Something would keep its rounds from running; nothing was saved.
    """
    problems = check_registration(registration)
    if problems:
        raise RegistrationError(problems)
    version = registration.model_version()
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
