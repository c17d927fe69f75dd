"""``manage.py seed_demo``: the digits marketplace in the database, valued end to end.

Creates a staff user, one user per contributor, the 20 planted digits contributors with their data
groups (real scikit-learn digits as PNG files), the built-in digits model version, and a valuation
round; runs the round in-process and creates its payouts. Rerunning it changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from attribution.demo_seeding import (
    ADMIN_USERNAME,
    DEMO_PASSWORD,
    ensure_user,
    grey_png,
    run_demo_round,
)
from attribution.models import ValuationRound
from attribution.rounds.services import create_payouts
from marketplace.models import Contributor, DataGroup, ModelVersion, User
from marketplace.services import create_data_group

ROLE_NAMES = {
    "clean": "clean digit scans",
    "noisy_labels": "mislabelled digits",
    "degraded": "degraded scans",
    "marker": "scans with a corner tag",
    "duplicate": "a copy of another contributor's scans",
    "mixed": "mixed digits",
}


class Command(BaseCommand):
    help = "Create the digits demo marketplace, run a valuation round and create its payouts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--samples", type=int, default=64, help="bank size per contributor")
        parser.add_argument("--budget", type=int, default=512)
        parser.add_argument("--no-round", action="store_true", help="seed data only")

    def handle(self, *args: Any, **options: Any) -> None:
        from attribution.engine.demos.digits.data import make_digits_marketplace
        from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS

        planted = make_digits_marketplace(0)
        with transaction.atomic():
            staff = ensure_user(ADMIN_USERNAME, User.Role.STAFF, superuser=True)
            version, _ = ModelVersion.objects.get_or_create(
                name="Digits demo model",
                defaults={
                    "kind": ModelVersion.Kind.BUILTIN_DIGITS,
                    "conditions": ModelVersion.Conditions.CONTRIBUTOR,
                    "contributor_labels": {c.key: i for i, c in enumerate(planted)},
                    "checksum": json.loads((SHIPPED_WEIGHTS / "recipe.json").read_text())[
                        "unet_file_sha256"
                    ],
                },
            )
            contributors = [
                _ensure_contributor(index, member) for index, member in enumerate(planted)
            ]
        self.stdout.write(f"{len(contributors)} contributors with accepted data groups.")
        if options["no_round"]:
            return
        round = run_demo_round(
            "Digits demo: label fidelity",
            version=version,
            metric="label_fidelity",
            contributors=contributors,
            staff=staff,
            budget=options["budget"],
            n_samples=options["samples"],
            announce=self.stdout.write,
        )
        self.stdout.write(f"Round {round.pk}: {round.status}. {round.error}")
        if round.status == ValuationRound.Status.SUCCEEDED:
            batch = create_payouts(round.pk, user=staff)
            self.stdout.write(f"Payout batch {batch.pk}: {batch.currency} {batch.pool}.")
        self.stdout.write(
            f"Logins: {ADMIN_USERNAME} / {DEMO_PASSWORD} (staff); c00-clean … c19-mixed / "
            f"{DEMO_PASSWORD} (contributors)."
        )


def _ensure_contributor(index: int, member: Any) -> Contributor:
    contributor, created = Contributor.objects.get_or_create(
        key=member.key,
        defaults={"name": f"Contributor {index:02d} ({ROLE_NAMES[member.role]})"},
    )
    user = ensure_user(member.key, User.Role.CONTRIBUTOR)
    if user.contributor_id != contributor.pk:
        user.contributor = contributor
        user.save(update_fields=["contributor"])
    if created:
        files = [
            (f"{member.key}-{row:03d}.png", grey_png(pixels[0]))
            for row, pixels in enumerate(member.images)
        ]
        labels = {
            name: str(int(label)) for (name, _), label in zip(files, member.labels, strict=True)
        }
        group = create_data_group(
            contributor,
            title=f"{member.role.replace('_', ' ')} digits",
            consent=True,
            files=files,
            labels=labels,
        )
        DataGroup.objects.filter(pk=group.pk).update(
            status=DataGroup.Status.ACCEPTED, decided_at=timezone.now()
        )
    return contributor
