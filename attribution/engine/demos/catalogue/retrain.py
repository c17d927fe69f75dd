"""The catalogue's ground truth: the text-to-image model retrained on a coalition of shops.

``CatalogueRetrainGame`` is the catalogue's analogue of
:class:`~attribution.engine.evaluation.retrain_game.RetrainGame`: for a coalition S it trains a
fresh ``UNet2DConditionModel`` (the shipped pipeline's architecture, random initial weights) on
S's photos and captions only, puts it into the shipped ``StableDiffusionPipeline`` in place of the
shipped UNet, samples one bank per member from the member's own captions (the seeds the round
uses, so coalitions share random numbers), and scores the pool with the round's metric through the
text-to-image profile — the same ``clip_diversity`` the demo's round pays on.

The VAE and the CLIP text tower stay the shipped ones, as when a pretrained Stable Diffusion is
fine-tuned: only the denoiser learns from the coalition. They were trained on all 100 shops, so a
coalition's model is not independent of the other shops' photos through them.

Every coalition is one training run (tens of seconds on a CPU thread). With an ``ArtefactStore``
each coalition's bank statistics and utility are cached, keyed by everything that determines them,
so an interrupted evaluation resumes where it stopped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import numpy as np

from attribution.engine.demos.catalogue.pipeline_training import (
    PipelineRecipe,
    encode_latents,
    encode_prompts,
    train_unet,
)
from attribution.engine.demos.catalogue.shops import CatalogueShop, type_prompts
from attribution.engine.demos.catalogue.training import (
    ARTEFACT_PROMPTS,
    CLEAN_PROMPTS,
    GUIDANCE_SCALE,
    CatalogueModels,
)
from attribution.engine.errors import EngineInputError
from attribution.engine.evaluation.model_utility import (
    statistics_from_arrays,
    statistics_to_arrays,
    utility_of_statistics,
)
from attribution.engine.games.base import Masks, Utilities, check_masks
from attribution.engine.generation import state_dict_sha256
from attribution.engine.metrics import BankStatistics
from attribution.engine.profiles.base import ContributorSpec, ModelSpec, RoundSpec
from attribution.engine.profiles.featurized import FeaturizedModel
from attribution.engine.progress import Progress, report
from attribution.engine.run import (
    ContributorInput,
    build_statistics,
    featurize_banks,
    generate_banks,
)
from attribution.engine.store import Arrays, ArtefactStore

RETRAIN_VERSION = 1
"""Bumped whenever a change here changes cached coalition statistics or utilities."""


def short_unet_recipe() -> PipelineRecipe:
    """The CPU-sized retrain recipe: 200 steps of 32 at a higher learning rate, a short EMA."""
    return PipelineRecipe(unet_steps=200, unet_learning_rate=2e-3, ema_decay=0.98)


@dataclass(frozen=True)
class RetrainRecipe:
    """How each coalition's UNet is trained and sampled.

    Attributes:
        unet: The UNet's sizes and training budget (``vae_*`` fields are unused: the VAE is fixed).
        n_samples: Bank size per member (the demo's round uses 32).
        n_steps: DDIM steps per sample (the demo's round uses 10).
        guidance_scale: Classifier-free guidance (the shipped sampling setting).
        sampling_seed: The round seed; member i's bank uses ``contributor_seed(seed, key_i)``.
        metric: The round metric scored on the pool.
    """

    unet: PipelineRecipe = field(default_factory=short_unet_recipe)
    n_samples: int = 32
    n_steps: int = 10
    guidance_scale: float = GUIDANCE_SCALE
    sampling_seed: int = 0
    metric: str = "clip_diversity"

    def replica(self, k: int) -> RetrainRecipe:
        """The same recipe with other training and sampling seeds (k = 0 is this one)."""
        if k == 0:
            return self
        return replace(
            self,
            unet=replace(self.unet, seed=self.unet.seed + k),
            sampling_seed=self.sampling_seed + k,
        )


def catalogue_model_spec(
    models: CatalogueModels, n_steps: int, pipeline: Path | None = None
) -> ModelSpec:
    """The model version the demo registers (the shipped pipeline unless ``pipeline`` is given)."""
    return ModelSpec(
        kind="text_to_image",
        path=str(pipeline or models.pipeline),
        conditions="prompt",
        n_steps=n_steps,
        guidance_scale=GUIDANCE_SCALE,
        clip_path=str(models.clip),
        class_prompts=type_prompts(),
        artefact_prompts=ARTEFACT_PROMPTS,
        clean_prompts=CLEAN_PROMPTS,
    )


def shop_digest(shop: CatalogueShop) -> str:
    """SHA-256 over a shop's photos and captions: its data's part of the cache keys."""
    images = np.ascontiguousarray(shop.images)
    digest = hashlib.sha256(f"{images.shape}|{images.dtype}|".encode())
    digest.update(images.tobytes())
    digest.update("\n".join(shop.captions).encode())
    return digest.hexdigest()


class CatalogueRetrainGame:
    """v(S) = the round metric of banks sampled from a UNet retrained on S's shops alone.

    Args:
        shops: The players, in order.
        models: The shipped (checked) catalogue models: their VAE, text encoder, tokenizer,
            scheduler and CLIP are used as they are.
        recipe: The retrain recipe (replica k: ``recipe.replica(k)``).
        store: Artefact cache; coalitions already measured are read, not retrained.
        progress: Called as ``progress("retrain", rows_done, n_rows)`` and with training stages.

    Attributes:
        n_players: The number of shops.
        empty_value_: v(∅), the metric's floor (0 nats for ``clip_diversity``).
    """

    stage = "retrain"

    def __init__(
        self,
        shops: Sequence[CatalogueShop],
        models: CatalogueModels,
        recipe: RetrainRecipe | None = None,
        *,
        store: ArtefactStore | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.shops = list(shops)
        if len({shop.key for shop in self.shops}) != len(self.shops) or not self.shops:
            raise EngineInputError("a retrain game needs at least one shop, with unique keys.")
        self.n_players = len(self.shops)
        self.models = models
        self.recipe = recipe or RetrainRecipe()
        self.store = store
        self.progress = progress
        self.loaded = self._profile()
        self.setup = self.loaded.metric_setup(self.recipe.metric, self._round_spec())
        floor = self.setup.metric.floor
        if floor is None:
            raise EngineInputError(f"the {self.recipe.metric} metric has no floor to set v(∅).")
        self.empty_value_ = float(floor)

    def _profile(self) -> FeaturizedModel:
        from attribution.engine.profiles.text_to_image import TextToImageProfile

        spec = catalogue_model_spec(self.models, self.recipe.n_steps)
        return TextToImageProfile().load(spec)

    def _round_spec(self) -> RoundSpec:
        contributors = [ContributorSpec(shop.key, list(shop.captions)) for shop in self.shops]
        return RoundSpec(contributors, self.recipe.n_samples, self.recipe.sampling_seed)

    @cached_property
    def _shipped(self) -> Any:
        """The shipped pipeline (VAE, text encoder, tokenizer, scheduler are reused)."""
        return self.loaded.backend.pipeline  # type: ignore[attr-defined]

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities (m,) for masks (m, n_players); one training run per uncached non-empty row."""
        checked = check_masks(masks, self.n_players)
        utilities = np.full(checked.shape[0], self.empty_value_, dtype=np.float64)
        report(self.progress, self.stage, 0, checked.shape[0])
        for row, mask in enumerate(checked):
            if mask.any():
                utilities[row] = self.utility(np.flatnonzero(mask).tolist())
            report(self.progress, self.stage, row + 1, checked.shape[0])
        return utilities

    def inputs(self, members: Sequence[int]) -> dict[str, Any]:
        """Everything that determines coalition ``members``' statistics, JSON-able."""
        record = self.models.record["sha256"]
        return {
            "game": "catalogue_retrain",
            "version": RETRAIN_VERSION,
            "recipe": asdict(self.recipe),
            "fixed": {
                name: record[name]
                for name in sorted(record)
                if not name.startswith("pipeline/unet")
            },
            "members": [
                {"index": i, "key": self.shops[i].key, "data": shop_digest(self.shops[i])}
                for i in members
            ],
        }

    def utility(self, members: Sequence[int]) -> float:
        """v(S) for a non-empty coalition, from the store when it has it."""
        return self.utility_and_statistics(members)[0]

    def statistics(self, members: Sequence[int]) -> BankStatistics:
        """The members' bank statistics under the coalition's retrained model (cached)."""
        return self.utility_and_statistics(members)[1]

    def utility_and_statistics(self, members: Sequence[int]) -> tuple[float, BankStatistics]:
        checked = sorted({int(i) for i in members})
        if not checked or checked[0] < 0 or checked[-1] >= self.n_players:
            raise EngineInputError(
                f"a coalition must name shops in 0..{self.n_players - 1}, got {list(members)}."
            )
        inputs = self.inputs(checked)

        def compute() -> Arrays:
            unet = self.train_coalition(checked)
            statistics = self.measure(unet, checked)
            sizes = [len(self.shops[i].captions) for i in checked]
            value = utility_of_statistics(statistics, sizes, self.setup.metric)
            return {
                "utility": np.asarray(value),
                "unet_sha256": np.asarray(state_dict_sha256(unet)),
                **statistics_to_arrays(statistics),
            }

        found = self.store.fetch("catalogue_retrain", inputs, compute) if self.store else compute()
        return float(found["utility"]), statistics_from_arrays(found)

    def train_coalition(self, members: Sequence[int]) -> Any:
        """A fresh UNet trained on the members' photos and captions (EMA weights)."""
        shipped = self._shipped
        photos = np.concatenate([self.shops[i].images for i in members])
        captions = [text for i in members for text in self.shops[i].captions]
        latents = encode_latents(shipped.vae, photos)
        distinct = sorted(set(captions))
        lookup = {text: k for k, text in enumerate(distinct)}
        index = np.array([lookup[text] for text in captions], dtype=np.int64)
        states = encode_prompts(shipped.text_encoder, shipped.tokenizer, distinct)
        empty = encode_prompts(shipped.text_encoder, shipped.tokenizer, [""])[0]
        return train_unet(latents, index, states, empty, self.recipe.unet, self.progress)

    def measure(self, unet: Any, members: Sequence[int]) -> BankStatistics:
        """Sample ``unet`` on each member's captions, featurize with the CLIP, score the banks."""
        from diffusers import StableDiffusionPipeline

        from attribution.engine.generation import TextToImageBackend

        shipped = self._shipped
        pipeline = cast(Any, StableDiffusionPipeline)(
            vae=shipped.vae,
            text_encoder=shipped.text_encoder,
            tokenizer=shipped.tokenizer,
            unet=unet,
            scheduler=shipped.scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        backend = TextToImageBackend(
            pipeline,
            guidance_scale=self.recipe.guidance_scale,
            n_steps=self.recipe.n_steps,
            batch_size=64,
            source={"retrained": True},
        )
        inputs = [
            ContributorInput(self.shops[i].key, list(self.shops[i].captions)) for i in members
        ]
        banks, bank_inputs = generate_banks(
            inputs, backend, n_samples=self.recipe.n_samples, seed=self.recipe.sampling_seed
        )
        features = featurize_banks(banks, bank_inputs, self.loaded.featurizer)
        scorers = {name: _in_game(scorer, members) for name, scorer in self.setup.scorers.items()}
        return build_statistics(banks, features, scorers)

    def __repr__(self) -> str:
        return f"CatalogueRetrainGame(n_players={self.n_players}, metric={self.recipe.metric!r})"


def _in_game(scorer: Any, members: Sequence[int]) -> Any:
    """Call ``scorer`` with the shop's index in the game instead of in the coalition."""

    def score(images: Any, features: Any, index: int) -> Any:
        return scorer(images, features, members[index])

    return score
