"""run_round end to end on a tiny random class-conditional UNet and a fake featurizer (CPU).

The backend is the 1x8x8, 4-label UNet of ``tiny_diffusers`` (weights seed 0) with 2 DDIM steps; the
featurizer is deterministic arithmetic on the pixels, so every test runs in well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.estimators import (
    ExactShapley,
    PermutationShapley,
    ShapleyEstimator,
    SurrogateShapley,
)
from attribution.engine.features import Features
from attribution.engine.generation import ClassConditionalBackend
from attribution.engine.metrics import (
    ArtefactFreeRate,
    ClassEntropy,
    InceptionScore,
    NegativeFrechetDistance,
    reference_statistics,
)
from attribution.engine.progress import Progress
from attribution.engine.run import (
    ContributorInput,
    Valuation,
    build_statistics,
    featurize_banks,
    generate_banks,
    run_round,
)
from attribution.engine.store import ArtefactStore
from tests.engine.tiny_diffusers import make_tiny_class_unet, make_tiny_scheduler

N_SAMPLES = 6
EFFICIENCY_TOLERANCE = 1e-9  # Σφ = v(N) − v(∅) holds by construction, up to float round-off
CONTRIBUTORS = (
    ContributorInput("a", [0]),
    ContributorInput("b", [1, 2]),
    ContributorInput("c", [0, 1, 2], n_records=7),
)


class CountingBackend:
    """Delegates to a backend and counts the banks it is asked to generate."""

    def __init__(self, inner: ClassConditionalBackend) -> None:
        self.inner = inner
        self.calls: list[tuple[list[int], int, int]] = []

    def generate(
        self, conditions: Sequence[int], n_samples: int, seed: int, progress: Progress | None = None
    ) -> np.ndarray:
        self.calls.append((list(conditions), n_samples, seed))
        return self.inner.generate(conditions, n_samples, seed, progress)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()


class FakeFeaturizer:
    """Probabilities: softmax of a fixed random projection (seed 0) of the pixels; embeddings:
    the mean of each image quadrant. Counts the images it featurizes."""

    def __init__(self, n_classes: int = 3, name: str = "fake") -> None:
        self.projection = 4.0 * np.random.default_rng(0).normal(size=(64, n_classes))
        self.name = name
        self.calls = 0

    def __call__(self, images: np.ndarray) -> Features:
        self.calls += 1
        flat = images.reshape(len(images), -1).astype(np.float64)
        logits = flat @ self.projection[: flat.shape[1]]
        exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
        half_h, half_w = images.shape[2] // 2, images.shape[3] // 2
        quadrants = [
            images[:, :, rows, cols].mean(axis=(1, 2, 3))
            for rows in (slice(None, half_h), slice(half_h, None))
            for cols in (slice(None, half_w), slice(half_w, None))
        ]
        return Features(
            exponentials / exponentials.sum(axis=1, keepdims=True),
            np.stack(quadrants, axis=1).astype(np.float64),
        )

    def describe(self) -> dict[str, Any]:
        return {"featurizer": self.name}


def make_backend() -> CountingBackend:
    return CountingBackend(
        ClassConditionalBackend(make_tiny_class_unet(0), make_tiny_scheduler(), n_steps=2)
    )


def small_surrogate() -> ShapleyEstimator:
    return SurrogateShapley(budget=16, n_bootstrap=0, cv_folds=0, depth=2)


def corner_artefact(images: np.ndarray, features: Features, index: int) -> np.ndarray:
    """A 0/1 per-sample 'artefact' detector: the top-left pixel is bright."""
    return (images[:, 0, 0, 0] > 0.5).astype(np.float64)


def fd_metric() -> NegativeFrechetDistance:
    reference = np.random.default_rng(1).random((32, 4))
    return NegativeFrechetDistance(*reference_statistics(reference))


# --- the round -----------------------------------------------------------------------------------


def test_every_metric_gets_values_that_share_exactly_v_n_minus_v_empty() -> None:
    metrics = {"is": InceptionScore(), "entropy": ClassEntropy(), "fd": fd_metric()}

    result = run_round(
        CONTRIBUTORS,
        make_backend(),
        FakeFeaturizer(),
        metrics,
        n_samples=N_SAMPLES,
        seed=0,
        empty_values={"fd": "worst_singleton"},
        estimator=small_surrogate,
        exact=True,
    )

    assert result.keys == ["a", "b", "c"]
    assert set(result.valuations) == set(metrics)
    for name, valuation in result.valuations.items():
        assert valuation.metric == metrics[name].name
        assert valuation.values.shape == (3,)
        assert np.isfinite(valuation.values).all()
        share = valuation.grand_value - valuation.baseline
        assert abs(valuation.values.sum() - share) <= EFFICIENCY_TOLERANCE
        assert valuation.exact_values is not None
        assert abs(valuation.exact_values.sum() - share) <= EFFICIENCY_TOLERANCE
    assert result.valuations["is"].baseline == 1.0  # InceptionScore's floor
    assert result.valuations["entropy"].baseline == 0.0  # ClassEntropy's floor


def test_the_grand_coalition_mixes_banks_by_records_using_n_records() -> None:
    metric = ClassEntropy()
    result = run_round(
        CONTRIBUTORS,
        make_backend(),
        FakeFeaturizer(),
        {"entropy": metric},
        n_samples=N_SAMPLES,
        estimator=small_surrogate,
    )

    sizes = np.array([1.0, 2.0, 7.0])  # len(conditions), len(conditions), n_records
    expected = metric(result.statistics, (sizes / sizes.sum())[None, :])[0]
    assert result.valuations["entropy"].grand_value == pytest.approx(expected, abs=1e-12)


def test_a_second_round_on_the_same_store_reuses_banks_and_features(tmp_path: Path) -> None:
    metrics = {"is": InceptionScore()}
    options: dict[str, Any] = {"n_samples": N_SAMPLES, "seed": 3, "estimator": small_surrogate}
    first_backend, first_featurizer = make_backend(), FakeFeaturizer()
    first = run_round(
        CONTRIBUTORS,
        first_backend,
        first_featurizer,
        metrics,
        store=ArtefactStore(tmp_path),
        **options,
    )
    backend, featurizer = make_backend(), FakeFeaturizer()

    again = run_round(
        CONTRIBUTORS, backend, featurizer, metrics, store=ArtefactStore(tmp_path), **options
    )

    assert len(first_backend.calls) == 3
    assert first_featurizer.calls == 3
    assert backend.calls == []
    assert featurizer.calls == 0
    np.testing.assert_array_equal(first.valuations["is"].values, again.valuations["is"].values)


def test_features_are_recomputed_for_another_featurizer(tmp_path: Path) -> None:
    store = ArtefactStore(tmp_path)
    banks, inputs = generate_banks(CONTRIBUTORS, make_backend(), n_samples=2, seed=0, store=store)
    featurize_banks(banks, inputs, FakeFeaturizer(name="one"), store=store)
    same, other = FakeFeaturizer(name="one"), FakeFeaturizer(name="two")

    featurize_banks(banks, inputs, same, store=store)
    featurize_banks(banks, inputs, other, store=store)

    assert same.calls == 0
    assert other.calls == 3


def test_adding_a_contributor_leaves_everyone_elses_bank_unchanged() -> None:
    newcomer = ContributorInput("d", [3, 3, 1])
    before, _ = generate_banks(CONTRIBUTORS[:2], make_backend(), n_samples=N_SAMPLES, seed=5)

    after, _ = generate_banks(
        [newcomer, *CONTRIBUTORS[:2]], make_backend(), n_samples=N_SAMPLES, seed=5
    )

    np.testing.assert_array_equal(after[1], before[0])
    np.testing.assert_array_equal(after[2], before[1])


def test_banks_can_have_a_size_per_contributor_and_each_keeps_its_own_seed() -> None:
    uniform, uniform_inputs = generate_banks(
        CONTRIBUTORS, make_backend(), n_samples=N_SAMPLES, seed=2
    )

    sized, inputs = generate_banks(
        CONTRIBUTORS, make_backend(), n_samples=[1, N_SAMPLES, 3], seed=2
    )

    assert [len(bank) for bank in sized] == [1, N_SAMPLES, 3]
    np.testing.assert_array_equal(sized[1], uniform[1])
    assert inputs[1] == uniform_inputs[1]
    assert [entry["n_samples"] for entry in inputs] == [1, N_SAMPLES, 3]  # its own cache entry
    with pytest.raises(EngineInputError, match="2 sizes for 3 banks"):
        generate_banks(CONTRIBUTORS, make_backend(), n_samples=[1, 2], seed=2)


def test_changing_the_round_seed_changes_every_bank() -> None:
    first, _ = generate_banks(CONTRIBUTORS, make_backend(), n_samples=N_SAMPLES, seed=0)
    second, _ = generate_banks(CONTRIBUTORS, make_backend(), n_samples=N_SAMPLES, seed=1)

    for one, other in zip(first, second, strict=True):
        assert one.shape == other.shape == (N_SAMPLES, 1, 8, 8)
        assert not np.array_equal(one, other)


@pytest.mark.parametrize(
    "contributors",
    [
        [ContributorInput("a", [0]), ContributorInput("a", [1])],
        [ContributorInput("a", [0])],
        [],
    ],
    ids=["duplicate keys", "one contributor", "no contributors"],
)
def test_a_round_needs_two_or_more_distinct_contributors(
    contributors: list[ContributorInput],
) -> None:
    backend = make_backend()
    with pytest.raises(EngineInputError, match=r"unique|at least 2"):
        run_round(contributors, backend, FakeFeaturizer(), {"is": InceptionScore()})
    assert backend.calls == []


def test_progress_reports_banks_features_and_metrics_to_completion() -> None:
    seen: list[tuple[str, int, int]] = []

    run_round(
        CONTRIBUTORS,
        make_backend(),
        FakeFeaturizer(),
        {"is": InceptionScore(), "entropy": ClassEntropy()},
        n_samples=2,
        estimator=small_surrogate,
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )

    for final in (("banks", 3, 3), ("features", 3, 3), ("metrics", 2, 2)):
        assert final in seen
    assert any(stage == "generate a" for stage, _, _ in seen)


# --- contributors and statistics -----------------------------------------------------------------


def test_contributor_size_is_n_records_when_given_else_the_number_of_conditions() -> None:
    assert ContributorInput("a", [0, 1, 1]).size == 3
    assert ContributorInput("a", [0, 1, 1], n_records=250).size == 250


def test_statistics_pass_scorers_per_sample_scores_through_as_bank_means() -> None:
    rng = np.random.default_rng(2)
    banks = [rng.random((count, 1, 8, 8)).astype(np.float32) for count in (3, 5, 4)]
    featurizer = FakeFeaturizer()
    features = [featurizer(bank) for bank in banks]
    probabilities = [np.asarray(f.probabilities) for f in features]
    scorers = {
        "brightness": lambda images, feats, index: images.mean(axis=(1, 2, 3)),
        "index": lambda images, feats, index: np.full(len(images), float(index)),
        "top_class": lambda images, feats, index: feats.probabilities.max(axis=1),
    }

    statistics = build_statistics(banks, features, scorers)

    np.testing.assert_allclose(
        statistics.score_means["brightness"], [bank.mean() for bank in banks], rtol=1e-6
    )
    np.testing.assert_array_equal(statistics.score_means["index"], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(
        statistics.score_means["top_class"],
        [p.max(axis=1).mean() for p in probabilities],
        rtol=1e-12,
    )
    assert statistics.probability_mean is not None
    np.testing.assert_allclose(
        statistics.probability_mean,
        [p.mean(axis=0) for p in probabilities],
        rtol=1e-12,
    )


def test_statistics_without_probabilities_keep_only_embeddings() -> None:
    banks = [np.zeros((2, 1, 4, 4), np.float32), np.ones((3, 1, 4, 4), np.float32)]
    features = [Features(None, np.full((len(b), 2), float(i))) for i, b in enumerate(banks)]

    statistics = build_statistics(banks, features)

    assert statistics.probability_mean is None
    assert statistics.feature_mean is not None
    np.testing.assert_array_equal(statistics.feature_mean, [[0.0, 0.0], [1.0, 1.0]])


def test_a_round_with_a_scorer_values_the_artefact_free_rate() -> None:
    result = run_round(
        CONTRIBUTORS,
        make_backend(),
        FakeFeaturizer(),
        {"artefact_free": ArtefactFreeRate("artefact")},
        n_samples=N_SAMPLES,
        scorers={"artefact": corner_artefact},
        estimator=small_surrogate,
        exact=True,
    )

    banks, _ = generate_banks(CONTRIBUTORS, make_backend(), n_samples=N_SAMPLES, seed=0)
    rates = np.array([(bank[:, 0, 0, 0] > 0.5).mean() for bank in banks])
    np.testing.assert_array_equal(result.statistics.score_means["artefact"], rates)
    valuation = result.valuations["artefact_free"]
    assert valuation.baseline == 1.0  # no data, no artefacts
    assert valuation.exact_values is not None
    # Σφ = v(N) − v(∅) = (1 − Σ π_i r_i) − 1 with π_i ∝ |C_i| = 1, 2, 7.
    weights = np.array([1.0, 2.0, 7.0]) / 10.0
    assert valuation.exact_values.sum() == pytest.approx(-weights @ rates, abs=1e-12)


def test_a_round_with_noise_options_widens_the_intervals_by_the_bank_noise() -> None:
    from attribution.engine.valuation.round_noise import NoiseOptions

    def run(noise: NoiseOptions | None) -> Valuation:
        result = run_round(
            CONTRIBUTORS,
            make_backend(),
            FakeFeaturizer(),
            {"entropy": ClassEntropy()},
            n_samples=N_SAMPLES,
            estimator=lambda: PermutationShapley(budget=200, seed=0),
            noise=noise,
        )
        return result.valuations["entropy"]

    plain, measured = run(None), run(NoiseOptions(replicates=8, seed=1))

    np.testing.assert_allclose(plain.values, measured.values)
    assert plain.noise is None
    assert measured.noise is not None
    assert measured.noise.replicate_estimator == "exact"
    narrow, wide = plain.confidence_interval(), measured.confidence_interval()
    assert narrow is not None
    assert wide is not None
    assert np.all(wide[:, 1] - wide[:, 0] >= narrow[:, 1] - narrow[:, 0])
    assert np.all((wide[:, 0] <= measured.values) & (measured.values <= wide[:, 1]))


# --- growing the banks to the tolerance ----------------------------------------------------------


def growth_round(
    backend: CountingBackend,
    max_samples: int,
    stages: list[str] | None = None,
    points: float = 0.5,
    targeted: bool = True,
    floor: float = 0.0,
) -> Any:
    from attribution.engine.valuation import PayoutTolerance
    from attribution.engine.valuation.bank_growth import BankGrowth
    from attribution.engine.valuation.round_noise import NoiseOptions

    return run_round(
        CONTRIBUTORS,
        backend,
        FakeFeaturizer(),
        {"entropy": ClassEntropy()},
        n_samples=N_SAMPLES,
        estimator=ExactShapley,
        noise=NoiseOptions(tolerance=PayoutTolerance(points), replicates=8, seed=1),
        growth=BankGrowth(max_samples, targeted=targeted, floor=floor),
        progress=None if stages is None else (lambda stage, done, total: stages.append(stage)),
    )


def test_a_round_grows_every_bank_to_the_k_its_tolerance_needs_and_values_again() -> None:
    from attribution.engine.run import growth_seed

    backend = make_backend()
    stages: list[str] = []
    result = growth_round(backend, max_samples=10_000, stages=stages, points=40.0, targeted=False)

    decision = result.growth
    assert decision is not None
    assert decision.grows
    assert decision.to_k == decision.required_k > N_SAMPLES  # the tight tolerance needs more
    first, extra = backend.calls[:3], backend.calls[3:]
    assert [n for _, n, _ in first] == [N_SAMPLES] * 3
    assert [n for _, n, _ in extra] == [decision.to_k - N_SAMPLES] * 3
    assert {seed for _, _, seed in extra}.isdisjoint({seed for _, _, seed in first})
    assert extra[0][2] != first[0][2]
    assert growth_seed(0) != 0
    noise = result.valuations["entropy"].noise
    assert noise is not None
    assert noise.noise is not None
    assert noise.noise.n_samples.min() == decision.to_k  # measured on the grown banks
    assert "grow banks" in stages
    assert "grow metrics" in stages
    assert stages.index("grow banks") > stages.index("metrics")


def test_targeted_growth_tops_up_each_bank_to_its_own_share_s_need_and_skips_the_rest() -> None:
    backend = make_backend()
    result = growth_round(backend, max_samples=10_000, points=40.0)

    decision = result.growth
    assert decision is not None
    assert decision.grows
    first = growth_round(make_backend(), max_samples=N_SAMPLES, points=40.0)
    plan = first.valuations["entropy"].noise.plan
    own_needs = [max(N_SAMPLES, math.ceil(k - 1e-9)) for k in plan.per_contributor_k]
    assert list(decision.targets) == own_needs  # each bank to its own contributor's need
    assert decision.to_k == max(own_needs) == decision.required_k
    assert len(set(own_needs)) > 1  # the fake banks differ, so the needs do
    extra = backend.calls[3:]
    assert [n for _, n, _ in extra] == [k - N_SAMPLES for k in own_needs if k > N_SAMPLES]
    assert result.statistics.n_samples.tolist() == own_needs
    noise = result.valuations["entropy"].noise
    assert noise.noise.n_samples.tolist() == own_needs  # measured on the banks as grown
    assert noise.plan.measured_k == min(own_needs)
    assert "new samples" in decision.reason
    floored = growth_round(make_backend(), max_samples=10_000, points=40.0, floor=0.5)
    assert floored.growth is not None
    floor = math.ceil(0.5 * max(own_needs))
    assert list(floored.growth.targets) == [max(floor, k) for k in own_needs]


def test_growth_is_capped_by_the_allowance_and_the_first_samples_stay_the_same() -> None:
    grown_backend, plain_backend = make_backend(), make_backend()
    capped = growth_round(grown_backend, max_samples=N_SAMPLES + 2)
    plain = run_round(
        CONTRIBUTORS,
        plain_backend,
        FakeFeaturizer(),
        {"entropy": ClassEntropy()},
        n_samples=N_SAMPLES,
        estimator=ExactShapley,
    )

    decision = capped.growth
    assert decision is not None
    assert decision.to_k == N_SAMPLES + 2
    assert decision.capped
    assert capped.statistics.n_samples.tolist() == [N_SAMPLES + 2] * 3
    # the grown banks begin with exactly the draws of the round without growth
    assert grown_backend.calls[:3] == plain_backend.calls
    assert plain.statistics.n_samples.tolist() == [N_SAMPLES] * 3


def test_growth_without_measuring_the_noise_is_refused() -> None:
    from attribution.engine.valuation.bank_growth import BankGrowth

    with pytest.raises(EngineInputError, match="noise"):
        run_round(
            CONTRIBUTORS,
            make_backend(),
            FakeFeaturizer(),
            {"entropy": ClassEntropy()},
            n_samples=N_SAMPLES,
            growth=BankGrowth(100),
        )
