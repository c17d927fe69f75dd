"""Sample banks from tiny random-weight diffusers models built from config (CPU, offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler, FluxPipeline, StableDiffusionPipeline, UNet2DModel

from attribution.engine.errors import EngineInputError
from attribution.engine.generation import (
    ClassConditionalBackend,
    TextToImageBackend,
    contributor_seed,
    generate_bank,
)
from tests.engine.tiny_diffusers import (
    make_tiny_class_unet,
    make_tiny_scheduler,
    save_tiny_flux,
    save_tiny_lora,
    save_tiny_stable_diffusion,
)

STEPS = 5
NULL_LABEL = 3


def make_backend(unet_seed: int = 0, **options: Any) -> ClassConditionalBackend:
    options.setdefault("n_steps", STEPS)
    return ClassConditionalBackend(
        make_tiny_class_unet(unet_seed), make_tiny_scheduler(), **options
    )


@pytest.fixture(scope="module")
def sd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_stable_diffusion(tmp_path_factory.mktemp("sd") / "pipeline")


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lora")
    return save_tiny_lora(root / "lora", root / "tokenizer")


def load_sd(sd_dir: Path, **options: Any) -> TextToImageBackend:
    options = {"n_steps": 2, "height": 16, "width": 16, **options}
    return TextToImageBackend.from_pretrained(sd_dir, **options)


# --- contributor seeds -------------------------------------------------------------------------


def test_contributor_seed_is_a_stable_63_bit_seed_per_round_and_key() -> None:
    seed = contributor_seed(7, "alice")

    assert seed == contributor_seed(7, "alice")
    assert 0 <= seed < 2**63
    assert seed != contributor_seed(7, "bob")
    assert seed != contributor_seed(8, "alice")


def test_a_contributors_bank_does_not_depend_on_other_contributors() -> None:
    backend = make_backend()
    alone = generate_bank(backend, [0, 1], 4, round_seed=11, contributor_key="a")
    _ = generate_bank(backend, [2], 4, round_seed=11, contributor_key="b")
    again = generate_bank(backend, [0, 1], 4, round_seed=11, contributor_key="a")

    np.testing.assert_array_equal(alone, again)
    np.testing.assert_array_equal(alone, backend.generate([0, 1], 4, contributor_seed(11, "a")))


# --- class-conditional backend -----------------------------------------------------------------


def test_class_conditional_samples_are_float32_images_in_unit_range() -> None:
    images = make_backend().generate([0, 1, 2], n_samples=6, seed=1)

    assert images.shape == (6, 1, 8, 8)
    assert images.dtype == np.float32
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    assert images.std() > 0.0


def test_same_seed_gives_identical_samples_and_another_seed_different_ones() -> None:
    backend = make_backend()
    first = backend.generate([0, 1], 5, seed=3)

    np.testing.assert_array_equal(first, backend.generate([0, 1], 5, seed=3))
    assert np.abs(first - backend.generate([0, 1], 5, seed=4)).max() > 1e-3


@pytest.mark.parametrize("scheduler", ["ddim", "ddpm"])
def test_batch_size_does_not_change_the_samples(scheduler: str) -> None:
    # DDPM draws fresh noise every step: it must come from each sample's own generator too.
    def backend(batch_size: int) -> ClassConditionalBackend:
        sampler = make_tiny_scheduler() if scheduler == "ddim" else DDPMScheduler(50)
        return ClassConditionalBackend(
            make_tiny_class_unet(), sampler, n_steps=STEPS, batch_size=batch_size
        )

    small = backend(2).generate([0, 1, 2], 7, seed=5)
    large = backend(5).generate([0, 1, 2], 7, seed=5)

    np.testing.assert_allclose(small, large, atol=1e-5, rtol=0)


def test_first_samples_do_not_depend_on_how_many_are_drawn() -> None:
    backend = make_backend()

    few = backend.generate([0, 1, 2], 3, seed=9)
    many = backend.generate([0, 1, 2], 8, seed=9)

    np.testing.assert_allclose(few, many[:3], atol=1e-5, rtol=0)


def test_labels_come_from_the_contributors_conditions() -> None:
    backend = make_backend()

    only_one = backend.generate([1], 4, seed=2)
    repeated = backend.generate([1, 1, 1], 4, seed=2)
    other = backend.generate([2], 4, seed=2)

    np.testing.assert_array_equal(only_one, repeated)
    assert np.abs(only_one - other).max() > 1e-4


def test_guidance_runs_and_changes_the_samples() -> None:
    plain = make_backend().generate([0, 1], 4, seed=1)
    guided = make_backend(guidance_scale=3.0, null_label=NULL_LABEL).generate([0, 1], 4, seed=1)

    assert guided.shape == plain.shape
    assert 0.0 <= guided.min() <= guided.max() <= 1.0
    assert np.abs(guided - plain).max() > 1e-3


def test_guidance_zero_samples_the_unconditional_branch() -> None:
    # ε = ε_u + 0·(ε_c − ε_u) = ε_u: exactly sampling the null label without guidance.
    unconditional = make_backend(guidance_scale=0.0, null_label=NULL_LABEL).generate([0, 1], 4, 6)
    null_only = make_backend().generate([NULL_LABEL], 4, 6)

    np.testing.assert_allclose(unconditional, null_only, atol=1e-5, rtol=0)


def test_progress_is_reported_per_batch_and_ends_at_the_total() -> None:
    calls: list[tuple[str, int, int]] = []

    make_backend(batch_size=2).generate([0], 5, seed=0, progress=lambda *c: calls.append(c))

    assert calls[-1] == ("generate", 5, 5)
    assert [done for _, done, _ in calls] == [0, 2, 4, 5]


def test_save_and_load_round_trip_gives_identical_samples(tmp_path: Path) -> None:
    backend = make_backend()
    backend.save_pretrained(tmp_path / "model")

    loaded = ClassConditionalBackend.from_pretrained(tmp_path / "model", n_steps=STEPS)

    np.testing.assert_array_equal(backend.generate([0, 2], 3, 8), loaded.generate([0, 2], 3, 8))
    assert loaded.describe() == backend.describe()


def test_describe_is_json_and_changes_with_weights_and_sampling_options() -> None:
    description = make_backend().describe()

    assert json.loads(json.dumps(description)) == description
    assert description == make_backend().describe()
    assert description != make_backend(unet_seed=1).describe()
    assert description != make_backend(n_steps=STEPS + 1).describe()
    assert description != make_backend(guidance_scale=2.0, null_label=NULL_LABEL).describe()


def test_describe_sees_weights_changed_in_place() -> None:
    backend = make_backend()
    before = backend.describe()["unet_sha256"]

    with torch.no_grad():
        next(backend.unet.parameters()).add_(1e-3)

    assert backend.describe()["unet_sha256"] != before


def test_loading_a_missing_directory_or_part_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="does not exist"):
        ClassConditionalBackend.from_pretrained(tmp_path / "nowhere")

    make_backend().save_pretrained(tmp_path / "model")
    for file in (tmp_path / "model" / "scheduler").iterdir():
        file.unlink()
    (tmp_path / "model" / "scheduler").rmdir()
    with pytest.raises(EngineInputError, match="no scheduler/ folder"):
        ClassConditionalBackend.from_pretrained(tmp_path / "model")


def test_guidance_without_a_null_label_is_a_clear_error() -> None:
    with pytest.raises(EngineInputError, match="needs null_label"):
        make_backend(guidance_scale=3.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_requesting_cuda_without_it_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="CUDA requested but not available"):
        make_backend(device="cuda")
    with pytest.raises(EngineInputError, match="CUDA requested but not available"):
        ClassConditionalBackend.from_pretrained(tmp_path, device="cuda")


@pytest.mark.parametrize(
    ("conditions", "n_samples", "seed", "message"),
    [
        ([], 4, 0, "conditions is empty"),
        ([0], 0, 0, "n_samples must be an integer >= 1"),
        ([0], 4, -1, "seed must be in"),
        ([4], 4, 0, "outside the model's class labels"),
        (["0"], 4, 0, "integer class label"),
    ],
)
def test_bad_generate_arguments_are_clear_errors(
    conditions: list[Any], n_samples: int, seed: int, message: str
) -> None:
    with pytest.raises(EngineInputError, match=message):
        make_backend().generate(conditions, n_samples, seed)


def test_a_unet_without_class_embeddings_is_rejected() -> None:
    unet = UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    )

    with pytest.raises(EngineInputError, match="not class-conditional"):
        ClassConditionalBackend(unet, make_tiny_scheduler())


# --- text-to-image backend ---------------------------------------------------------------------


def test_stable_diffusion_samples_are_deterministic_images_in_unit_range(sd_dir: Path) -> None:
    backend = load_sd(sd_dir)
    prompts = ["a red cat", "a photo of a dog"]

    images = backend.generate(prompts, n_samples=2, seed=0)

    assert isinstance(backend.pipeline, StableDiffusionPipeline)
    assert images.shape == (2, 3, 16, 16)
    assert images.dtype == np.float32
    assert 0.0 <= images.min() <= images.max() <= 1.0
    np.testing.assert_array_equal(images, backend.generate(prompts, 2, seed=0))
    assert np.abs(images - backend.generate(prompts, 2, seed=1)).max() > 1e-3


def test_text_to_image_batch_size_does_not_change_the_samples(sd_dir: Path) -> None:
    prompts = ["a red cat", "a blue dog", "a digit"]

    one_by_one = load_sd(sd_dir, batch_size=1).generate(prompts, 3, seed=4)
    together = load_sd(sd_dir, batch_size=3).generate(prompts, 3, seed=4)

    np.testing.assert_allclose(one_by_one, together, atol=1e-5, rtol=0)


def test_text_to_image_progress_ends_at_the_total(sd_dir: Path) -> None:
    calls: list[tuple[str, int, int]] = []

    load_sd(sd_dir, batch_size=2).generate(["a cat"], 3, 0, progress=lambda *c: calls.append(c))

    assert calls[-1] == ("generate", 3, 3)


def test_a_lora_is_fused_and_changes_the_samples(sd_dir: Path, lora_dir: Path) -> None:
    base = load_sd(sd_dir)
    with_lora = load_sd(sd_dir, lora_path=lora_dir)

    plain = base.generate(["a red cat"], 2, seed=0)
    adapted = with_lora.generate(["a red cat"], 2, seed=0)

    assert np.abs(plain - adapted).max() > 1e-3
    description = with_lora.describe()
    assert description["source"]["lora_sha256"]
    assert description != base.describe()
    assert json.loads(json.dumps(description)) == description


def test_text_to_image_describe_is_json_and_tracks_sampling_options(sd_dir: Path) -> None:
    description = load_sd(sd_dir).describe()

    assert json.loads(json.dumps(description)) == description
    assert description["pipeline_class"] == "StableDiffusionPipeline"
    assert description == load_sd(sd_dir).describe()
    assert description != load_sd(sd_dir, guidance_scale=2.0).describe()


def test_missing_pipeline_or_lora_paths_are_clear_errors(sd_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="does not exist"):
        TextToImageBackend.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(EngineInputError, match="not a diffusers pipeline directory"):
        TextToImageBackend.from_pretrained(tmp_path)
    with pytest.raises(EngineInputError, match=r"LoRA path .* does not exist"):
        TextToImageBackend.from_pretrained(sd_dir, lora_path=tmp_path / "no-lora")


def test_a_broken_pipeline_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "unet": ["diffusers", "UNet2DConditionModel"],
            }
        )
    )

    with pytest.raises(EngineInputError, match=str(tmp_path)):
        TextToImageBackend.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("conditions", "n_samples", "message"),
    [([], 2, "conditions is empty"), (["a cat"], 0, "n_samples"), ([3], 2, "prompt strings")],
)
def test_bad_text_generate_arguments_are_clear_errors(
    sd_dir: Path, conditions: list[Any], n_samples: int, message: str
) -> None:
    with pytest.raises(EngineInputError, match=message):
        load_sd(sd_dir).generate(conditions, n_samples, seed=0)


def test_flux_pipelines_load_and_generate(tmp_path: Path) -> None:
    flux_dir = save_tiny_flux(tmp_path / "flux")
    backend = TextToImageBackend.from_pretrained(
        flux_dir, n_steps=2, height=16, width=16, guidance_scale=3.5
    )

    images = backend.generate(["a red cat", "a dog"], 2, seed=0)

    assert isinstance(backend.pipeline, FluxPipeline)
    assert images.shape == (2, 3, 16, 16)
    assert 0.0 <= images.min() <= images.max() <= 1.0
    np.testing.assert_array_equal(images, backend.generate(["a red cat", "a dog"], 2, seed=0))


# --- directory fingerprints ----------------------------------------------------------------------


def test_a_checkpoint_saved_over_another_of_the_same_size_changes_the_fingerprint(
    tmp_path: Path,
) -> None:
    from attribution.engine.generation import directory_fingerprint

    model = tmp_path / "model"
    (model / "unet").mkdir(parents=True)
    (model / "model_index.json").write_text('{"a": 1}')
    weights = model / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"\x00" * 64)
    before = directory_fingerprint(model)

    weights.write_bytes(b"\x01" * 64)  # retrained: same names, same size, other bytes

    assert directory_fingerprint(model) != before


def test_copies_of_the_same_checkpoint_share_a_fingerprint(tmp_path: Path) -> None:
    import os

    from attribution.engine.generation import directory_fingerprint

    for name, mtime in (("first", 1_000_000_000), ("second", 2_000_000_000)):
        (tmp_path / name / "unet").mkdir(parents=True)
        (tmp_path / name / "model_index.json").write_text('{"a": 1}')
        weights = tmp_path / name / "unet" / "w.safetensors"
        weights.write_bytes(b"\x02" * 64)
        os.utime(weights, ns=(mtime, mtime))  # copied at another time, on another worker

    assert directory_fingerprint(tmp_path / "first") == directory_fingerprint(tmp_path / "second")
