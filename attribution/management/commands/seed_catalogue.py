"""``manage.py seed_catalogue``: the fashion catalogue marketplace, seeded and audited end to end.

Through the product's own paths: one contributor user per shop, each shop's captioned photos
uploaded with ``create_data_group`` (the upload validator) and accepted, the shipped tiny Stable
Diffusion pipeline and CLIP registered with ``register_model_version`` (the registration checks),
then a product-diversity round (``clip_diversity``, paid out) and an ``artefact_free`` audit run
in-process. The planted checks are printed as PASS or FAIL; a FAIL is printed, never hidden, and
the command still succeeds (the demo reports what it finds). The mislabelled and degraded shops,
which neither round can see (samples come from captions, not photos), get N/A lines with their
values. Rerunning it changes nothing.

``--shops N`` seeds the planted shops and the first clean ones up to N shops (a fast version).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
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
from attribution.model_registration import register_model_version
from attribution.models import ContributorValue, ValuationRound
from attribution.rounds.services import create_payouts
from marketplace.models import Contributor, DataGroup, ModelVersion, User
from marketplace.services import create_data_group

MODEL_NAME = "Fashion catalogue model"
ROLE_NAMES = {
    "clean": "a shop",
    "logo": "stamps its logo on every photo",
    "duplicate": "copies another shop's catalogue",
    "mislabelled": "names the wrong product types",
    "degraded": "uploads damaged photos",
}
NOT_VISIBLE = ("mislabelled", "degraded")
"""Planted roles no demo round can see, reported as N/A lines with their values."""
ROUNDS = (
    ("clip_diversity", "Fashion catalogue: product diversity"),
    ("artefact_free", "Fashion catalogue: logo audit"),
)


class Command(BaseCommand):
    help = "Seed the 100-shop fashion catalogue, run a diversity round and a logo audit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shops", type=int, default=100, help="shops to seed (planted first)")
        parser.add_argument("--samples", type=int, default=32, help="bank size per shop")
        parser.add_argument("--budget", type=int, default=2048, help="surrogate coalitions")
        parser.add_argument("--steps", type=int, default=10, help="sampling steps")
        parser.add_argument("--weights", default="", help="trained catalogue models directory")
        parser.add_argument("--data", default="", help="Fashion-MNIST directory")
        parser.add_argument("--no-round", action="store_true", help="seed data only")

    def handle(self, *args: Any, **options: Any) -> None:
        from attribution.engine.demos.catalogue.shops import make_catalogue, select_shops
        from attribution.engine.demos.catalogue.training import (
            SHIPPED_WEIGHTS,
            load_catalogue_models,
        )
        from attribution.engine.demos.fashion.data import DEFAULT_DIRECTORY, load_fashion_mnist

        models = load_catalogue_models(Path(options["weights"] or SHIPPED_WEIGHTS))
        images, labels = load_fashion_mnist(Path(options["data"] or DEFAULT_DIRECTORY))
        shops = select_shops(make_catalogue(images, labels), options["shops"])
        staff = ensure_user(ADMIN_USERNAME, User.Role.STAFF, superuser=True)
        contributors = [_ensure_shop(shop) for shop in shops]
        self.stdout.write(f"{len(contributors)} shops with accepted, captioned data groups.")
        version = _ensure_model_version(models, options["steps"])
        if options["no_round"]:
            return
        results = {}
        for metric, title in ROUNDS:
            round = self._run_round(metric, title, version, contributors, staff, options)
            if round.status != ValuationRound.Status.SUCCEEDED:
                self.stdout.write(f"FAIL  {metric} round {round.pk} {round.status}: {round.error}")
                continue
            results[metric] = {
                value.contributor.key: value.value
                for value in ContributorValue.objects.filter(round=round).select_related(
                    "contributor"
                )
            }
        self.stdout.write(planted_report(shops, results))
        self.stdout.write(
            f"Logins: {ADMIN_USERNAME} / {DEMO_PASSWORD} (staff); shop keys, e.g. "
            f"{shops[0].key}, / {DEMO_PASSWORD} (contributors)."
        )

    def _run_round(
        self,
        metric: str,
        title: str,
        version: ModelVersion,
        contributors: list[Contributor],
        staff: User,
        options: dict[str, Any],
    ) -> ValuationRound:
        round = run_demo_round(
            title,
            version=version,
            metric=metric,
            contributors=contributors,
            staff=staff,
            budget=options["budget"],
            n_samples=options["samples"],
            announce=self.stdout.write,
        )
        self.stdout.write(f"Round {round.pk} ({metric}): {round.status}. {round.error}")
        if round.status == ValuationRound.Status.SUCCEEDED and metric == "clip_diversity":
            batch = create_payouts(round.pk, user=staff)
            self.stdout.write(f"Payout batch {batch.pk}: {batch.currency} {batch.pool}.")
        return round


def planted_report(shops: list[Any], results: dict[str, dict[str, float]]) -> str:
    """The planted checks as PASS/FAIL lines (a check whose round failed is a FAIL)."""
    from attribution.engine.demos.catalogue.checks import (
        PlantedCheck,
        diversity_follows_breadth,
        duplicate_matches_original,
        format_checks,
        logo_shops_lowest,
        not_visible,
    )

    checks = []
    for metric, _ in ROUNDS:
        values = results.get(metric)
        if values is None:
            checks.append(PlantedCheck(f"{metric} round", False, "the round did not succeed"))
            continue
        # The digits demo's rule: the gap is within 15% of the largest |value| of the round.
        spread = float(np.abs(list(values.values())).max())
        checks.append(duplicate_matches_original(shops, values, 0.15 * spread, metric))
        if metric == "artefact_free":
            checks.append(logo_shops_lowest(shops, values))
        else:
            checks.append(diversity_follows_breadth(shops, values))
            roles = {shop.role for shop in shops}
            checks += [not_visible(shops, values, r, metric) for r in NOT_VISIBLE if r in roles]
    tested = [check for check in checks if check.passed is not None]
    held = sum(bool(check.passed) for check in tested)
    return f"{format_checks(checks)}\n{held} of {len(tested)} planted expectations hold."


def _ensure_model_version(models: Any, steps: int) -> ModelVersion:
    from attribution.engine.demos.catalogue.shops import type_prompts
    from attribution.engine.demos.catalogue.training import (
        ARTEFACT_PROMPTS,
        CLEAN_PROMPTS,
        GUIDANCE_SCALE,
    )

    existing = ModelVersion.objects.filter(name=MODEL_NAME).first()
    if existing is not None:
        return existing
    return register_model_version(
        ModelVersion(
            name=MODEL_NAME,
            kind=ModelVersion.Kind.TEXT_TO_IMAGE,
            path=str(models.pipeline),
            conditions=ModelVersion.Conditions.PROMPT,
            n_steps=steps,
            guidance_scale=GUIDANCE_SCALE,
            clip_path=str(models.clip),
            class_prompts=list(type_prompts()),
            artefact_prompts=list(ARTEFACT_PROMPTS),
            clean_prompts=list(CLEAN_PROMPTS),
        )
    )


def shop_name(shop: Any) -> str:
    """The shop's display name, numbered as its key is: ``shop07-logo`` → ``Shop 07 (...)``."""
    number = shop.key.split("-", 1)[0].removeprefix("shop")
    return f"Shop {number} ({ROLE_NAMES[shop.role]})"


def _ensure_shop(shop: Any) -> Contributor:
    with transaction.atomic():
        contributor, created = Contributor.objects.get_or_create(
            key=shop.key, defaults={"name": shop_name(shop)}
        )
        user = ensure_user(shop.key, User.Role.CONTRIBUTOR)
        if user.contributor_id != contributor.pk:
            user.contributor = contributor
            user.save(update_fields=["contributor"])
        if not created:
            return contributor
        files, captions, seen = [], {}, set()
        for row, (pixels, text) in enumerate(zip(shop.images, shop.captions, strict=True)):
            content = grey_png(pixels[0])
            digest = hashlib.sha256(content).digest()
            if digest in seen:  # Fashion-MNIST repeats a few photos; one upload holds each once
                continue
            seen.add(digest)
            name = f"{shop.key}-{row:03d}.png"
            files.append((name, content))
            captions[name] = text
        group = create_data_group(
            contributor, title=f"{shop.key} catalogue", consent=True, files=files, captions=captions
        )
        DataGroup.objects.filter(pk=group.pk).update(
            status=DataGroup.Status.ACCEPTED, decided_at=timezone.now()
        )
    return contributor
