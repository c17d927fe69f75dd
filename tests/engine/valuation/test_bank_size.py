"""plan_bank_size: the K a tolerance needs under 1/√K bank noise, and misses of a requested K."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine import EngineInputError
from attribution.engine.valuation import PayoutTolerance, plan_bank_size

TOLERANCE = PayoutTolerance()
T = TOLERANCE.share_stderr


def test_required_k_scales_the_measured_k_by_the_variance_ratio() -> None:
    plan = plan_bank_size(np.array([T, 2 * T, 0.5 * T]), 64, TOLERANCE)
    assert plan.required_k == 256  # the worst contributor needs 4× the samples
    np.testing.assert_allclose(plan.per_contributor_k, [64, 256, 16])
    at_required = plan_bank_size(np.array([2 * T]), 64, TOLERANCE, requested_k=256)
    assert at_required.predicted_points == pytest.approx(0.25)
    assert at_required.meets


def test_a_requested_k_that_is_too_small_reports_the_miss() -> None:
    plan = plan_bank_size(np.array([2 * T]), 64, TOLERANCE, requested_k=64)
    assert not plan.meets
    assert plan.predicted_points == pytest.approx(0.5)
    assert plan.miss_points == pytest.approx(0.25)
    assert "missing it by 0.250 pp" in plan.reason


def test_estimation_error_uses_up_part_of_the_tolerance() -> None:
    est = np.array([0.6 * T])
    plan = plan_bank_size(np.array([0.8 * T]), 100, TOLERANCE, estimation_share_sd=est)
    assert plan.required_k == 100  # 0.64 / (1 − 0.36)


def test_no_k_is_enough_when_estimation_alone_misses() -> None:
    plan = plan_bank_size(np.array([0.1 * T]), 64, TOLERANCE, estimation_share_sd=np.array([T]))
    assert plan.required_k is None
    assert not plan.meets
    assert "estimation error alone" in plan.reason


def test_rerun_agreement_needs_twice_the_samples() -> None:
    value = plan_bank_size(np.array([T]), 50, TOLERANCE)
    rerun = plan_bank_size(np.array([T]), 50, TOLERANCE, kind="rerun")
    assert value.required_k == 50
    assert rerun.required_k == 100


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(EngineInputError):
        plan_bank_size(np.array([-1.0]), 64)
    with pytest.raises(EngineInputError):
        plan_bank_size(np.array([T]), 0)


def test_banks_of_different_sizes_scale_each_need_from_its_own_bank() -> None:
    plan = plan_bank_size(
        np.array([T, 2 * T, T]), 64, TOLERANCE, measured_sizes=np.array([64, 100, 400])
    )

    np.testing.assert_allclose(plan.per_contributor_k, [64, 400, 400])
    assert plan.required_k == 400
    assert plan.predicted_points == pytest.approx(0.5)  # the noise as measured: 2T at its K
    assert "K = 64–400" in plan.reason


@pytest.mark.parametrize("sizes", [[64, 0, 64], [64, 64], [64, float("nan"), 64]])
def test_bank_sizes_must_be_one_positive_size_per_contributor(sizes: list[float]) -> None:
    with pytest.raises(EngineInputError, match="measured_sizes"):
        plan_bank_size(np.array([T, T, T]), 64, TOLERANCE, measured_sizes=np.array(sizes))
