"""``run_round``: a whole valuation round in one readable function.

1. Generate a sample bank per contributor from the pretrained model, conditioned on that
   contributor's own records (cached in the artefact store, keyed by model, conditions, size, seed).
2. Featurize each bank once (cached, keyed by the bank and the featurizer).
3. Reduce banks to per-contributor sufficient statistics.
4. For each metric, build the proxy game and fit the estimator (SurrogateSHAP by default);
   optionally also exact Shapley values of the proxy game, feasible to ~20 contributors.
5. Optionally measure bank noise: revalue resampled banks, so every value's interval holds both
   errors and the round reports the bank size its payout tolerance needs
   (``attribution.engine.valuation.round_noise``).
6. Optionally grow the banks to that size (within an allowance) and value again on them
   (``attribution.engine.valuation.bank_growth``): the extra samples are a separate draw with
   their own seed and cache entry, so the first K samples stay the ones a round without growth
   would have drawn.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import ExactShapley, ShapleyEstimator, SurrogateShapley
from attribution.engine.features import Features, Featurizer
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.generation import GenerationBackend, contributor_seed
from attribution.engine.metrics import BankStatistics, compute_bank_statistics
from attribution.engine.progress import Progress, report
from attribution.engine.store import ArtefactStore
from attribution.engine.valuation.bank_growth import BankGrowth, GrowthDecision, decide_growth
from attribution.engine.valuation.bank_noise import BankSamples
from attribution.engine.valuation.round_noise import NoiseOptions, RoundNoise, measure_round_noise

Images = NDArray[np.float32]
Scorer = Callable[[Images, Features, int], NDArray[np.float64]]
"""``scorer(images, features, contributor_index) -> (K,)``: a per-sample scalar (artefact, ...)."""


@dataclass(frozen=True)
class ContributorInput:
    """One contributor in a round.

    Attributes:
        key: Stable identifier; with the round seed it determines the contributor's samples.
        conditions: The conditions of the contributor's records (class labels or prompts);
            generation draws from them uniformly.
        n_records: |C_i|, the contributor's weight in every coalition's mixture; defaults to
            the number of conditions.
    """

    key: str
    conditions: Sequence[Any]
    n_records: int | None = None

    @property
    def size(self) -> int:
        """|C_i|."""
        return len(self.conditions) if self.n_records is None else self.n_records


@dataclass
class Valuation:
    """One metric's values for every contributor, with diagnostics."""

    metric: str
    values: NDArray[np.float64]
    stderr: NDArray[np.float64] | None
    baseline: float
    grand_value: float
    n_evaluations: int
    estimator: ShapleyEstimator
    exact_values: NDArray[np.float64] | None = None
    seconds: float = 0.0
    noise: RoundNoise | None = None

    def confidence_interval(self, level: float = 0.95) -> NDArray[np.float64] | None:
        """(n, 2) normal intervals — of estimation and bank noise together when the bank noise
        was measured — or None without standard errors."""
        if self.noise is not None:
            combined = self.noise.interval(self.values, level)
            if combined is not None:
                return combined
        return None if self.stderr is None else self.estimator.confidence_interval(level)


@dataclass
class RoundResult:
    """Everything a round produced."""

    keys: list[str]
    statistics: BankStatistics
    valuations: dict[str, Valuation]
    timings: dict[str, float] = field(default_factory=dict)
    growth: GrowthDecision | None = None
    """Whether the banks grew to meet the tolerance (None: the round allowed no growth)."""


def conditions_digest(conditions: Sequence[Any]) -> str:
    """SHA-256 of a contributor's conditions as JSON: part of the bank's cache key."""
    return hashlib.sha256(json.dumps(list(conditions), sort_keys=True).encode()).hexdigest()


def generate_banks(
    contributors: Sequence[ContributorInput],
    backend: GenerationBackend[Any],
    *,
    n_samples: int | Sequence[int],
    seed: int,
    store: ArtefactStore | None = None,
    progress: Progress | None = None,
) -> tuple[list[Images], list[dict[str, Any]]]:
    """One bank per contributor, from the store when it has it; also each bank's cache inputs.

    ``n_samples`` is every bank's size, or each contributor's.
    """
    counts = [n_samples] * len(contributors) if isinstance(n_samples, int) else list(n_samples)
    if len(counts) != len(contributors):
        raise EngineInputError(f"n_samples has {len(counts)} sizes for {len(contributors)} banks.")
    banks, inputs = [], []
    description = backend.describe()
    for index, (contributor, n_samples) in enumerate(zip(contributors, counts, strict=True)):
        bank_seed = contributor_seed(seed, contributor.key)
        key_inputs = {
            "backend": description,
            "conditions": conditions_digest(contributor.conditions),
            "n_samples": n_samples,
            "seed": bank_seed,
        }

        def compute(
            contributor: ContributorInput = contributor,
            bank_seed: int = bank_seed,
            n_samples: int = n_samples,
        ) -> dict[str, Any]:
            return {
                "images": backend.generate(
                    contributor.conditions,
                    n_samples,
                    bank_seed,
                    _prefixed(progress, f"generate {contributor.key}"),
                )
            }

        found = store.fetch("bank", key_inputs, compute) if store else compute()
        banks.append(np.asarray(found["images"], dtype=np.float32))
        inputs.append(key_inputs)
        report(progress, "banks", index + 1, len(contributors))
    return banks, inputs


def featurize_banks(
    banks: Sequence[Images],
    bank_inputs: Sequence[Mapping[str, Any]],
    featurizer: Featurizer,
    *,
    store: ArtefactStore | None = None,
    progress: Progress | None = None,
) -> list[Features]:
    """Features of every bank, from the store when it has them."""
    description = featurizer.describe()
    result = []
    for index, (images, inputs) in enumerate(zip(banks, bank_inputs, strict=True)):

        def compute(images: Images = images) -> dict[str, Any]:
            features = featurizer(images)
            arrays = {"embeddings": features.embeddings}
            if features.probabilities is not None:
                arrays["probabilities"] = features.probabilities
            return arrays

        key_inputs = {"bank": dict(inputs), "featurizer": description}
        found = store.fetch("features", key_inputs, compute) if store else compute()
        result.append(Features(found.get("probabilities"), found["embeddings"]))
        report(progress, "features", index + 1, len(banks))
    return result


def build_statistics(
    banks: Sequence[Images],
    features: Sequence[Features],
    scorers: Mapping[str, Scorer] | None = None,
) -> BankStatistics:
    """Per-contributor sufficient statistics of the banks, features and per-sample scores."""
    return statistics_of(bank_samples(banks, features, scorers))


def statistics_of(samples: BankSamples) -> BankStatistics:
    """The sufficient statistics of per-sample rows, in the rows' own precision."""
    return compute_bank_statistics(
        probabilities=samples.probabilities,
        features=samples.features,
        scores=dict(samples.scores) or None,
    )


def bank_samples(
    banks: Sequence[Images],
    features: Sequence[Features],
    scorers: Mapping[str, Scorer] | None = None,
) -> BankSamples:
    """The per-sample rows behind :func:`build_statistics` (for the bank-noise bootstrap)."""
    probabilities = [f.probabilities for f in features]
    has_probabilities = all(p is not None for p in probabilities)
    return BankSamples(
        probabilities=probabilities if has_probabilities else None,  # type: ignore[arg-type]
        features=[f.embeddings for f in features],
        scores={
            name: [
                scorer(images, feats, i)
                for i, (images, feats) in enumerate(zip(banks, features, strict=True))
            ]
            for name, scorer in (scorers or {}).items()
        },
    )


def value_contributors(
    statistics: BankStatistics,
    data_sizes: Sequence[int],
    metric: Metric,
    estimator: ShapleyEstimator,
    *,
    empty_value: EmptyValue = "floor",
    exact: bool = False,
    samples: BankSamples | None = None,
    noise: NoiseOptions | None = None,
    progress: Progress | None = None,
) -> Valuation:
    """Fit ``estimator`` on the proxy game of one metric (and exact values if asked); with
    ``samples`` and ``noise``, measure the bank noise of the values too."""
    start = time.perf_counter()
    game = ProxyGame(statistics, data_sizes, metric, empty_value)
    estimator.fit(game)
    exact_values = ExactShapley().fit(game).values_ if exact else None
    measured = None
    if noise is not None:
        if samples is None:
            raise EngineInputError("measuring bank noise needs the banks' per-sample rows.")
        measured = measure_round_noise(
            samples, data_sizes, metric, empty_value, estimator.stderr_, noise, progress, game=game
        )
    return Valuation(
        metric=metric.name,
        values=estimator.values_,
        stderr=estimator.stderr_,
        baseline=estimator.baseline_,
        grand_value=estimator.grand_value_,
        n_evaluations=estimator.n_evaluations_,
        estimator=estimator,
        exact_values=exact_values,
        seconds=time.perf_counter() - start,
        noise=measured,
    )


def run_round(
    contributors: Sequence[ContributorInput],
    backend: GenerationBackend[Any],
    featurizer: Featurizer,
    metrics: Mapping[str, Metric],
    *,
    n_samples: int = 64,
    seed: int = 0,
    scorers: Mapping[str, Scorer] | None = None,
    empty_values: Mapping[str, EmptyValue] | None = None,
    estimator: Callable[[], ShapleyEstimator] | None = None,
    exact: bool = False,
    noise: NoiseOptions | None = None,
    growth: BankGrowth | None = None,
    store: ArtefactStore | None = None,
    progress: Progress | None = None,
) -> RoundResult:
    """Value every contributor on every metric (see the module docstring for the steps).

    Args:
        contributors: Who is valued, with their records' conditions.
        backend: The pretrained model (``generation``).
        featurizer: Images → probabilities and embeddings (``features``).
        metrics: Name → metric (``metrics``); each gives one ``Valuation``.
        n_samples: Bank size per contributor.
        seed: Round seed; each contributor's samples use ``contributor_seed(seed, key)``.
        scorers: Per-sample scores the metrics read (e.g. ``"artefact"``).
        empty_values: Metric name → v(∅) policy (default ``"floor"``).
        estimator: Factory of a fresh estimator per metric (default ``SurrogateShapley()``).
        exact: Also compute exact Shapley values of each proxy game (2^n coalitions).
        noise: Measure each valuation's bank noise with these options (None: do not).
        growth: Grow the banks, within this allowance, to the K the measured noise says the
            payout tolerance needs, and value again (needs ``noise``; None: never grow).
        store: Artefact cache; banks and features are reused from it.
        progress: ``progress(stage, done, total)``.
    """
    if len({c.key for c in contributors}) != len(contributors):
        raise EngineInputError("contributor keys must be unique within a round.")
    if len(contributors) < 2:
        raise EngineInputError("a round needs at least 2 contributors to share value.")
    if growth is not None and noise is None:
        raise EngineInputError("growing the banks needs their noise measured (noise=...).")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    banks, bank_inputs = generate_banks(
        contributors, backend, n_samples=n_samples, seed=seed, store=store, progress=progress
    )
    timings["generate"] = time.perf_counter() - start
    start = time.perf_counter()
    features = featurize_banks(banks, bank_inputs, featurizer, store=store, progress=progress)
    timings["featurize"] = time.perf_counter() - start
    sizes = [c.size for c in contributors]

    def value_all(
        samples: BankSamples, progress: Progress | None, label: str = "value"
    ) -> tuple[BankStatistics, dict[str, Valuation]]:
        statistics = statistics_of(samples)
        valuations = {}
        for index, (name, metric) in enumerate(metrics.items()):
            start = time.perf_counter()
            valuations[name] = value_contributors(
                statistics,
                sizes,
                metric,
                (estimator or SurrogateShapley)(),
                empty_value=(empty_values or {}).get(name, "floor"),
                exact=exact,
                samples=samples if noise is not None else None,
                noise=noise,
                progress=progress,
            )
            timings[f"{label} {name}"] = time.perf_counter() - start
            report(progress, "metrics", index + 1, len(metrics))
        return statistics, valuations

    samples = bank_samples(banks, features, scorers)
    statistics, valuations = value_all(samples, progress)
    decision = None
    if growth is not None:
        plans = [v.noise.plan if v.noise is not None else None for v in valuations.values()]
        decision = decide_growth(plans, n_samples, growth)
        if decision.grows:
            start = time.perf_counter()
            grown = _prefixed_all(progress, GROWTH_STAGE)
            counts = decision.extra_samples(len(contributors))
            growing = [j for j, count in enumerate(counts) if count > 0]
            extra, extra_inputs = generate_banks(
                [contributors[j] for j in growing],
                backend,
                n_samples=[counts[j] for j in growing],
                seed=growth_seed(seed),
                store=store,
                progress=grown,
            )
            extra_features = featurize_banks(
                extra, extra_inputs, featurizer, store=store, progress=grown
            )
            # Only the new samples are scored; the first K keep the rows already computed.
            samples = samples.followed_by(
                bank_samples(extra, extra_features, scorers), positions=growing
            )
            timings["grow"] = time.perf_counter() - start
            statistics, valuations = value_all(samples, grown, "revalue")
    return RoundResult(
        [c.key for c in contributors], statistics, valuations, timings, growth=decision
    )


GROWTH_STAGE = "grow"
"""Stages after the banks grew are reported as ``"grow <stage>"`` (``"grow banks"``, ...)."""


def growth_seed(seed: int) -> int:
    """The seed of the samples a round adds when its banks grow (distinct from the round's)."""
    return contributor_seed(seed, "#bank growth")


def _prefixed_all(progress: Progress | None, prefix: str) -> Progress | None:
    """Prefix every stage an inner progress callback reports with ``prefix``."""
    if progress is None:
        return None

    def forward(stage: str, done: int, total: int) -> None:
        progress(f"{prefix} {stage}", done, total)

    return forward


def _prefixed(progress: Progress | None, stage: str) -> Progress | None:
    """Rename the stage of an inner progress callback."""
    if progress is None:
        return None

    def forward(_stage: str, done: int, total: int) -> None:
        progress(stage, done, total)

    return forward
