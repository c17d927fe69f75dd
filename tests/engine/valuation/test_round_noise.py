"""A round's bank noise: replicate estimator by cost, combined intervals, K for the tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine import EngineInputError, ExactShapley
from attribution.engine.metrics import MeanScore, compute_bank_statistics
from attribution.engine.valuation import BankSamples, PayoutTolerance, proxy_valuer
from attribution.engine.valuation.round_noise import NoiseOptions, measure_round_noise

MEANS = np.array([0.2, 0.5, 0.9, 1.4, 2.0, 1.1])
SIZES = [10, 20, 30, 40, 50, 25]
METRIC = MeanScore("quality")


def banks(k: int, seed: int) -> BankSamples:
    rng = np.random.default_rng(seed)
    return BankSamples(scores={"quality": [rng.normal(m, 1.0, k) for m in MEANS]})


def true_values() -> np.ndarray:
    statistics = compute_bank_statistics(scores={"quality": [[m] for m in MEANS]})
    return proxy_valuer(SIZES, METRIC, 0.0, ExactShapley)(statistics)[0]


def test_small_games_replicate_with_exact_values_and_name_the_k_the_tolerance_needs() -> None:
    noise = measure_round_noise(banks(64, 0), SIZES, METRIC, 0.0, None, NoiseOptions(seed=1))

    assert noise.replicate_estimator == "exact"
    assert noise.noise is not None
    assert noise.noise.values.shape == (20, len(MEANS))
    assert noise.plan is not None
    assert noise.plan.requested_k == 64
    # With exact values the achieved precision is the bank noise alone.
    assert noise.combined_points == pytest.approx(noise.bank_points)
    # K that meets ±0.25 pp predicts a half-width within it (noise falls as 1/√K).
    assert noise.plan.required_k is not None
    assert noise.plan.required_k > 64
    assert noise.bank_points * np.sqrt(64 / noise.plan.required_k) <= 0.25 + 1e-9
    assert f"K = {noise.plan.required_k:,}" in noise.reason
    assert "missing it by" in noise.reason
    assert len(noise.drivers) == 5
    assert len(set(noise.drivers)) == 5


def test_a_looser_tolerance_needs_fewer_samples() -> None:
    tight = measure_round_noise(banks(64, 0), SIZES, METRIC, 0.0, None, NoiseOptions(seed=1))
    loose = measure_round_noise(
        banks(64, 0), SIZES, METRIC, 0.0, None, NoiseOptions(PayoutTolerance(20.0), seed=1)
    )

    assert tight.plan is not None
    assert loose.plan is not None
    assert loose.plan.required_k is not None
    assert tight.plan.required_k is not None
    assert loose.plan.required_k < tight.plan.required_k
    assert loose.plan.meets
    assert "within the tolerance" in loose.reason


def test_intervals_hold_both_errors_and_cover_the_infinite_bank_values() -> None:
    truth = true_values()
    covered, total = 0, 0
    for seed in range(30):
        samples = banks(64, 100 + seed)
        values = proxy_valuer(SIZES, METRIC, 0.0, ExactShapley)(samples.statistics())[0]
        noise = measure_round_noise(
            samples, SIZES, METRIC, 0.0, None, NoiseOptions(replicates=30, seed=seed)
        )
        interval = noise.interval(values)
        assert interval is not None
        covered += int(((interval[:, 0] <= truth) & (truth <= interval[:, 1])).sum())
        total += len(truth)
    assert covered / total >= 0.88  # nominal 95%, with 30 replicates per bootstrap


def test_estimation_error_widens_the_interval() -> None:
    samples = banks(64, 0)
    values = proxy_valuer(SIZES, METRIC, 0.0, ExactShapley)(samples.statistics())[0]
    without = measure_round_noise(samples, SIZES, METRIC, 0.0, None, NoiseOptions(seed=1))
    with_error = measure_round_noise(
        samples, SIZES, METRIC, 0.0, np.full(len(MEANS), 0.05), NoiseOptions(seed=1)
    )

    narrow, wide = without.interval(values), with_error.interval(values)
    assert narrow is not None
    assert wide is not None
    assert np.all(wide[:, 1] - wide[:, 0] > narrow[:, 1] - narrow[:, 0])
    assert with_error.combined_points is not None
    assert without.combined_points is not None
    assert with_error.combined_points > without.combined_points


def test_larger_games_replicate_with_seeded_permutation_sampling() -> None:
    noise = measure_round_noise(
        banks(32, 0), SIZES, METRIC, 0.0, None, NoiseOptions(seed=1, max_exact_players=4)
    )

    assert noise.replicate_estimator == "permutation"
    assert noise.combined_points is not None
    assert np.isfinite(noise.combined_points)


def test_a_game_without_a_pool_has_no_shares_to_size() -> None:
    flat = BankSamples(scores={"quality": [np.ones(16) for _ in MEANS]})

    noise = measure_round_noise(flat, SIZES, METRIC, 1.0, None, NoiseOptions(seed=1))

    assert noise.plan is None
    assert noise.combined_points is None
    assert "no shares" in noise.reason


def test_a_budget_too_small_for_any_replicate_is_reported_not_run() -> None:
    noise = measure_round_noise(
        banks(16, 0),
        SIZES,
        METRIC,
        0.0,
        None,
        NoiseOptions(time_budget_s=1e-9, seed=1, max_exact_players=2),
    )

    assert noise.noise is None
    assert noise.interval(np.zeros(len(MEANS))) is None
    assert "not measured" in noise.reason


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"replicates": 1}, "at least 2"),
        ({"replicates": 2.5}, "integer"),
        ({"time_budget_s": 0}, "positive"),
    ],
)
def test_bad_options_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(EngineInputError, match=message):
        NoiseOptions(**fields)  # type: ignore[arg-type]


def test_banks_too_large_to_resample_are_reported_not_copied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attribution.engine.valuation import round_noise

    monkeypatch.setattr(round_noise, "MAX_RESAMPLE_BYTES", 8 * 6 * 16 - 1)  # one number short

    noise = measure_round_noise(banks(16, 0), SIZES, METRIC, 0.0, None, NoiseOptions(seed=1))

    assert noise.noise is None
    assert "would copy" in noise.reason


def test_incremental_games_size_permutation_replicates_by_the_prefix_cost() -> None:
    many = BankSamples(
        scores={"quality": [np.random.default_rng(i).normal(1.0, 1.0, 8) for i in range(400)]}
    )

    noise = measure_round_noise(
        many, [1] * 400, METRIC, 0.0, None, NoiseOptions(replicates=3, time_budget_s=20, seed=1)
    )

    assert noise.replicate_estimator == "permutation"
    assert noise.noise is not None
