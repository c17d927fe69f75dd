"""seed_demo with the real tiny engine: the digits marketplace valued end to end, idempotently."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import torch
from django.core.management import call_command

from attribution.models import ContributorValue, ValuationRound
from marketplace.models import Contributor, DataRecord, Payout

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_seed_demo_values_every_contributor_and_pays_the_pool_exactly(
    settings: pytest.FixtureRequest, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]
    settings.ENGINE_CACHE_DIR = tmp_path / "cache"  # type: ignore[attr-defined]
    call_command("seed_demo", "--samples", "16", "--budget", "128")
    round = ValuationRound.objects.get()
    assert round.status == ValuationRound.Status.SUCCEEDED, round.error
    values = ContributorValue.objects.filter(round=round)
    assert values.count() == Contributor.objects.count() == 20
    total = sum(value.value for value in values)
    assert total == pytest.approx(round.grand_value - round.baseline, rel=1e-9)
    assert sum(p.amount for p in Payout.objects.all()) == Decimal("10000.00")
    noisy = values.filter(contributor__key__contains="noisy").values_list("rank", flat=True)
    assert min(noisy) > 10  # label fidelity puts the mislabelled contributors in the lower half

    records = DataRecord.objects.count()
    call_command("seed_demo", "--samples", "16", "--budget", "128")  # a rerun changes nothing
    assert ValuationRound.objects.count() == 1
    assert DataRecord.objects.count() == records
    assert Payout.objects.count() == 20
