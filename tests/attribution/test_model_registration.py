"""Registering a text-to-image model version (command, API, admin form) and valuing it.

Tiny random-weight models are built from config in the test: a Stable Diffusion pipeline, a
LoRA for it, a CLIP directory, a TorchScript "Inception", an aesthetic head and reference
statistics. Nothing is downloaded.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from django.core.management import call_command
from rest_framework.test import APIClient
from safetensors.torch import save_file

from attribution.engine.features import ClipFeaturizer
from attribution.engine.metrics import ReferenceStatistics, save_reference_statistics
from attribution.engine.metrics.catalog import METRICS
from attribution.model_registration import RegistrationError, register_model_version
from attribution.models import ValuationRound
from attribution.rounds.config import freeze_config
from attribution.rounds.runner import run_engine
from marketplace.models import ModelVersion, User
from tests.attribution.factories import (
    make_contributor,
    make_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)
from tests.engine.features.tiny_models import save_tiny_clip, save_tiny_inception
from tests.engine.tiny_diffusers import save_tiny_flux, save_tiny_lora, save_tiny_stable_diffusion

pytestmark = pytest.mark.django_db

CAPTIONS = {
    "ana": ("a red shirt", "a blue shirt"),
    "ben": ("a black shoe", "a white shoe", "a brown shoe"),
    "cy": ("a green hat",),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny model files, built once for the module."""
    root = tmp_path_factory.mktemp("models")
    sd = save_tiny_stable_diffusion(root / "sd")
    lora = save_tiny_lora(root / "lora", root / "lora-tokenizer")
    clip = save_tiny_clip(root / "clip")
    width = ClipFeaturizer(clip).embedding_width
    head = root / "head.safetensors"
    torch.manual_seed(0)
    save_file({"weight": torch.randn(1, width), "bias": torch.zeros(1)}, str(head))
    wrong_head = root / "wrong-head.safetensors"
    save_file({"weight": torch.randn(1, width + 3), "bias": torch.zeros(1)}, str(wrong_head))
    inception = save_tiny_inception(root / "inception.pt")
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(64, width))
    stats = save_reference_statistics(
        root / "reference.npz",
        ReferenceStatistics(rows.mean(axis=0), np.cov(rows, rowvar=False), len(rows)),
    )
    flux_lora_home = save_tiny_flux(root / "flux")
    return {
        "sd": sd,
        "lora": lora,
        "clip": clip,
        "head": head,
        "wrong_head": wrong_head,
        "inception": inception,
        "stats": stats,
        "flux": flux_lora_home,
    }


def registration(files: dict[str, Path], **fields: Any) -> ModelVersion:
    values: dict[str, Any] = {
        "name": "sd-lora",
        "kind": "text_to_image",
        "conditions": "prompt",
        "path": str(files["sd"]),
        "lora_path": str(files["lora"]),
        "n_steps": 2,
        "guidance_scale": 2.0,
        "clip_path": str(files["clip"]),
        "aesthetic_head_path": str(files["head"]),
        "reference_stats_path": str(files["stats"]),
        "class_prompts": ["a shirt", "a shoe", "a hat"],
        "artefact_prompts": ["a photo with a logo"],
        "clean_prompts": ["a photo"],
        **fields,
    }
    return ModelVersion(**values)


def run_command(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("register_model_version", *args, stdout=out, stderr=err)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


# --- validation --------------------------------------------------------------------------------


def test_a_complete_registration_saves_the_version_with_checksums(files: dict[str, Path]) -> None:
    version = register_model_version(registration(files))

    assert version.pk is not None
    assert set(version.checksums) >= {str(files["sd"]), str(files["lora"]), str(files["head"])}
    assert version.checksum == version.checksums[str(files["sd"])]


def test_every_problem_is_listed_and_nothing_is_saved(
    files: dict[str, Path], tmp_path: Path
) -> None:
    bad = registration(
        files,
        path=str(tmp_path / "missing"),
        aesthetic_head_path=str(files["wrong_head"]),
        reference_dir=str(tmp_path),
    )

    with pytest.raises(RegistrationError) as refused:
        register_model_version(bad)

    problems = refused.value.problems
    assert any("does not exist" in p and "missing" in p for p in problems)
    assert any("aesthetic head" in p for p in problems)
    assert any("one reference set" in p for p in problems)
    assert not ModelVersion.objects.exists()


def test_a_lora_that_does_not_fit_the_pipeline_is_refused(files: dict[str, Path]) -> None:
    with pytest.raises(RegistrationError, match="matches no layer of this FluxPipeline"):
        register_model_version(registration(files, path=str(files["flux"])))


def test_an_unsupported_pipeline_class_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text('{"_class_name": "AudioLDMPipeline"}')

    with pytest.raises(RegistrationError, match="AudioLDMPipeline pipeline; supported"):
        register_model_version(registration(files, path=str(tmp_path), lora_path=""))


# --- the command -------------------------------------------------------------------------------


def test_the_command_prints_the_new_id(files: dict[str, Path], tmp_path: Path) -> None:
    prompts = tmp_path / "classes.txt"
    prompts.write_text("a shirt\na shoe\n\n")

    code, out, err = run_command(
        "--name", "sd", "--kind", "text_to_image", "--path", str(files["sd"]),
        "--clip", str(files["clip"]), "--aesthetic-head", str(files["head"]),
        "--class-prompts", str(prompts),
    )  # fmt: skip

    assert (code, err) == (0, "")
    version = ModelVersion.objects.get(pk=int(out))
    assert version.class_prompts == ["a shirt", "a shoe"]


def test_the_command_prints_one_line_per_problem_and_exits_2(
    files: dict[str, Path], tmp_path: Path
) -> None:
    code, out, err = run_command(
        "--name", "sd", "--kind", "text_to_image", "--path", str(tmp_path / "nope"),
        "--clip", str(files["clip"]), "--aesthetic-head", str(files["wrong_head"]),
    )  # fmt: skip

    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("error: ") for line in lines)
    assert not ModelVersion.objects.exists()


# --- the API -----------------------------------------------------------------------------------


def staff_client() -> APIClient:
    client = APIClient()
    client.force_login(User.objects.create_user("ops", role=User.Role.STAFF))
    return client


def test_staff_register_through_the_api_and_see_the_metrics_offered(
    files: dict[str, Path],
) -> None:
    body = {
        "name": "sd-api",
        "kind": "text_to_image",
        "path": str(files["sd"]),
        "clip_path": str(files["clip"]),
        "aesthetic_head_path": str(files["head"]),
        "class_prompts": ["a shirt", "a shoe"],
    }
    client = staff_client()

    created = client.post("/api/v1/model-versions/", body, format="json")

    assert created.status_code == 201, created.content
    names = [metric["name"] for metric in created.json()["metrics"]]
    assert names == ["aesthetic", "clip_diversity", "prompt_fidelity"]
    shown = client.get(f"/api/v1/model-versions/{created.json()['id']}/").json()
    assert shown["metrics"] == created.json()["metrics"]
    assert "path" not in shown


def test_the_api_lists_every_problem_and_refuses_non_staff(
    files: dict[str, Path], tmp_path: Path
) -> None:
    body = {"name": "x", "kind": "text_to_image", "path": str(tmp_path / "gone")}
    refused = staff_client().post("/api/v1/model-versions/", body, format="json")
    partner = APIClient()
    partner.force_login(User.objects.create_user("p", role=User.Role.PARTNER))

    assert refused.status_code == 400
    assert any("does not exist" in p for p in refused.json()["problems"])
    assert partner.post("/api/v1/model-versions/", body, format="json").status_code == 403


# --- rounds ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_text_to_image_round_runs_on_every_metric(
    files: dict[str, Path], settings: Any, tmp_path: Path
) -> None:
    settings.ENGINE_CACHE_DIR = tmp_path / "cache"
    version = register_model_version(registration(files, inception_path=str(files["inception"])))
    contributors = [
        make_contributor(key, labels=("",) * len(captions), captions=captions)
        for key, captions in CAPTIONS.items()
    ]
    offered = [metric for metric in METRICS if metric in _offered(version)]
    assert offered == [
        "inception_score",
        "neg_fid",
        "aesthetic",
        "clip_diversity",
        "prompt_fidelity",
        "artefact_free",
    ]
    for metric in offered:
        round = make_round(
            tuple(CAPTIONS), version=version, contributors=contributors, metric=metric,
            estimator="exact", n_samples=4, seed=3,
        )  # fmt: skip

        outcome = run_engine(freeze_config(round), lambda *_: None)

        assert set(outcome.values) == set(CAPTIONS)
        assert all(math.isfinite(v) for v in outcome.values.values()), metric
        total = outcome.grand_value - outcome.baseline
        assert math.fsum(outcome.values.values()) == pytest.approx(total, abs=1e-9), metric
        ValuationRound.objects.filter(pk=round.pk).delete()


def _offered(version: ModelVersion) -> list[str]:
    from attribution.api.model_versions import offered_metrics

    return [metric["name"] for metric in offered_metrics(version)]


@pytest.mark.slow
def test_a_flux_version_registers_and_values_its_contributors(
    files: dict[str, Path], settings: Any, tmp_path: Path
) -> None:
    settings.ENGINE_CACHE_DIR = tmp_path / "cache"
    version = register_model_version(
        registration(files, name="flux", path=str(files["flux"]), lora_path="")
    )
    contributors = [
        make_contributor(key, labels=("",) * len(captions), captions=captions)
        for key, captions in CAPTIONS.items()
    ]
    round = make_round(
        tuple(CAPTIONS), version=version, contributors=contributors, metric="prompt_fidelity",
        estimator="exact", n_samples=2, seed=1,
    )  # fmt: skip

    outcome = run_engine(freeze_config(round), lambda *_: None)

    total = outcome.grand_value - outcome.baseline
    assert math.fsum(outcome.values.values()) == pytest.approx(total, abs=1e-9)
    assert outcome.diagnostics.timings["generate"] > 0


def test_the_admin_page_of_a_version_lists_its_metrics(files: dict[str, Path]) -> None:
    from django.test import Client

    version = register_model_version(registration(files, lora_path=""))
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw"))

    page = client.get(f"/admin/marketplace/modelversion/{version.pk}/change/").content.decode()

    assert "Metrics its rounds can use" in page
    assert "Aesthetic score" in page
    assert "Prompt fidelity" in page
