"""Builders for marketplace and attribution rows, and a fake round engine.

The builders create the smallest valid world: a built-in digits model version conditioned on the
contributor, contributors with an accepted, consented data group of a few labelled records, and a
draft round over them. ``FakeEngine`` stands in for ``attribution.rounds.runner.run_engine``: it
never touches the diffusion engine and returns values fixed by the config's contributor keys.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from pytest_django import Settings

from attribution.models import ValuationRound
from attribution.rounds.config import RoundConfig
from attribution.rounds.execution import execute_round
from attribution.rounds.outcome import Diagnostics, RoundOutcome
from attribution.rounds.runner import EngineProgress
from attribution.rounds.services import start_round
from marketplace.models import Contributor, DataGroup, DataRecord, ModelVersion

KEYS = ("alice", "bob", "carol")

_version_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def tmp_media(settings: Settings, tmp_path: Path) -> Path:
    """Uploaded record images go to a per-test folder, never to the project's ``var/media``.

    Autouse in every test module that imports it.
    """
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def make_model_version(
    keys: Sequence[str] = KEYS,
    *,
    name: str | None = None,
    conditions: str = ModelVersion.Conditions.CONTRIBUTOR,
    **fields: Any,
) -> ModelVersion:
    """A built-in digits model with one class per contributor key (key i → class i)."""
    fields.setdefault("contributor_labels", {key: index for index, key in enumerate(keys)})
    return ModelVersion.objects.create(
        name=name or f"digits-v{next(_version_numbers)}",
        kind=ModelVersion.Kind.BUILTIN_DIGITS,
        conditions=conditions,
        **fields,
    )


def make_group(
    contributor: Contributor,
    *,
    labels: Sequence[str] = ("3", "5"),
    captions: Sequence[str] | None = None,
    status: str = DataGroup.Status.ACCEPTED,
    consent: bool = True,
    title: str = "upload",
) -> DataGroup:
    """A data group of ``contributor`` with one record per label (captions default to blank)."""
    group = DataGroup.objects.create(
        contributor=contributor, title=title, status=status, consent=consent
    )
    captions = captions if captions is not None else [""] * len(labels)
    for index, (label, caption) in enumerate(zip(labels, captions, strict=True)):
        content = f"{contributor.key}/{group.pk}/{index}".encode()
        DataRecord.objects.create(
            group=group,
            image=ContentFile(content, name=f"{contributor.key}-{index}.png"),
            sha256=hashlib.sha256(content).hexdigest(),
            width=8,
            height=8,
            label=label,
            caption=caption,
        )
    return group


def make_contributor(
    key: str, *, name: str | None = None, labels: Sequence[str] = ("3", "5"), **group: Any
) -> Contributor:
    """A contributor with one accepted, consented data group holding ``len(labels)`` records."""
    contributor = Contributor.objects.create(key=key, name=name or key.title())
    if labels:
        make_group(contributor, labels=labels, **group)
    return contributor


def make_round(
    keys: Sequence[str] = KEYS,
    *,
    pool: Decimal | str = Decimal("100.00"),
    version: ModelVersion | None = None,
    contributors: Sequence[Contributor] | None = None,
    **fields: Any,
) -> ValuationRound:
    """A draft round over ``keys`` (contributors created with accepted data unless given)."""
    version = version or make_model_version(keys)
    if contributors is None:
        contributors = [make_contributor(key) for key in keys]
    fields.setdefault("budget", 16)
    fields.setdefault("n_samples", 4)
    round = ValuationRound.objects.create(
        title="Round 1", model_version=version, pool=Decimal(pool), **fields
    )
    round.contributors.set(contributors)
    return round


def make_succeeded_round(
    values: dict[str, float] | None = None, *, keys: Sequence[str] = KEYS, **fields: Any
) -> ValuationRound:
    """A round started and run to success by ``FakeEngine(values=values)`` (no Celery)."""
    round = start_round(make_round(keys, **fields).pk, enqueue=False)
    assert execute_round(round.pk, engine=FakeEngine(values=values))
    round.refresh_from_db()
    assert round.status == ValuationRound.Status.SUCCEEDED
    return round


@dataclass
class FakeEngine:
    """A ``RoundEngine`` with deterministic results.

    By default the i-th contributor (keys in config order, i.e. ascending) gets value ``i + 1``,
    so ranks are the reverse of key order. ``values`` overrides them; ``error`` is raised after
    the progress calls; ``during`` runs between the first and second progress call (to cancel
    the round, or to look at the row mid-run).
    """

    values: dict[str, float] | None = None
    error: BaseException | None = None
    n_steps: int = 3
    during: Any = None
    configs: list[RoundConfig] = field(default_factory=list)

    @property
    def n_calls(self) -> int:
        return len(self.configs)

    def __call__(self, config: RoundConfig, progress: EngineProgress) -> RoundOutcome:
        self.configs.append(config)
        keys = config.keys
        for step in range(1, self.n_steps + 1):
            progress("fake stage", step, self.n_steps)
            if step == 1 and self.during is not None:
                self.during()
        if self.error is not None:
            raise self.error
        values = self.values or {key: float(index + 1) for index, key in enumerate(keys)}
        return RoundOutcome(
            values=values,
            stderr=dict.fromkeys(values, 0.125),
            ci={key: (value - 0.25, value + 0.25) for key, value in values.items()},
            exact_values=dict(values),
            baseline=0.0,
            grand_value=sum(values.values()),
            diagnostics=Diagnostics(n_evaluations=len(keys), timings={"fake": 0.0}),
        )


def bank_noise_diagnostics(**fields: object) -> dict[str, object]:
    """A round's stored ``bank_noise`` diagnostics: an audit-like measurement unless overridden
    (±73.9 pp at K = 32, no K meets the tolerance)."""
    return {
        "replicates": 20,
        "samples_per_contributor": 32,
        "bank_points": 73.9,
        "combined_points": 73.9,
        "required_k": None,
        "met": False,
        "drivers": [],
        "reason": "r",
        **fields,
    }
