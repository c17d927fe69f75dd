"""What the catalogue's planted shops look like to the shipped models (one run, CPU).

1. Where the planted logo gets lost: the VAE, or the UNet's sampling? The CLIP's logo
detection rate and the mean
brightness of the 4x4 logo corner on (a) real photos with the logo stamped, (b) the VAE's
reconstructions of those photos, and (c) each logo shop's bank as the demo's round generates it
(its own captions, 32 samples, 10 DDIM steps, guidance 3) and with guidance 6. A planted logo the
VAE keeps but the samples lack is a weakness of the trained UNet, not of the latent space.

    PYTHONPATH=. .venv/bin/python bench/catalogue_planted.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from typing import Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.demos.catalogue.shops import (
    LOGO_SIZE,
    add_logo,
    make_catalogue,
    type_prompts,
)
from attribution.engine.demos.catalogue.training import (
    ARTEFACT_PROMPTS,
    CLEAN_PROMPTS,
    GUIDANCE_SCALE,
    load_catalogue_models,
)
from attribution.engine.demos.fashion.data import load_fashion_mnist
from attribution.engine.features import ClipFeaturizer
from attribution.engine.generation import (
    TextToImageBackend,
    contributor_seed,
    sample_conditions,
)
from bench.machine import print_machine


def logo_rate(clip: ClipFeaturizer, images: NDArray[np.float32]) -> tuple[float, float]:
    """CLIP's logo detection rate and the mean brightness of the logo corner."""
    prompts = [*CLEAN_PROMPTS, *ARTEFACT_PROMPTS]
    probabilities = clip.zero_shot_probabilities(clip.embed_images(images), prompts)
    corner = images[:, 0, :LOGO_SIZE, :LOGO_SIZE].mean()
    return float(np.mean(probabilities.argmax(axis=1) == 1)), float(corner)


def main() -> None:
    import torch
    from diffusers import AutoencoderKL

    torch.set_num_threads(1)
    print_machine(
        "Catalogue planted shops: logo, mislabelled, degraded", ("torch", "diffusers"), "device cpu"
    )
    models = load_catalogue_models()
    clip = ClipFeaturizer(models.clip)
    images, labels = load_fashion_mnist()
    stamped = add_logo(images[:1000])
    vae: Any = AutoencoderKL.from_pretrained(models.pipeline / "vae").eval()
    with torch.no_grad():
        latents = vae.encode(torch.from_numpy(stamped * 2 - 1)).latent_dist.mean
        rebuilt = ((vae.decode(latents).sample + 1) / 2).clamp(0, 1).numpy().astype(np.float32)
    print("| images | CLIP logo rate | logo-corner brightness |")
    print("|---|---|---|")
    for name, batch in (
        ("real photos, no logo", images[:1000]),
        ("real photos, logo stamped", stamped),
        ("VAE reconstructions of the stamped photos", rebuilt),
    ):
        rate, corner = logo_rate(clip, batch)
        print(f"| {name} | {rate:.2f} | {corner:.2f} |")
    shops = make_catalogue(images, labels)
    for guidance in (GUIDANCE_SCALE, 2 * GUIDANCE_SCALE):
        backend = TextToImageBackend.from_pretrained(
            models.pipeline, guidance_scale=guidance, n_steps=10, batch_size=64
        )
        for shop in (s for s in shops if s.role == "logo"):
            bank = backend.generate(list(shop.captions), 32, contributor_seed(0, shop.key))
            rate, corner = logo_rate(clip, bank)
            print(f"| {shop.key}'s round bank, guidance {guidance:g} | {rate:.2f} | {corner:.2f} |")
    backend = TextToImageBackend.from_pretrained(
        models.pipeline, guidance_scale=GUIDANCE_SCALE, n_steps=10, batch_size=64
    )
    prompts = list(type_prompts())
    print()
    print(
        "| shop | bank: type = caption's | bank: type = photo's true | uploads: caption's | true |"
    )
    print("|---|---|---|---|---|")
    for shop in shops:
        if shop.role not in ("mislabelled", "degraded") and shop.key != shops[0].key:
            continue
        seed = contributor_seed(0, shop.key)
        bank = backend.generate(list(shop.captions), 32, seed)
        rows = [shop.captions.index(text) for text in sample_conditions(shop.captions, 32, seed)]
        types = clip.zero_shot_probabilities(clip.embed_images(bank), prompts).argmax(axis=1)
        own = clip.zero_shot_probabilities(clip.embed_images(shop.images), prompts).argmax(axis=1)
        print(
            f"| {shop.key} | {np.mean(types == shop.claimed[rows]):.2f} | "
            f"{np.mean(types == shop.labels[rows]):.2f} | {np.mean(own == shop.claimed):.2f} | "
            f"{np.mean(own == shop.labels):.2f} |"
        )


if __name__ == "__main__":
    main()
