"""The retraining game: v(S) measures a diffusion model trained from scratch on S's data only.

This is the ground truth the proxy and sparsified games approximate (arXiv 2407.03153; the
SurrogateSHAP paper's evaluation): for each coalition S a fresh class-conditional model is trained
with :func:`~attribution.engine.diffusion_training.train_class_conditional` on the images of S's
contributors, each labelled with the contributor's index in the game (label ``n_players`` is the
null label of classifier-free guidance); then it is sampled, featurized and measured exactly as the
proxy game measures a pretrained model (:mod:`attribution.engine.evaluation.model_utility`).

Every coalition is a full training run, so a game on n players costs up to 2^n runs: use it on few
players, or on the coalitions an estimator asks for, with an :class:`ArtefactStore` so an
interrupted evaluation resumes where it stopped.

v(∅) has no model; ``empty_value`` sets it: ``"floor"`` (the metric's no-information value) or a
number. ``"worst_singleton"`` (a ProxyGame option) is refused here: it would train every singleton.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from attribution.engine.diffusion_training import TrainRecipe, train_class_conditional
from attribution.engine.evaluation.model_utility import (
    CoalitionModelGame,
    Measurement,
    SamplingSettings,
    TrainingContributor,
    coalition_data,
)
from attribution.engine.games.proxy import EmptyValue
from attribution.engine.generation import new_sampling_scheduler
from attribution.engine.progress import Progress
from attribution.engine.store import ArtefactStore

if TYPE_CHECKING:
    from diffusers import UNet2DModel


class RetrainGame(CoalitionModelGame):
    """v(S) = metric of the pool sampled from a model trained on S's data alone.

    Args:
        contributors: The players; contributor i's images are trained with label i, and |C_i| is
            their number (the mixture weight).
        measurement: Featurizer, metric (higher is better) and per-sample scorers.
        recipe: The training recipe of every coalition's model (same seed for all coalitions).
        sampling: Bank size per contributor, DDIM steps (default 10), seed, guidance.
        empty_value: v(∅): ``"floor"`` or a number.
        store: Artefact cache keyed by recipe, members' keys and data digests, sampling and metric.
        progress: Called as ``progress("retrain", rows_done, n_rows)``.
        device: Torch device for training and sampling.

    Attributes:
        n_players: The number of contributors.
        n_labels: ``n_players + 1`` class embeddings; the last is the null label.
        empty_value_: The resolved v(∅).
    """

    stage = "retrain"

    def __init__(
        self,
        contributors: Sequence[TrainingContributor],
        measurement: Measurement,
        recipe: TrainRecipe,
        *,
        sampling: SamplingSettings | None = None,
        empty_value: EmptyValue = "floor",
        store: ArtefactStore | None = None,
        progress: Progress | None = None,
        device: str = "cpu",
    ) -> None:
        super().__init__(
            contributors,
            measurement,
            new_sampling_scheduler(recipe.n_train_steps),
            sampling=sampling or SamplingSettings(),
            empty_value=empty_value,
            store=store,
            progress=progress,
            device=device,
        )
        self.recipe = recipe
        self.n_labels = self.n_players + 1
        self.null_label = self.n_players

    def training_inputs(self, members: Sequence[int]) -> dict[str, Any]:
        """The recipe, the label count and each member's index, key and data digest."""
        return {
            "game": "retrain",
            "recipe": asdict(self.recipe),
            "n_labels": self.n_labels,
            "members": self.data_inputs(members),
        }

    def train_coalition(self, members: Sequence[int]) -> UNet2DModel:
        """A fresh model trained on the members' images (EMA weights)."""
        images, labels = coalition_data(self.contributors, members)
        return train_class_conditional(
            images, labels, self.n_labels, self.recipe, device=self.device
        )
