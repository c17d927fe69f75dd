"""The utility of a model trained for a coalition: sample it, featurize, mix, measure.

Ground-truth games (:mod:`~attribution.engine.evaluation.retrain_game`,
:mod:`~attribution.engine.evaluation.sparsified_game`) train one model per coalition S and
score it the way the proxy game scores a pretrained model:

1. generate a bank of ``n_samples`` images per contributor i in S, conditioned on i's label (the
   contributor's index in the game), with the contributor's own seed (:func:`contributor_seed`);
2. featurize every bank and reduce it to sufficient statistics (``run.build_statistics``);
3. v(S) = the metric of the pool that mixes S's banks with weights |C_i| / Σ_{j∈S} |C_j|
   (exactly :class:`~attribution.engine.games.proxy.ProxyGame` on S's banks).

:class:`CoalitionModelGame` holds what both games share: the loop over mask rows, v(∅), and the
artefact cache. Per coalition it stores the trained model's checksum with the banks' statistics
(kind ``coalition_statistics``, keyed without the metric, so a second metric reuses the training)
and the utility (kind ``coalition_utility``, keyed with the metric's name as well). A metric enters
the key by its name only: give metrics with different references (e.g. two Fréchet references)
different names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.features import Features, Featurizer
from attribution.engine.games.base import Masks, Utilities, check_masks, check_n_players
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.generation import (
    GENERATION_VERSION,
    ClassConditionalBackend,
    state_dict_sha256,
)
from attribution.engine.metrics import BankStatistics
from attribution.engine.progress import Progress, report
from attribution.engine.run import (
    ContributorInput,
    Images,
    Scorer,
    build_statistics,
    featurize_banks,
    generate_banks,
)
from attribution.engine.store import Arrays, ArtefactStore

if TYPE_CHECKING:
    from diffusers import UNet2DModel

MODEL_UTILITY_VERSION = 1
"""Bumped whenever a change here changes cached coalition statistics or utilities."""

_STATISTIC_FIELDS = (
    "probability_mean",
    "negative_entropy_mean",
    "feature_mean",
    "feature_rows",
)
_SCORE_PREFIX = "score."


@dataclass(frozen=True, eq=False)
class TrainingContributor:
    """One contributor's training data in a ground-truth game.

    Attributes:
        key: Stable identifier; with the sampling seed it determines the contributor's samples.
        images: Shape (N, C, H, W), float32 in [0, 1]: the contributor's records. |C_i| = N. The
            model is trained with the contributor's index in the game as these images' label.
    """

    key: str
    images: Images

    @property
    def size(self) -> int:
        """|C_i|, the number of images."""
        return int(self.images.shape[0])

    @cached_property
    def digest(self) -> str:
        """SHA-256 over the images' shape, dtype and bytes: the data's part of cache keys."""
        array = np.ascontiguousarray(self.images)
        digest = hashlib.sha256(f"{array.shape}|{array.dtype}|".encode())
        digest.update(array.tobytes())
        return digest.hexdigest()


@dataclass(frozen=True)
class SamplingSettings:
    """How a coalition's model is sampled (DDIM over the training noise schedule).

    Attributes:
        n_samples: Bank size per contributor in the coalition (>= 1).
        n_steps: DDIM denoising steps (>= 1).
        seed: Round seed; contributor i's bank uses ``contributor_seed(seed, key_i)`` in every
            coalition (common random numbers across coalitions).
        guidance_scale: Classifier-free guidance scale (1.0: none).
    """

    n_samples: int = 64
    n_steps: int = 10
    seed: int = 0
    guidance_scale: float = 1.0

    def describe(self) -> dict[str, Any]:
        """JSON-able description, part of the cache keys."""
        return {
            "n_samples": self.n_samples,
            "n_steps": self.n_steps,
            "seed": self.seed,
            "guidance_scale": self.guidance_scale,
            "scheduler": "DDIMScheduler",
            "generation_version": GENERATION_VERSION,
        }


@dataclass(frozen=True)
class Measurement:
    """What turns a coalition's sample banks into its utility.

    Attributes:
        featurizer: Images → probabilities and embeddings (e.g. the digits classifier).
        metric: The pool metric (higher is better), e.g. ``InceptionScore()``.
        scorers: Per-sample scores the metric reads; each is called with the contributor's index
            in the game (not in the coalition), as ``digits_scorers`` expects.
    """

    featurizer: Featurizer
    metric: Metric
    scorers: Mapping[str, Scorer] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """JSON-able description of the statistics' inputs (scorers by name only)."""
        return {"featurizer": self.featurizer.describe(), "scorers": sorted(self.scorers)}


def coalition_data(
    contributors: Sequence[TrainingContributor], members: Sequence[int]
) -> tuple[Images, NDArray[np.int64]]:
    """S's training data: images (N_S, C, H, W) and labels (N_S,), each its contributor's index."""
    images = np.concatenate([contributors[i].images for i in members]).astype(np.float32)
    labels = np.concatenate([np.full(contributors[i].size, i, dtype=np.int64) for i in members])
    return images, labels


def measure_model(
    unet: UNet2DModel,
    scheduler: Any,
    contributors: Sequence[TrainingContributor],
    members: Sequence[int],
    measurement: Measurement,
    sampling: SamplingSettings,
    *,
    null_label: int,
    device: str = "cpu",
) -> BankStatistics:
    """Sample ``unet`` for each member, featurize, and reduce the banks to statistics.

    Args:
        unet: The coalition's class-conditional model (label i = contributor i).
        scheduler: The sampling scheduler (see ``generation.new_sampling_scheduler``).
        contributors: All the game's contributors.
        members: Indices of S's contributors, ascending.
        measurement: Featurizer and scorers (the metric is not used here).
        sampling: Bank size, DDIM steps, seed and guidance.
        null_label: The model's null label (for guidance).
        device: Torch device to sample on.

    Returns:
        Statistics with one row per member, in ``members`` order.
    """
    backend = ClassConditionalBackend(
        unet,
        scheduler,
        n_steps=sampling.n_steps,
        null_label=null_label,
        guidance_scale=sampling.guidance_scale,
        device=device,
    )
    inputs = [ContributorInput(contributors[i].key, [i], contributors[i].size) for i in members]
    banks, bank_inputs = generate_banks(
        inputs, backend, n_samples=sampling.n_samples, seed=sampling.seed
    )
    features = featurize_banks(banks, bank_inputs, measurement.featurizer)
    scorers = {
        name: _in_game_indices(scorer, members) for name, scorer in measurement.scorers.items()
    }
    return build_statistics(banks, features, scorers)


def utility_of_statistics(
    statistics: BankStatistics, data_sizes: Sequence[int], metric: Metric
) -> float:
    """The metric of the pool mixing every bank of ``statistics`` by ``data_sizes`` (|C_i|)."""
    game = ProxyGame(statistics, list(data_sizes), metric, empty_value=0.0)
    return float(game(np.ones((1, statistics.n_contributors), dtype=np.bool_))[0])


def utility_of_model(
    unet: UNet2DModel,
    scheduler: Any,
    contributors: Sequence[TrainingContributor],
    members: Sequence[int],
    measurement: Measurement,
    sampling: SamplingSettings,
    *,
    null_label: int,
    device: str = "cpu",
) -> float:
    """v(S) of a model trained for S: sample, featurize, mix S's banks by |C_i|, measure."""
    statistics = measure_model(
        unet,
        scheduler,
        contributors,
        members,
        measurement,
        sampling,
        null_label=null_label,
        device=device,
    )
    sizes = [contributors[i].size for i in members]
    return utility_of_statistics(statistics, sizes, measurement.metric)


def resolve_empty_value(empty_value: object, metric: Metric) -> float:
    """v(∅) for games that train per coalition: a number, or ``"floor"`` (the metric's floor).

    ``"worst_singleton"`` is refused: it would train every singleton just to set v(∅).
    """
    if empty_value == "floor":
        if metric.floor is None:
            raise EngineInputError(
                f"the {metric.name} metric has no floor, so empty_value='floor' cannot set v(∅); "
                "give a number."
            )
        return float(metric.floor)
    if empty_value == "worst_singleton":
        raise EngineInputError(
            "empty_value='worst_singleton' would train a model for every singleton just to set "
            "v(∅); use 'floor' or a number (e.g. the worst singleton of a cheaper game)."
        )
    if isinstance(empty_value, bool) or not isinstance(
        empty_value, int | float | np.integer | np.floating
    ):
        raise EngineInputError(f"empty_value must be 'floor' or a number, got {empty_value!r}.")
    if not np.isfinite(float(empty_value)):
        raise EngineInputError(f"empty_value must be finite, got {empty_value}.")
    return float(empty_value)


class CoalitionModelGame:
    """A game whose v(S) measures a model trained for S; subclasses say how to train it.

    Subclasses implement :meth:`train_coalition` and :meth:`training_inputs` (everything that
    determines the trained weights, JSON-able), and set ``null_label`` and ``stage``.

    Args:
        contributors: The players, in order; contributor i's images are labelled i.
        measurement: Featurizer, metric and scorers.
        scheduler: The sampling scheduler (see ``generation.new_sampling_scheduler``).
        sampling: Bank size, DDIM steps, seed and guidance.
        empty_value: v(∅): ``"floor"`` (the metric's floor) or a number.
        store: Artefact cache: coalitions already measured are read, not retrained.
        progress: Called as ``progress(stage, rows_done, n_rows)`` after each mask row.
        device: Torch device for training and sampling.

    Attributes:
        n_players: The number of contributors.
        empty_value_: The resolved v(∅).
    """

    stage = "coalitions"
    null_label: int

    def __init__(
        self,
        contributors: Sequence[TrainingContributor],
        measurement: Measurement,
        scheduler: Any,
        *,
        sampling: SamplingSettings,
        empty_value: EmptyValue,
        store: ArtefactStore | None,
        progress: Progress | None,
        device: str,
    ) -> None:
        self.contributors = check_contributors(contributors)
        self.n_players = check_n_players(len(self.contributors), minimum=1)
        self.measurement = measurement
        self.scheduler = scheduler
        self.sampling = sampling
        self.empty_value = empty_value
        self.empty_value_ = resolve_empty_value(empty_value, measurement.metric)
        self.store = store
        self.progress = progress
        self.device = device

    def train_coalition(self, members: Sequence[int]) -> UNet2DModel:
        """Train the model of coalition ``members`` (indices, ascending)."""
        raise NotImplementedError

    def training_inputs(self, members: Sequence[int]) -> dict[str, Any]:
        """Everything that determines the weights of coalition ``members``, JSON-able."""
        raise NotImplementedError

    def __call__(self, masks: Masks) -> Utilities:
        """Utilities of shape (m,) for masks (m, n_players); one training run per non-empty row."""
        checked = check_masks(masks, self.n_players)
        utilities = np.full(checked.shape[0], self.empty_value_, dtype=np.float64)
        report(self.progress, self.stage, 0, checked.shape[0])
        for row, mask in enumerate(checked):
            if mask.any():
                utilities[row] = self.utility(np.flatnonzero(mask).tolist())
            report(self.progress, self.stage, row + 1, checked.shape[0])
        return utilities

    def utility(self, members: Sequence[int]) -> float:
        """v(S) for a non-empty coalition, from the store when it has it."""
        members = self._check_members(members)
        statistics_inputs = {
            "version": MODEL_UTILITY_VERSION,
            "training": self.training_inputs(members),
            "sampling": self.sampling.describe(),
            "measurement": self.measurement.describe(),
        }

        def compute_statistics() -> Arrays:
            unet: Any = self.train_coalition(members)
            statistics = measure_model(
                unet,
                self.scheduler,
                self.contributors,
                members,
                self.measurement,
                self.sampling,
                null_label=self.null_label,
                device=self.device,
            )
            checksum = np.asarray(state_dict_sha256(unet))
            return {"unet_sha256": checksum, **statistics_to_arrays(statistics)}

        def compute_utility() -> Arrays:
            found = self._fetch("coalition_statistics", statistics_inputs, compute_statistics)
            sizes = [self.contributors[i].size for i in members]
            value = utility_of_statistics(
                statistics_from_arrays(found), sizes, self.measurement.metric
            )
            return {"utility": np.asarray(value), "unet_sha256": found["unet_sha256"]}

        utility_inputs = {**statistics_inputs, "metric": self.measurement.metric.name}
        return float(self._fetch("coalition_utility", utility_inputs, compute_utility)["utility"])

    def _fetch(self, kind: str, inputs: Mapping[str, Any], compute: Callable[[], Arrays]) -> Arrays:
        """The artefact from the store (computed and saved if missing), or computed."""
        return self.store.fetch(kind, inputs, compute) if self.store else compute()

    def _check_members(self, members: Sequence[int]) -> list[int]:
        checked = sorted({int(i) for i in members})
        if not checked or checked[0] < 0 or checked[-1] >= self.n_players:
            raise EngineInputError(
                f"a coalition must name players in 0..{self.n_players - 1}, got {list(members)}."
            )
        return checked

    def data_inputs(self, members: Sequence[int]) -> list[dict[str, Any]]:
        """Index, key and data digest of each member: the data's part of a cache key."""
        return [
            {"index": i, "key": self.contributors[i].key, "data": self.contributors[i].digest}
            for i in members
        ]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_players={self.n_players}, "
            f"metric={self.measurement.metric.name!r}, empty_value={self.empty_value!r})"
        )


def check_contributors(contributors: Sequence[TrainingContributor]) -> list[TrainingContributor]:
    """Raise unless keys are unique and every contributor has images of one common shape."""
    checked = list(contributors)
    if len({c.key for c in checked}) != len(checked):
        raise EngineInputError("contributor keys must be unique.")
    shapes = set()
    for contributor in checked:
        images = np.asarray(contributor.images)
        if images.ndim != 4 or images.shape[0] < 1:
            raise EngineInputError(
                f"contributor {contributor.key!r}: images must have shape (N, C, H, W) with "
                f"N >= 1, got {images.shape}."
            )
        shapes.add(images.shape[1:])
    if len(shapes) > 1:
        raise EngineInputError(f"all contributors' images must share one shape, got {shapes}.")
    return checked


def statistics_to_arrays(statistics: BankStatistics) -> dict[str, NDArray[Any]]:
    """Bank statistics as named arrays for the store (scores under ``score.<name>``)."""
    arrays: dict[str, NDArray[Any]] = {"n_samples": statistics.n_samples}
    for name in _STATISTIC_FIELDS:
        value = getattr(statistics, name)
        if value is not None:
            arrays[name] = value
    for name, value in statistics.score_means.items():
        arrays[_SCORE_PREFIX + name] = value
    return arrays


def statistics_from_arrays(arrays: Mapping[str, NDArray[Any]]) -> BankStatistics:
    """Inverse of :func:`statistics_to_arrays` (other entries are ignored)."""
    scores = {
        name.removeprefix(_SCORE_PREFIX): value
        for name, value in arrays.items()
        if name.startswith(_SCORE_PREFIX)
    }
    fields = {name: arrays[name] for name in _STATISTIC_FIELDS if name in arrays}
    return BankStatistics(n_samples=arrays["n_samples"], score_means=scores, **fields)


def _in_game_indices(scorer: Scorer, members: Sequence[int]) -> Scorer:
    """Call ``scorer`` with the contributor's index in the game instead of in the coalition."""

    def score(images: Images, features: Features, index: int) -> NDArray[np.float64]:
        return scorer(images, features, members[index])

    return score
