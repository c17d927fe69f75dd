"""Bank statistics and mixture weights: exact reductions, validation, the weights' invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attribution.engine.errors import EngineInputError
from attribution.engine.metrics import BankStatistics, compute_bank_statistics, mixture_weights
from attribution.engine.metrics.statistics import check_mixture_weights

SEED = 11
RTOL = 1e-12  # the reductions are plain float64 means; only summation order differs


def _banks(
    seed: int = SEED, sizes: tuple[int, ...] = (5, 8, 3), n_classes: int = 4, dim: int = 3
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Random (probabilities, features, 0/1 scores) per contributor, bank i of K_i = sizes[i]."""
    rng = np.random.default_rng(seed)
    probabilities = [rng.dirichlet(np.ones(n_classes), size=k) for k in sizes]
    features = [rng.normal(i, 1.0 + i, size=(k, dim)) for i, k in enumerate(sizes)]
    scores = [rng.integers(0, 2, size=k).astype(float) for k in sizes]
    return probabilities, features, scores


def test_statistics_are_the_per_bank_means() -> None:
    probabilities, features, scores = _banks()

    stats = compute_bank_statistics(probabilities, features, {"artefact": scores})

    assert stats.n_samples.tolist() == [5, 8, 3]
    assert stats.n_contributors == 3
    for i in range(3):
        p, x = probabilities[i], features[i]
        np.testing.assert_allclose(stats.probability_mean[i], p.mean(axis=0), rtol=RTOL)
        expected_negentropy = np.mean([np.sum(row * np.log(row)) for row in p])
        np.testing.assert_allclose(stats.negative_entropy_mean[i], expected_negentropy, rtol=RTOL)
        np.testing.assert_allclose(stats.feature_mean[i], x.mean(axis=0), rtol=RTOL)
        start, stop = stats.row_offsets[i], stats.row_offsets[i + 1]
        np.testing.assert_array_equal(stats.feature_rows[start:stop], x)
        np.testing.assert_allclose(stats.score_means["artefact"][i], scores[i].mean(), rtol=RTOL)


def test_zero_probabilities_contribute_nothing_to_the_entropy() -> None:
    one_hot = [np.eye(3)[[0, 1, 2, 0]], np.eye(3)[[2, 2]]]

    stats = compute_bank_statistics(one_hot, None)

    assert stats.negative_entropy_mean.tolist() == [0.0, 0.0]
    assert stats.feature_mean is None
    assert stats.feature_rows is None


def test_only_features_or_only_scores_are_enough() -> None:
    _, features, scores = _banks()

    assert compute_bank_statistics(None, features).probability_mean is None
    assert compute_bank_statistics(None, None, {"s": scores}).n_samples.tolist() == [5, 8, 3]


def test_probabilities_summing_to_one_within_tolerance_are_accepted() -> None:
    bank = np.array([[0.5, 0.5 + 5e-5], [0.25, 0.75]])

    stats = compute_bank_statistics([bank, bank], None)

    np.testing.assert_allclose(stats.probability_mean[0], bank.mean(axis=0), rtol=RTOL)


@pytest.mark.parametrize(
    ("probabilities", "message"),
    [
        ([np.array([[0.5, 0.6]]), np.array([[1.0, 0.0]])], "sum to 1"),
        ([np.array([[1.2, -0.2]]), np.array([[1.0, 0.0]])], "negative"),
        ([np.array([[np.nan, 1.0]]), np.array([[1.0, 0.0]])], "NaN"),
        ([np.empty((0, 2)), np.array([[1.0, 0.0]])], "empty"),
        ([np.array([[1.0, 0.0]]), np.array([[1.0, 0.0, 0.0]])], "same classes"),
        ([np.array([1.0, 0.0]), np.array([1.0, 0.0])], "shape"),
        ([np.float64(1.0), np.array([[1.0, 0.0]])], "scalar"),
    ],
)
def test_bad_probabilities_are_rejected(probabilities: list[np.ndarray], message: str) -> None:
    with pytest.raises(EngineInputError, match=message):
        compute_bank_statistics(probabilities, None)


def test_bad_features_and_scores_are_rejected() -> None:
    _, features, scores = _banks()
    features[1][2, 0] = np.inf
    with pytest.raises(EngineInputError, match="features of contributor 1"):
        compute_bank_statistics(None, features)
    with pytest.raises(EngineInputError, match="dimension"):
        compute_bank_statistics(None, [np.zeros((2, 3)), np.zeros((2, 4))])
    scores[0] = scores[0].copy()
    scores[0][0] = np.nan
    with pytest.raises(EngineInputError, match=r"scores\['s'\] of contributor 0"):
        compute_bank_statistics(None, None, {"s": scores})


def test_mismatched_counts_are_rejected() -> None:
    probabilities, features, _ = _banks()
    with pytest.raises(EngineInputError, match="one bank per contributor"):
        compute_bank_statistics(probabilities, features[:2])
    with pytest.raises(EngineInputError, match="contributor 1 has 8 samples"):
        compute_bank_statistics(probabilities, [features[0], features[1][:7], features[2]])
    with pytest.raises(EngineInputError, match="needs probabilities, features or scores"):
        compute_bank_statistics(None, None)


def test_bank_statistics_validates_shapes_and_is_read_only() -> None:
    with pytest.raises(EngineInputError, match="n_samples"):
        BankStatistics(n_samples=np.array([3, 0]))
    with pytest.raises(EngineInputError, match="probability_mean"):
        BankStatistics(n_samples=np.array([3, 4]), probability_mean=np.ones((3, 2)) / 2)
    with pytest.raises(EngineInputError, match=r"feature_rows must have shape .* \(7, 3\)"):
        BankStatistics(
            n_samples=np.array([3, 4]),
            feature_mean=np.zeros((2, 3)),
            feature_rows=np.zeros((7, 2)),
        )
    with pytest.raises(EngineInputError, match=r"feature_rows must have shape .* \(7, 3\)"):
        BankStatistics(
            n_samples=np.array([3, 4]), feature_mean=np.zeros((2, 3)), feature_rows=np.zeros((6, 3))
        )
    with pytest.raises(EngineInputError, match="do not average to feature_mean"):
        BankStatistics(
            n_samples=np.array([3, 4]), feature_mean=np.ones((2, 3)), feature_rows=np.zeros((7, 3))
        )
    with pytest.raises(EngineInputError, match="NaN"):
        BankStatistics(n_samples=np.array([3, 4]), score_means={"s": np.array([0.0, np.nan])})
    with pytest.raises(EngineInputError, match="sum to 1"):
        BankStatistics(n_samples=np.array([3, 4]), probability_mean=np.full((2, 2), 0.6))
    with pytest.raises(EngineInputError, match="≤ 0"):
        BankStatistics(n_samples=np.array([3, 4]), negative_entropy_mean=np.array([-0.1, 0.2]))

    stats = BankStatistics(
        n_samples=np.array([3, 4]), feature_mean=np.zeros((2, 3)), score_means={"s": [0.0, 1.0]}
    )
    with pytest.raises(ValueError, match="read-only"):
        stats.feature_mean[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        stats.score_means["s"][0] = 1.0


def test_require_names_the_missing_statistic() -> None:
    stats = BankStatistics(n_samples=np.array([3, 4]), score_means={"aesthetic": np.ones(2)})
    with pytest.raises(EngineInputError, match=r"'feature_mean'.*pass features"):
        stats.require("feature_mean", "some_metric")
    with pytest.raises(EngineInputError, match=r"'artefact'.*scores present: \['aesthetic'\]"):
        stats.require_score("artefact", "some_metric")


def test_mixture_weights_are_data_size_proportions_within_the_coalition() -> None:
    masks = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)

    weights = mixture_weights(masks, [1.0, 2.0, 3.0])

    expected = [[0.25, 0, 0.75], [0, 0, 0], [1 / 6, 2 / 6, 3 / 6], [0, 1, 0]]
    np.testing.assert_allclose(weights, expected, rtol=1e-15, atol=0)
    assert weights.dtype == np.float64


@pytest.mark.parametrize(
    ("masks", "sizes", "message"),
    [
        (np.ones((2, 3), dtype=bool), [1.0, 0.0, 2.0], "positive"),
        (np.ones((2, 3), dtype=bool), [1.0, -1.0, 2.0], "positive"),
        (np.ones((2, 3), dtype=bool), [1.0, np.nan, 2.0], "positive"),
        (np.ones((2, 3), dtype=bool), [[1.0, 1.0, 2.0]], "1-D"),
        (np.ones((2, 4), dtype=bool), [1.0, 1.0, 2.0], "4 columns"),
        (np.ones((2, 3)), [1.0, 1.0, 2.0], "boolean"),
    ],
)
def test_mixture_weights_reject_bad_input(
    masks: np.ndarray, sizes: list[float], message: str
) -> None:
    with pytest.raises(EngineInputError, match=message):
        mixture_weights(masks, sizes)


@settings(max_examples=60, deadline=None)
@given(
    masks=arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 9))),
    data=st.data(),
)
def test_mixture_weight_rows_sum_to_one_and_vanish_outside_the_coalition(
    masks: np.ndarray, data: st.DataObject
) -> None:
    sizes = data.draw(
        arrays(
            np.float64,
            masks.shape[1],
            elements=st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False),
        )
    )

    weights = mixture_weights(masks, sizes)

    assert weights.shape == masks.shape
    assert (weights[~masks] == 0).all()
    assert (weights[masks] > 0).all()
    nonempty = masks.any(axis=1)
    np.testing.assert_allclose(weights[nonempty].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (weights[~nonempty] == 0).all()


def test_metrics_refuse_weights_that_are_not_a_mixture() -> None:
    with pytest.raises(EngineInputError, match=r"sum to 1.*empty coalition"):
        check_mixture_weights(np.array([[0.5, 0.5], [0.0, 0.0]]), 2)
    with pytest.raises(EngineInputError, match="shape"):
        check_mixture_weights(np.array([[0.5, 0.5]]), 3)
    with pytest.raises(EngineInputError, match="non-negative"):
        check_mixture_weights(np.array([[1.5, -0.5]]), 2)
