"""A synthetic marketplace of any size, for load tests and the scale benchmark.

``seed_synthetic_marketplace(n)`` writes, in a constant number of bulk queries, ``n``
contributors with one accepted data group and one record each, a built-in digits model version
with one class per contributor, a draft round over all of them and a succeeded round with a value
per contributor and the frozen configuration a started round would hold, plus a contributor user
for the first contributor and a staff user. Nothing is generated: the numbers are random, the
records' files do not exist.

On PostgreSQL the bulk-filled tables are ANALYZEd before the first query that joins them (the
configuration freeze): inside one transaction autovacuum cannot see the new rows, and a planner
that believes the tables are empty chose a nested-loop plan over 2,000 contributors' records
that ran for over 20 minutes in a CI pass. A live deployment's autovacuum analyzes tables like
these within about a minute of such a load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from attribution.models import ContributorValue, ValuationRound
from attribution.rounds.config import config_hash, freeze_config
from attribution.rounds.outcome import Diagnostics
from marketplace.models import Contributor, DataGroup, DataRecord, ModelVersion, User


@dataclass(frozen=True)
class SyntheticMarketplace:
    """What was seeded (primary keys and names)."""

    n_contributors: int
    draft_round_id: int
    succeeded_round_id: int
    contributor_username: str
    staff_username: str
    password: str


def seed_synthetic_marketplace(
    n_contributors: int, *, prefix: str = "s", seed: int = 0, password: str = "scale-password"
) -> SyntheticMarketplace:
    """Seed the marketplace described in the module docstring (keys ``{prefix}00000`` …)."""
    rng = np.random.default_rng(seed)
    width = max(5, len(str(n_contributors - 1)))
    keys = [f"{prefix}{index:0{width}d}" for index in range(n_contributors)]
    with transaction.atomic():
        contributors = Contributor.objects.bulk_create(
            Contributor(key=key, name=f"Synthetic {key}") for key in keys
        )
        groups = DataGroup.objects.bulk_create(
            DataGroup(
                contributor=contributor,
                title="synthetic",
                status=DataGroup.Status.ACCEPTED,
                consent=True,
                decided_at=timezone.now(),
            )
            for contributor in contributors
        )
        DataRecord.objects.bulk_create(
            DataRecord(
                group=group,
                image=f"records/synthetic/{group.contributor.key}.png",
                sha256=hashlib.sha256(group.contributor.key.encode()).hexdigest(),
                width=8,
                height=8,
                label=str(index % 10),
            )
            for index, group in enumerate(groups)
        )
        version = ModelVersion.objects.create(
            name=f"synthetic-{prefix}-{n_contributors}",
            kind=ModelVersion.Kind.BUILTIN_DIGITS,
            conditions=ModelVersion.Conditions.CONTRIBUTOR,
            contributor_labels={key: index % 10 for index, key in enumerate(keys)},
        )
        draft = ValuationRound.objects.create(
            title=f"Synthetic draft ({n_contributors})", model_version=version, pool=Decimal(1000)
        )
        draft.contributors.set(contributors)
        done = ValuationRound.objects.create(
            title=f"Synthetic round ({n_contributors})",
            model_version=version,
            pool=Decimal(1000),
            status=ValuationRound.Status.SUCCEEDED,
            stage="done",
            progress=1.0,
            baseline=0.0,
            finished_at=timezone.now(),
        )
        done.contributors.set(contributors)
        values = rng.gamma(2.0, 1.0, size=n_contributors)
        order = np.argsort(-values, kind="stable")
        ranks = np.empty(n_contributors, dtype=np.int64)
        ranks[order] = np.arange(1, n_contributors + 1)
        total = float(values.sum())
        ContributorValue.objects.bulk_create(
            ContributorValue(
                round=done,
                contributor=contributor,
                value=float(value),
                stderr=0.1,
                ci_low=float(value) - 0.2,
                ci_high=float(value) + 0.2,
                rank=int(rank),
                share=float(value) / total,
            )
            for contributor, value, rank in zip(contributors, values, ranks, strict=True)
        )
        refresh_planner_statistics()
        config = freeze_config(done)
        done.config, done.config_hash = config.to_json(), config_hash(config)
        done.succeed(
            baseline=0.0,
            grand_value=total,
            diagnostics=Diagnostics(n_evaluations=4 * n_contributors).to_json(),
        )
        contributor_user = User.objects.create_user(
            f"{prefix}-contributor", password=password, contributor=contributors[0]
        )
        staff = User.objects.create_superuser(
            f"{prefix}-staff", password=password, role=User.Role.STAFF
        )
    return SyntheticMarketplace(
        n_contributors=n_contributors,
        draft_round_id=draft.pk,
        succeeded_round_id=done.pk,
        contributor_username=contributor_user.username,
        staff_username=staff.username,
        password=password,
    )


def refresh_planner_statistics() -> None:
    """ANALYZE the tables the marketplace fills in bulk (PostgreSQL; elsewhere nothing)."""
    if connection.vendor != "postgresql":
        return
    tables = (
        Contributor._meta.db_table,
        DataGroup._meta.db_table,
        DataRecord._meta.db_table,
        ValuationRound._meta.db_table,
        ValuationRound.contributors.through._meta.db_table,
        ContributorValue._meta.db_table,
    )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
