"""The catalogue's tiny CLIP: a transformers ``CLIPModel`` trained contrastively on the captions.

Images are seen exactly as the engine's ``ClipFeaturizer`` feeds them (grey repeated to RGB, bytes
rescaled to [0, 1], normalised with mean 0.5 and sd 0.5, no resizing: the processor is saved with
resizing and cropping off). Each training caption is, at random, the shop's own caption, ``"a photo
of a {type}"`` or ``"a photo of a product"`` (with ``" with a logo"`` kept where the shop wrote it),
so the zero-shot prompts the metrics use are in-distribution. A batch's loss is CLIP's symmetric
cross-entropy over the batch's distinct texts (photos sharing a caption are all positives for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from attribution.engine.demos.catalogue.shops import LOGO_PHRASE, PRODUCT_WORDS
from attribution.engine.demos.catalogue.vocabulary import MAX_LENGTH
from attribution.engine.progress import Progress, report


@dataclass(frozen=True)
class ClipRecipe:
    """The tiny CLIP's size and training budget."""

    width: int = 48
    layers: int = 2
    heads: int = 4
    patch_size: int = 4
    projection_dim: int = 32
    steps: int = 1500
    batch_size: int = 128
    learning_rate: float = 2e-3
    seed: int = 0


def clip_pixels(images: NDArray[np.float32]) -> NDArray[np.float32]:
    """(K, 1, H, W) in [0, 1] → CLIP pixel values (K, 3, H, W), as the saved processor gives."""
    quantised = np.clip(np.rint(images * 255.0), 0, 255) / 255.0
    return np.asarray(np.repeat((quantised - 0.5) / 0.5, 3, axis=1), dtype=np.float32)


def training_text(caption: str, claimed: int, choice: float) -> str:
    """The text one photo is trained against: its caption or a generic template of it."""
    logo = f" {LOGO_PHRASE}" if caption.endswith(LOGO_PHRASE) else ""
    if choice < 0.5:
        return caption
    if choice < 0.8:
        return f"a photo of a {PRODUCT_WORDS[claimed]}{logo}"
    return f"a photo of a product{logo}"


def new_clip(tokenizer: Any, recipe: ClipRecipe, image_size: int = 16) -> Any:
    """A randomly initialised ``CLIPModel`` sized by ``recipe`` over ``tokenizer``'s vocabulary."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig

    layers: dict[str, Any] = {
        "hidden_size": recipe.width,
        "intermediate_size": 2 * recipe.width,
        "num_hidden_layers": recipe.layers,
        "num_attention_heads": recipe.heads,
        "projection_dim": recipe.projection_dim,
    }
    text = CLIPTextConfig(
        vocab_size=len(tokenizer.get_vocab()),
        max_position_embeddings=MAX_LENGTH,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **layers,
    )
    vision = CLIPVisionConfig(image_size=image_size, patch_size=recipe.patch_size, **layers)
    config = CLIPConfig(
        text_config=text.to_dict(),
        vision_config=vision.to_dict(),
        projection_dim=recipe.projection_dim,
    )
    torch.manual_seed(recipe.seed)
    return CLIPModel(config)


def new_processor(tokenizer: Any, image_size: int = 16) -> Any:
    """A ``CLIPProcessor`` that only rescales and normalises (mean 0.5, sd 0.5) its images."""
    from transformers import CLIPImageProcessor, CLIPProcessor

    images = CLIPImageProcessor(
        do_resize=False,
        do_center_crop=False,
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return cast(Any, CLIPProcessor)(image_processor=images, tokenizer=tokenizer)


def train_clip(
    images: NDArray[np.float32],
    captions: list[str],
    claimed: NDArray[np.int64],
    tokenizer: Any,
    recipe: ClipRecipe | None = None,
    progress: Progress | None = None,
) -> Any:
    """Train a tiny CLIP on (photo, caption) pairs; return it in eval mode."""
    import torch

    recipe = recipe or ClipRecipe()
    model = new_clip(tokenizer, recipe, image_size=images.shape[-1])
    pixels = torch.from_numpy(clip_pixels(images))
    rng = np.random.default_rng(recipe.seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.learning_rate, total_steps=recipe.steps, pct_start=0.1
    )
    token_cache: dict[str, list[int]] = {}
    model.train()
    report(progress, "train clip", 0, recipe.steps)
    for step in range(recipe.steps):
        batch = rng.choice(len(images), size=min(recipe.batch_size, len(images)), replace=False)
        choices = rng.random(len(batch))
        texts = [
            training_text(captions[int(i)], int(claimed[int(i)]), float(c))
            for i, c in zip(batch, choices, strict=True)
        ]
        distinct = sorted(set(texts))
        for text in distinct:
            if text not in token_cache:
                token_cache[text] = tokenizer(
                    text, padding="max_length", max_length=MAX_LENGTH, truncation=True
                ).input_ids
        ids = torch.tensor([token_cache[text] for text in distinct])
        target = torch.tensor([distinct.index(text) for text in texts])
        image_embeds = model.get_image_features(pixel_values=pixels[torch.from_numpy(batch)])
        text_embeds = model.get_text_features(input_ids=ids)
        image_embeds = _unit(_projected(image_embeds))
        text_embeds = _unit(_projected(text_embeds))
        logits = model.logit_scale.exp().clamp(max=100.0) * image_embeds @ text_embeds.T
        positives = torch.nn.functional.one_hot(target, len(distinct)).float()
        image_loss = torch.nn.functional.cross_entropy(logits, target)
        text_loss = -(
            (torch.log_softmax(logits.T, dim=1) * positives.T).sum(1) / positives.sum(0)
        ).mean()
        loss = (image_loss + text_loss) / 2
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        schedule.step()
        report(progress, "train clip", step + 1, recipe.steps)
    return model.eval()


def _projected(output: Any) -> Any:
    """The projected features, whether transformers returns a tensor or a model output."""
    return getattr(output, "pooler_output", output)


def _unit(tensor: Any) -> Any:
    return tensor / tensor.norm(dim=-1, keepdim=True)


def save_clip(model: Any, tokenizer: Any, directory: Path, image_size: int = 16) -> Path:
    """Save the model and its processor in the transformers CLIP format."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    new_processor(tokenizer, image_size).save_pretrained(directory)
    return directory
