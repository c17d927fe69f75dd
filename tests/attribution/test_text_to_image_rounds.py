"""A text-to-image marketplace end to end, through URLs, on tiny random-weight models.

Staff register a Stable Diffusion + LoRA model version through the API; three contributors
upload captioned zips through the upload page; staff accept them in the admin, then create and
start a round on every metric the version offers, through the API. Each round succeeds, its
values add up to v(N) − v(∅), payouts (for payout metrics) add up to the pool, and each
contributor's statement names the metric. Then a class-conditional UNet version conditioned on
the records' labels.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from rest_framework.test import APIClient
from safetensors.torch import save_file

from attribution.engine.features import ClipFeaturizer
from attribution.engine.generation import ClassConditionalBackend
from attribution.engine.metrics.catalog import METRICS
from attribution.models import ContributorValue, ValuationRound
from marketplace.models import Contributor, DataGroup, Payout, User
from tests.attribution.factories import make_contributor, make_round, tmp_media  # noqa: F401
from tests.engine.features.tiny_models import save_tiny_clip, save_tiny_inception
from tests.engine.tiny_diffusers import (
    make_tiny_class_unet,
    make_tiny_scheduler,
    save_tiny_lora,
    save_tiny_stable_diffusion,
)
from tests.marketplace.uploads.upload_corpus import png, zip_archive

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SHOPS = {
    "ana": ["a red shirt", "a blue shirt", "a green shirt"],
    "ben": ["a black shoe", "a white shoe"],
    "cy": ["a straw hat", "a wool hat", "a red hat"],
}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("t2i-models")
    clip = save_tiny_clip(root / "clip")
    torch.manual_seed(1)
    head = root / "head.safetensors"
    width = ClipFeaturizer(clip).embedding_width
    save_file({"weight": torch.randn(1, width), "bias": torch.zeros(1)}, str(head))
    unet_dir = root / "unet-model"
    backend = ClassConditionalBackend(make_tiny_class_unet(), make_tiny_scheduler(), n_steps=2)
    backend.save_pretrained(unet_dir)
    return {
        "sd": save_tiny_stable_diffusion(root / "sd"),
        "lora": save_tiny_lora(root / "lora", root / "lora-tokenizer"),
        "clip": clip,
        "head": head,
        "inception": save_tiny_inception(root / "inception.pt"),
        "unet": unet_dir,
    }


@pytest.fixture(autouse=True)
def engine_cache(settings: Settings, tmp_path: Path) -> None:
    settings.ENGINE_CACHE_DIR = tmp_path / "cache"
    settings.API_THROTTLE_USER = "10000/minute"


def upload_captioned_zip(key: str, captions: list[str], seed: int) -> None:
    contributor = Contributor.objects.create(key=key, name=key.title())
    user = User.objects.create_user(f"{key}-user", password="pw", contributor=contributor)
    client = Client()
    client.force_login(user)
    names = [f"{key}-{index}.png" for index in range(len(captions))]
    table = "file,caption\n" + "".join(f"{n},{c}\n" for n, c in zip(names, captions, strict=True))
    archive = zip_archive(
        [
            *((name, png(seed + index)) for index, name in enumerate(names)),
            ("captions.csv", table.encode()),
        ]
    )
    response = client.post(
        reverse("upload-data-group"),
        {
            "title": f"{key} catalogue",
            "archive": SimpleUploadedFile("catalogue.zip", archive, "application/zip"),
            "consent": "on",
        },
    )
    assert response.status_code in (200, 302), response.content[:500]
    assert DataGroup.objects.filter(contributor=contributor).count() == 1


def accept_everything(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    groups = list(DataGroup.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:marketplace_datagroup_changelist"),
        {"action": "accept", "_selected_action": groups},
    )
    assert response.status_code == 302
    assert set(DataGroup.objects.values_list("status", flat=True)) == {DataGroup.Status.ACCEPTED}


def test_a_text_to_image_marketplace_runs_a_round_on_every_metric(
    model_files: dict[str, Path], django_capture_on_commit_callbacks: Any
) -> None:
    staff = User.objects.create_superuser("ops", password="pw", role=User.Role.STAFF)
    api = APIClient()
    api.force_login(staff)
    registered = api.post(
        "/api/v1/model-versions/",
        {
            "name": "sd-lora",
            "kind": "text_to_image",
            "path": str(model_files["sd"]),
            "lora_path": str(model_files["lora"]),
            "n_steps": 2,
            "guidance_scale": 2.0,
            "clip_path": str(model_files["clip"]),
            "inception_path": str(model_files["inception"]),
            "aesthetic_head_path": str(model_files["head"]),
            "class_prompts": ["a shirt", "a shoe", "a hat"],
            "artefact_prompts": ["a photo with a logo"],
            "clean_prompts": ["a photo"],
        },
        format="json",
    )
    assert registered.status_code == 201, registered.content
    version_id = registered.json()["id"]
    offered = [metric["name"] for metric in registered.json()["metrics"]]
    assert set(offered) == {
        "aesthetic",
        "clip_diversity",
        "prompt_fidelity",
        "inception_score",
        "artefact_free",
    }  # no reference set: no Fréchet distance
    for seed, (key, captions) in enumerate(SHOPS.items()):
        upload_captioned_zip(key, captions, 10 * seed)
    accept_everything(staff)

    for metric in offered:
        created = api.post(
            "/api/v1/rounds/",
            {
                "title": f"Round on {metric}",
                "model_version": version_id,
                "contributors": list(SHOPS),
                "metric": metric,
                "estimator": "exact",
                "n_samples": 3,
                "seed": 4,
                "pool": "100.00",
                "currency": "EUR",
            },
            format="json",
        )
        assert created.status_code == 201, created.content
        round_id = created.json()["id"]
        with django_capture_on_commit_callbacks(execute=True):  # the queued task runs (eager)
            assert api.post(f"/api/v1/rounds/{round_id}/start/").status_code == 202
        round = ValuationRound.objects.get(pk=round_id)
        assert round.status == ValuationRound.Status.SUCCEEDED, round.error
        values = list(ContributorValue.objects.filter(round=round).values_list("value", flat=True))
        assert len(values) == len(SHOPS)
        assert math.fsum(values) == pytest.approx(round.grand_value - round.baseline, abs=1e-9)
        check_payouts(staff, round, metric)
        check_statement(round, metric)


def check_payouts(staff: User, round: ValuationRound, metric: str) -> None:
    client = Client()
    client.force_login(staff)
    client.post(
        reverse("admin:attribution_valuationround_changelist"),
        {"action": "create_payouts", "_selected_action": [round.pk]},
    )
    round.refresh_from_db()
    if METRICS[metric].purpose == "audit" or round.grand_value - round.baseline <= 0:
        assert round.payout_batch is None  # audits and no-gain rounds are never paid
        return
    assert round.payout_batch is not None
    amounts = Payout.objects.filter(batch=round.payout_batch).values_list("amount", flat=True)
    assert sum(amounts, Decimal(0)) == Decimal("100.00")


def check_statement(round: ValuationRound, metric: str) -> None:
    client = Client()
    client.force_login(User.objects.get(username="ana-user"))
    page = client.get(reverse("statement", args=[round.pk])).content.decode()
    assert METRICS[metric].label in page
    assert METRICS[metric].explanation[:60] in page


def test_a_class_conditional_version_with_record_labels_runs(
    model_files: dict[str, Path], django_capture_on_commit_callbacks: Any
) -> None:
    staff = User.objects.create_superuser("ops", password="pw", role=User.Role.STAFF)
    api = APIClient()
    api.force_login(staff)
    registered = api.post(
        "/api/v1/model-versions/",
        {
            "name": "cifar-like",
            "kind": "class_conditional",
            "path": str(model_files["unet"]),
            "conditions": "label",
            "n_steps": 2,
            "inception_path": str(model_files["inception"]),
            "clip_path": str(model_files["clip"]),
            "class_prompts": ["a plane", "a car", "a bird"],
        },
        format="json",
    )
    assert registered.status_code == 201, registered.content
    offered = {metric["name"] for metric in registered.json()["metrics"]}
    assert offered == {"clip_diversity", "inception_score"}
    contributors = [
        make_contributor("dora", labels=("0", "1")),
        make_contributor("emil", labels=("2", "2", "1")),
        make_contributor("finn", labels=("0",)),
    ]
    for metric in sorted(offered):
        round = make_round(
            ("dora", "emil", "finn"),
            version=_version(registered.json()["id"]),
            contributors=contributors,
            metric=metric,
            estimator="exact",
            n_samples=3,
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert api.post(f"/api/v1/rounds/{round.pk}/start/").status_code == 202
        round.refresh_from_db()
        assert round.status == ValuationRound.Status.SUCCEEDED, round.error
        total = round.grand_value - round.baseline
        values = ContributorValue.objects.filter(round=round).values_list("value", flat=True)
        assert math.fsum(values) == pytest.approx(total, abs=1e-9)


def _version(pk: int) -> Any:
    from marketplace.models import ModelVersion

    return ModelVersion.objects.get(pk=pk)
