"""Tiny random-weight diffusers models built from config, for fast offline tests.

Nothing here downloads anything: every model is built from a config with a fixed torch seed, and
the CLIP tokenizer is built from a handful of tokens written to disk. Import this module only from
tests that need torch and diffusers (it imports both at module level).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
    StableDiffusionPipeline,
    UNet2DConditionModel,
    UNet2DModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    T5Config,
    T5EncoderModel,
    T5Tokenizer,
)

N_CLASSES = 4
"""Class labels 0..3 of the tiny class-conditional UNet; 3 is used as the null label for CFG."""

TINY_WORDS = ("a", "red", "blue", "cat", "dog", "photo", "of", "digit")
"""The words the tiny tokenizer knows (anything else maps to the unknown token)."""


def make_tiny_class_unet(seed: int = 0) -> UNet2DModel:
    """A class-conditional UNet on 1×8×8 images with 4 class labels (~42k parameters)."""
    torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        num_class_embeds=N_CLASSES,
    )


def make_tiny_scheduler() -> DDIMScheduler:
    """A DDIM scheduler with 50 training timesteps."""
    return DDIMScheduler(num_train_timesteps=50)


def write_tiny_clip_tokenizer_files(directory: Path) -> Path:
    """Write a byte-level BPE ``vocab.json``/``merges.txt`` for :data:`TINY_WORDS`; return the dir.

    CLIP's BPE marks the end of a word with ``</w>``; every word is its own token, and a merge list
    that spells each word out letter by letter lets BPE reach it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    letters = sorted({ch for word in TINY_WORDS for ch in word})
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    tokens += letters + [f"{ch}</w>" for ch in letters]
    merges: list[str] = []
    for word in TINY_WORDS:
        pieces = [*word[:-1], f"{word[-1]}</w>"]
        while len(pieces) > 1:
            merge = f"{pieces[0]} {pieces[1]}"
            if merge not in merges:
                merges.append(merge)
            pieces = [pieces[0] + pieces[1], *pieces[2:]]
            if pieces[0] not in tokens:
                tokens.append(pieces[0])
    vocab = {token: index for index, token in enumerate(tokens)}
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return directory


def make_tiny_clip_tokenizer(directory: Path) -> CLIPTokenizer:
    """A CLIP tokenizer over :data:`TINY_WORDS`, built from files written under ``directory``."""
    write_tiny_clip_tokenizer_files(directory)
    return CLIPTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        model_max_length=16,
    )


def make_tiny_clip_text_encoder(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    """A one-layer CLIP text encoder (width 16) over the tiny tokenizer's vocabulary (eval mode)."""
    config = CLIPTextConfig(
        vocab_size=len(tokenizer.get_vocab()),
        hidden_size=16,
        intermediate_size=32,
        projection_dim=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=tokenizer.model_max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config).eval()


def make_tiny_stable_diffusion(tokenizer_dir: Path, seed: int = 0) -> StableDiffusionPipeline:
    """A random-weight Stable Diffusion pipeline making 3×16×16 images from 4×8×8 latents."""
    tokenizer = make_tiny_clip_tokenizer(tokenizer_dir)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=16,
    )
    text_encoder = make_tiny_clip_text_encoder(tokenizer)
    scheduler = DDIMScheduler(
        num_train_timesteps=50,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_tiny_stable_diffusion(directory: Path, seed: int = 0) -> Path:
    """Build the tiny Stable Diffusion pipeline and save it as a diffusers directory."""
    pipeline = make_tiny_stable_diffusion(directory.parent / f"{directory.name}-tokenizer", seed)
    pipeline.save_pretrained(directory)
    return directory


def make_tiny_t5_tokenizer() -> T5Tokenizer:
    """A unigram T5 tokenizer whose vocabulary is :data:`TINY_WORDS` (plus pad, eos, unk)."""
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    # "\u2581" is SentencePiece's word-start marker.
    vocab += [(f"\u2581{word}", -1.0) for word in TINY_WORDS]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=16)


def make_tiny_flux(tokenizer_dir: Path, seed: int = 0) -> FluxPipeline:
    """A random-weight FLUX pipeline (CLIP + T5 encoders) making 3×16×16 images.

    Models built from config start in training mode; they are put in eval mode here because a
    pipeline never does so itself (T5's dropout would make every call differ).
    """
    tokenizer = make_tiny_clip_tokenizer(tokenizer_dir)
    tokenizer_2 = make_tiny_t5_tokenizer()
    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=16,
        axes_dims_rope=[4, 4, 8],
    )
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2.get_vocab()),
            d_model=32,
            d_kv=8,
            d_ff=32,
            num_layers=1,
            num_heads=2,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    vae = AutoencoderKL(
        sample_size=16,
        in_channels=3,
        out_channels=3,
        block_out_channels=(4,),
        layers_per_block=1,
        latent_channels=1,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    return FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae.eval(),
        text_encoder=make_tiny_clip_text_encoder(tokenizer),
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2.eval(),
        tokenizer_2=tokenizer_2,
        transformer=transformer.eval(),
    )


def save_tiny_flux(directory: Path, seed: int = 0) -> Path:
    """Build the tiny FLUX pipeline and save it as a diffusers directory."""
    pipeline = make_tiny_flux(directory.parent / f"{directory.name}-tokenizer", seed)
    pipeline.save_pretrained(directory)
    return directory


def save_tiny_lora(directory: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    """Save a random rank-2 LoRA on the attention of the tiny Stable Diffusion UNet of ``seed``.

    LoRA's up-projections start at zero (a no-op); they are drawn at random here so the LoRA
    visibly changes the samples.
    """
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = make_tiny_stable_diffusion(tokenizer_dir, seed).unet
    unet.add_adapter(
        LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    )
    torch.manual_seed(seed + 1)
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_" in name:
                parameter.normal_(0.0, 0.5)
    layers: dict[str, Any] = get_peft_model_state_dict(unet)
    StableDiffusionPipeline.save_lora_weights(directory, unet_lora_layers=layers)
    return directory
