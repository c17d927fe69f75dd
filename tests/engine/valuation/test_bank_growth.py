"""decide_growth: whether a round grows its banks, to what K, and what it says."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.valuation.bank_growth import BankGrowth, decide_growth
from attribution.engine.valuation.bank_size import BankSizePlan, plan_bank_size


def plan(required_k: int | None) -> BankSizePlan:
    """A plan whose tolerance needs ``required_k`` samples (None: estimation alone misses)."""
    if required_k is None:
        return plan_bank_size([0.01], 64, estimation_share_sd=[1.0])
    # share sd s at K0 = 64 meets t = share_stderr at K = 64 s²/t²: choose s to land on required_k
    from attribution.engine.valuation.tolerance import PayoutTolerance

    t = PayoutTolerance().share_stderr
    s = t * np.sqrt(required_k / 64) * (1 - 1e-12)
    return plan_bank_size([s], 64)


def test_a_plan_that_needs_more_samples_grows_the_banks_to_that_size() -> None:
    decision = decide_growth([plan(300)], 64, BankGrowth(1_000))

    assert decision.grows
    assert (decision.from_k, decision.to_k, decision.required_k) == (64, 300, 300)
    assert not decision.capped
    assert "from K = 64 to 300" in decision.reason


def test_growth_stops_at_the_allowance_and_says_what_the_tolerance_needs() -> None:
    decision = decide_growth([plan(5_000)], 64, BankGrowth(256))

    assert (decision.to_k, decision.required_k, decision.capped) == (256, 5_000, True)
    assert "allowance" in decision.reason
    assert "5,000" in decision.reason


def test_the_largest_need_over_the_metrics_sets_the_size() -> None:
    decision = decide_growth([plan(100), None, plan(400)], 64, BankGrowth(10_000))

    assert decision.to_k == 400


@pytest.mark.parametrize(
    ("plans", "allowance", "words"),
    [
        ([plan(50)], 1_000, "meets the tolerance"),
        ([None], 1_000, "not measured"),
        ([plan(None)], 1_000, "estimation error alone"),
        ([plan(500)], 64, "allows at most 64"),
    ],
)
def test_no_growth_when_the_banks_suffice_or_more_samples_cannot_help(
    plans: list[BankSizePlan | None], allowance: int, words: str
) -> None:
    decision = decide_growth(plans, 64, BankGrowth(allowance))

    assert not decision.grows
    assert decision.to_k == 64
    assert words in decision.reason


@pytest.mark.parametrize("bad", [0, -5, True, 2.5])
def test_the_allowance_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(EngineInputError):
        BankGrowth(bad)  # type: ignore[arg-type]
