"""The catalogue's tiny text-to-image model: a standard diffusers ``StableDiffusionPipeline``.

Three parts, trained in order on the shops' (photo, caption) pairs:

1. a tiny ``AutoencoderKL`` (1x16x16 photos ↔ 4x8x8 latents), trained to reconstruct, with a small
   KL term; its ``scaling_factor`` is set to 1/sd of the training latents, as Stable Diffusion's is;
2. the text encoder: the trained catalogue CLIP's text tower as a ``CLIPTextModel``, frozen (Stable
   Diffusion conditions on the last hidden states of a frozen CLIP text encoder);
3. a tiny ``UNet2DConditionModel`` trained to predict the noise of a DDPM forward process on the
   latents, cross-attending to the caption's hidden states; 10% of captions are replaced by the
   empty prompt so classifier-free guidance works. The saved UNet is an exponential moving average.

The pipeline samples with a DDIM scheduler over the training noise schedule. It is saved with
``save_pretrained``, so ``TextToImageBackend.from_pretrained`` loads it like any other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from attribution.engine.demos.catalogue.vocabulary import MAX_LENGTH
from attribution.engine.progress import Progress, report


@dataclass(frozen=True)
class PipelineRecipe:
    """The tiny pipeline's sizes and training budgets."""

    vae_widths: tuple[int, ...] = (8, 16)
    vae_steps: int = 600
    vae_learning_rate: float = 2e-3
    kl_weight: float = 1e-5
    unet_widths: tuple[int, ...] = (32, 64)
    unet_steps: int = 5000
    unet_learning_rate: float = 1e-3
    batch_size: int = 32
    n_train_steps: int = 1000
    caption_dropout: float = 0.1
    ema_decay: float = 0.995
    seed: int = 0


def new_vae(recipe: PipelineRecipe) -> Any:
    """A randomly initialised grey-image ``AutoencoderKL`` (downsampling 2x per extra width)."""
    from diffusers import AutoencoderKL

    levels = len(recipe.vae_widths)
    return cast(Any, AutoencoderKL)(
        in_channels=1,
        out_channels=1,
        block_out_channels=recipe.vae_widths,
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=16,
    )


def new_unet(recipe: PipelineRecipe, latent_size: int, cross_attention_dim: int) -> Any:
    """A random ``UNet2DConditionModel``: cross-attention on all but the last level."""
    from diffusers import UNet2DConditionModel

    levels = len(recipe.unet_widths)
    return cast(Any, UNet2DConditionModel)(
        sample_size=latent_size,
        in_channels=4,
        out_channels=4,
        block_out_channels=recipe.unet_widths,
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D",) * (levels - 1) + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (levels - 1),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
        mid_block_type=None,
    )


def train_vae(
    images: NDArray[np.float32], recipe: PipelineRecipe, progress: Progress | None = None
) -> Any:
    """Train the autoencoder on photos in [0, 1] (seen in [-1, 1], as Stable Diffusion's is)."""
    import torch

    torch.manual_seed(recipe.seed)
    vae = new_vae(recipe)
    data = torch.from_numpy(images * 2.0 - 1.0)
    generator = torch.Generator().manual_seed(recipe.seed)
    optimiser = torch.optim.AdamW(vae.parameters(), lr=recipe.vae_learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, recipe.vae_steps)
    vae.train()
    report(progress, "train vae", 0, recipe.vae_steps)
    for step in range(recipe.vae_steps):
        batch = data[torch.randint(len(data), (recipe.batch_size,), generator=generator)]
        posterior = vae.encode(batch).latent_dist
        latents = posterior.sample(generator=generator)
        reconstruction = vae.decode(latents).sample
        loss = torch.nn.functional.mse_loss(reconstruction, batch)
        loss = loss + recipe.kl_weight * posterior.kl().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        report(progress, "train vae", step + 1, recipe.vae_steps)
    vae.eval()
    with torch.no_grad():
        latents = _encode(vae, data[: min(len(data), 4096)])
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return vae


def _encode(vae: Any, pixels: Any) -> Any:
    import torch

    with torch.no_grad():
        return torch.cat(
            [vae.encode(pixels[i : i + 512]).latent_dist.mean for i in range(0, len(pixels), 512)]
        )


def encode_latents(vae: Any, images: NDArray[np.float32]) -> Any:
    """Scaled latents (the UNet's training data) of photos in [0, 1]."""
    import torch

    pixels = torch.from_numpy(np.ascontiguousarray(images) * 2.0 - 1.0)
    return _encode(vae, pixels) * vae.config.scaling_factor


def text_encoder_from_clip(clip: Any) -> Any:
    """The CLIP model's text tower as a standalone ``CLIPTextModel`` (same weights), frozen."""
    encoder = copy.deepcopy(clip.text_model)  # transformers 5: already a CLIPTextModel
    encoder.requires_grad_(False)
    return encoder.eval()


def encode_prompts(text_encoder: Any, tokenizer: Any, prompts: list[str]) -> Any:
    """Last hidden states (P, MAX_LENGTH, width) of ``prompts``, as the pipeline computes them."""
    import torch

    ids = tokenizer(
        prompts, padding="max_length", max_length=MAX_LENGTH, truncation=True, return_tensors="pt"
    ).input_ids
    with torch.no_grad():
        return text_encoder(ids)[0]


def new_scheduler(recipe: PipelineRecipe) -> Any:
    """The sampling scheduler: DDIM over Stable Diffusion's scaled-linear noise schedule."""
    from diffusers import DDIMScheduler

    return cast(Any, DDIMScheduler)(
        num_train_timesteps=recipe.n_train_steps,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def train_unet(
    latents: Any,
    caption_index: NDArray[np.int64],
    caption_states: Any,
    empty_state: Any,
    recipe: PipelineRecipe,
    progress: Progress | None = None,
) -> Any:
    """Train the denoiser on scaled latents; ``caption_states[caption_index[i]]`` conditions i."""
    import torch

    torch.manual_seed(recipe.seed)
    unet = new_unet(recipe, latents.shape[-1], caption_states.shape[-1])
    average = copy.deepcopy(unet).requires_grad_(False)
    scheduler = new_scheduler(recipe)
    alphas = scheduler.alphas_cumprod
    index = torch.from_numpy(caption_index)
    generator = torch.Generator().manual_seed(recipe.seed + 1)
    optimiser = torch.optim.AdamW(unet.parameters(), lr=recipe.unet_learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.unet_learning_rate, total_steps=recipe.unet_steps, pct_start=0.05
    )
    unet.train()
    report(progress, "train unet", 0, recipe.unet_steps)
    for step in range(recipe.unet_steps):
        batch = torch.randint(len(latents), (recipe.batch_size,), generator=generator)
        clean = latents[batch]
        states = caption_states[index[batch]]
        dropped = torch.rand(len(batch), generator=generator) < recipe.caption_dropout
        states = torch.where(dropped[:, None, None], empty_state[None], states)
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(recipe.n_train_steps, (len(batch),), generator=generator)
        alpha = alphas[timesteps].view(-1, 1, 1, 1)
        noisy = alpha.sqrt() * clean + (1 - alpha).sqrt() * noise
        predicted = unet(noisy, timesteps, encoder_hidden_states=states).sample
        loss = torch.nn.functional.mse_loss(predicted, noise)
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            for kept, live in zip(average.parameters(), unet.parameters(), strict=True):
                kept.lerp_(live, 1.0 - recipe.ema_decay)
        report(progress, "train unet", step + 1, recipe.unet_steps)
    return average.eval()


def train_pipeline(
    images: NDArray[np.float32],
    captions: list[str],
    clip: Any,
    tokenizer: Any,
    recipe: PipelineRecipe | None = None,
    progress: Progress | None = None,
) -> Any:
    """Train the VAE and UNet on (photo, caption) pairs; return the ``StableDiffusionPipeline``."""
    from diffusers import StableDiffusionPipeline

    recipe = recipe or PipelineRecipe()
    vae = train_vae(images, recipe, progress)
    latents = encode_latents(vae, images)
    text_encoder = text_encoder_from_clip(clip)
    distinct = sorted(set(captions))
    lookup = {text: i for i, text in enumerate(distinct)}
    caption_index = np.array([lookup[text] for text in captions], dtype=np.int64)
    states = encode_prompts(text_encoder, tokenizer, distinct)
    empty = encode_prompts(text_encoder, tokenizer, [""])[0]
    unet = train_unet(latents, caption_index, states, empty, recipe, progress)
    return cast(Any, StableDiffusionPipeline)(
        vae=vae.eval(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=new_scheduler(recipe),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
