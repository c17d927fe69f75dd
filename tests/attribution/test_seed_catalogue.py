"""seed_catalogue with the shipped catalogue models: uploads, registration, two rounds, checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import torch
from django.core.management import call_command

from attribution.engine.demos.catalogue.shops import make_catalogue, select_shops
from attribution.engine.demos.fashion.data import DEFAULT_DIRECTORY, load_fashion_mnist
from attribution.models import ContributorValue, ValuationRound
from marketplace.models import Contributor, DataRecord, ModelVersion, Payout

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.skipif(not DEFAULT_DIRECTORY.is_dir(), reason="needs dataset-fashion-mnist"),
]


def test_select_shops_keeps_every_planted_shop_and_the_duplicates_original() -> None:
    shops = make_catalogue(*load_fashion_mnist())
    chosen = select_shops(shops, 12)
    assert len(chosen) == 12
    planted = [shop for shop in shops if shop.role != "clean"]
    assert {shop.key for shop in planted} <= {shop.key for shop in chosen}
    (duplicate,) = [shop for shop in shops if shop.role == "duplicate"]
    assert duplicate.duplicate_of in {shop.key for shop in chosen}


def test_seed_catalogue_runs_both_rounds_and_prints_every_check(
    settings: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.set_num_threads(1)
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]
    settings.ENGINE_CACHE_DIR = tmp_path / "cache"  # type: ignore[attr-defined]
    options = [
        "--shops",
        "12",
        "--samples",
        "8",
        "--budget",
        "64",
        "--steps",
        "4",
    ]
    call_command("seed_catalogue", *options)
    version = ModelVersion.objects.get()
    assert version.kind == ModelVersion.Kind.TEXT_TO_IMAGE
    assert version.checksums  # registered through the registration path
    assert Contributor.objects.count() == 12
    for contributor in Contributor.objects.all():  # "Shop 07 (...)" for shop07-...
        assert contributor.name.startswith(f"Shop {contributor.key[4:6]} ("), contributor.name
    assert DataRecord.objects.exclude(caption="").count() == DataRecord.objects.count() > 0
    for metric in ("clip_diversity", "artefact_free"):
        round = ValuationRound.objects.get(metric=metric)
        assert round.status == ValuationRound.Status.SUCCEEDED, round.error
        values = ContributorValue.objects.filter(round=round)
        assert values.count() == 12
        total = sum(value.value for value in values)
        assert total == pytest.approx(round.grand_value - round.baseline, rel=1e-6, abs=1e-9)
    assert sum(p.amount for p in Payout.objects.all()) == Decimal("10000.00")
    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if line[:4] in ("PASS", "FAIL")]
    assert len(lines) == 4
    not_visible = [line for line in printed.splitlines() if line.startswith("N/A")]
    assert [line.split(":")[1].strip() for line in not_visible] == [
        "the mislabelled shops",
        "the degraded shops",
    ]
    assert "planted expectations hold" in printed

    records = DataRecord.objects.count()
    call_command("seed_catalogue", *options)  # a rerun changes nothing
    assert ValuationRound.objects.count() == 2
    assert DataRecord.objects.count() == records
