"""What the demo seeding commands (``seed_demo``, ``seed_catalogue``) share: the demo logins,
users, grey PNG records and running one demo round in-process, idempotently."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from decimal import Decimal

import numpy as np
from PIL import Image

from attribution.models import ValuationRound
from attribution.rounds.execution import execute_round
from attribution.rounds.services import start_round
from marketplace.models import Contributor, ModelVersion, User

DEMO_PASSWORD = "demo-password"
ADMIN_USERNAME = "admin"
DEMO_POOL = Decimal("10000.00")


def ensure_user(username: str, role: str, *, superuser: bool = False) -> User:
    """The demo user ``username`` (created with the demo password if missing)."""
    user, created = User.objects.get_or_create(
        username=username, defaults={"role": role, "is_staff": superuser, "is_superuser": superuser}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


def grey_png(pixels: np.ndarray) -> bytes:
    """A grey image in [0, 1] as PNG bytes (a demo record)."""
    buffer = io.BytesIO()
    Image.fromarray(np.rint(pixels * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def run_demo_round(
    title: str,
    *,
    version: ModelVersion,
    metric: str,
    contributors: Sequence[Contributor],
    staff: User,
    budget: int,
    n_samples: int,
    announce: Callable[[str], None],
) -> ValuationRound:
    """The round called ``title``, created, started and run in this process unless it already
    ran (a rerun finds it and changes nothing); returned as it ended."""
    round, created = ValuationRound.objects.get_or_create(
        title=title,
        defaults={
            "model_version": version,
            "metric": metric,
            "budget": budget,
            "n_samples": n_samples,
            "pool": DEMO_POOL,
            "currency": "EUR",
            "created_by": staff,
        },
    )
    if created:
        round.contributors.set(contributors)
    if round.status == ValuationRound.Status.DRAFT:
        start_round(round.pk, user=staff, enqueue=False)
    if round.status in (ValuationRound.Status.DRAFT, ValuationRound.Status.QUEUED):
        announce(f"Running the {metric} round over {len(contributors)} contributors...")
        execute_round(round.pk)
    round.refresh_from_db()
    return round
