"""decide_growth: whether a round grows its banks, to what K, and what it says."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.valuation.bank_growth import BankGrowth, decide_growth
from attribution.engine.valuation.bank_size import BankSizePlan, plan_bank_size


def plans_for(needs: list[int]) -> BankSizePlan:
    """A plan in which contributor i's own share needs ``needs[i]`` samples."""
    from attribution.engine.valuation.tolerance import PayoutTolerance

    t = PayoutTolerance().share_stderr
    return plan_bank_size(t * np.sqrt(np.array(needs) / 64) * (1 - 1e-12), 64)


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


def test_targeted_growth_tops_up_each_bank_to_its_own_need_within_the_allowance() -> None:
    decision = decide_growth([plans_for([300, 50, 1_000])], 64, BankGrowth(600, floor=0.0))

    assert decision.targets == (300, 64, 600)  # 50 needs no more; 1,000 stops at the allowance
    assert (decision.to_k, decision.required_k, decision.capped) == (600, 1_000, True)
    assert decision.extra_samples(3) == [236, 0, 536]
    assert "the banks of 2 of 3 contributors grew" in decision.reason
    assert "between 300 and 600 samples, each to the size its own share needs" in decision.reason
    assert "772 new samples" in decision.reason
    assert "would have drawn 1,608" in decision.reason  # 3 × (600 − 64)
    assert "at least" not in decision.reason


def test_a_targeted_growth_tops_every_bank_up_to_its_floor() -> None:
    needs = plans_for([300, 50, 1_000, 70])

    decision = decide_growth([needs], 64, BankGrowth(600))  # the default floor: a quarter

    assert decision.targets == (300, 150, 600, 150)  # ceil(0.25 × 600) = 150 at least
    assert "every contributor's bank grew from K = 64 to between 150 and 600" in decision.reason
    assert "and at least 150" in decision.reason
    assert decide_growth([needs], 64, BankGrowth(600, floor=1.0)).targets == (600,) * 4


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "half"])
def test_the_floor_must_be_a_fraction(bad: object) -> None:
    with pytest.raises(EngineInputError, match="floor"):
        BankGrowth(100, floor=bad)  # type: ignore[arg-type]


def test_a_contributor_s_need_is_the_largest_over_the_metrics() -> None:
    decision = decide_growth(
        [plans_for([100, 400]), None, plans_for([300, 50])], 64, BankGrowth(10_000, floor=0.0)
    )

    assert decision.targets == (300, 400)
    assert not decision.capped


def test_uniform_growth_grows_every_bank_to_the_largest_need() -> None:
    decision = decide_growth([plans_for([300, 50, 1_000])], 64, BankGrowth(600, targeted=False))

    assert decision.targets == ()
    assert decision.to_k == 600
    assert decision.extra_samples(3) == [536, 536, 536]
    assert "from K = 64 to 600 samples per contributor" in decision.reason


def test_plans_over_different_contributors_are_refused() -> None:
    with pytest.raises(EngineInputError, match="different contributors"):
        decide_growth([plans_for([300, 50]), plans_for([300])], 64, BankGrowth(600))


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
