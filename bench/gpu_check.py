"""One small text-to-image round on a real pipeline, on CUDA: per-stage timings and images/s.

Give it local copies of a Stable Diffusion (or SDXL, or FLUX) pipeline directory, a CLIP
directory and, optionally, an aesthetic head (README.md, "Preparing real weights", says how to
get them on a machine with internet access). It values a handful of synthetic contributors —
each with a few captions of one product type — on every metric the files allow, with exact
Shapley values, and prints how long each stage took. Nothing is downloaded.

    .venv/bin/python bench/gpu_check.py --pipeline /models/sd-1.5 --clip /models/clip-vit-l-14 \\
        --aesthetic-head /models/aesthetic-vit-l-14.safetensors [--lora FILE] [--device cuda]

Sized to finish in a few minutes on one H200 with Stable Diffusion 1.5 at 512 px, 25 steps:
6 contributors × 16 samples = 96 images. ``--samples`` and ``--steps`` change that.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from attribution.engine.estimators import ExactShapley
from attribution.engine.profiles import ContributorSpec, ModelSpec, RoundSpec
from attribution.engine.profiles.text_to_image import TextToImageProfile
from attribution.engine.run import ContributorInput, run_round
from bench.machine import print_machine

PRODUCTS = ("shirt", "shoe", "hat", "bag", "dress", "watch")
STYLES = ("a red", "a black", "a vintage", "a minimalist")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", required=True, help="Local diffusers pipeline directory.")
    parser.add_argument("--clip", required=True, help="Local transformers CLIP directory.")
    parser.add_argument("--aesthetic-head", default="", help="Aesthetic head file (optional).")
    parser.add_argument("--lora", default="", help="LoRA weights file (optional).")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--samples", type=int, default=16, help="Samples per contributor.")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--resolution", type=int, default=None)
    args = parser.parse_args()

    import torch

    print_machine("GPU check: one small text-to-image round", ("torch", "diffusers"))
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            sys.exit("error: --device cuda, but torch sees no CUDA device.")
        print(f"device: {torch.cuda.get_device_name(0)}")
    model = ModelSpec(
        "text_to_image",
        path=args.pipeline,
        lora_path=args.lora,
        conditions="prompt",
        device=args.device,
        dtype=args.dtype,
        n_steps=args.steps,
        resolution=args.resolution,
        clip_path=args.clip,
        aesthetic_head_path=args.aesthetic_head,
        class_prompts=tuple(f"a photo of a {product}" for product in PRODUCTS),
        artefact_prompts=("a photo with a watermark",),
        clean_prompts=("a clean product photo",),
    )
    profile = TextToImageProfile()
    problems = profile.check(model)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    captions = {
        f"shop-{product}": [f"{style} {product}" for style in STYLES] for product in PRODUCTS
    }
    round = RoundSpec(
        [ContributorSpec(key, prompts) for key, prompts in captions.items()],
        n_samples=args.samples,
        seed=0,
    )
    begin = time.perf_counter()
    loaded = profile.load(model)
    backend = loaded.backend
    load_seconds = time.perf_counter() - begin
    metrics = [name for name in profile.available_metrics(model) if name != "neg_fid"]
    setups = {name: loaded.metric_setup(name, round) for name in metrics}
    scorers = {k: v for setup in setups.values() for k, v in setup.scorers.items()}
    result = run_round(
        [ContributorInput(key, prompts) for key, prompts in captions.items()],
        backend,
        loaded.featurizer,
        {name: setup.metric for name, setup in setups.items()},
        n_samples=args.samples,
        scorers=scorers,
        empty_values={name: setup.empty_value for name, setup in setups.items()},
        estimator=ExactShapley,
    )
    images = len(captions) * args.samples
    print(f'load pipeline and LoRA: {load_seconds:.1f} s (featurizers load in "featurize")')
    for stage, seconds in result.timings.items():
        print(f"{stage}: {seconds:.2f} s")
    print(f"generation: {images / result.timings['generate']:.2f} images/s ({images} images)")
    for name, valuation in result.valuations.items():
        spread = ", ".join(f"{v:+.4f}" for v in valuation.values)
        print(f"{name}: v(N) = {valuation.grand_value:.4f}, values [{spread}]")
    if args.device.startswith("cuda"):
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
