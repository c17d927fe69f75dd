"""How many samples a round adds to every bank so that its payouts meet the payout tolerance.

A round measures its bank noise at the K it was asked for (``round_noise``); the plan says which K
the tolerance needs (``bank_size``). With a growth allowance the round then draws the missing
samples for every contributor — up to ``max_samples`` each — and values again on the larger
banks, so the precision it reports is measured at the K it reached, not predicted. One step: the
second measurement is reported as it is, met or not (a plan from K₀ = 64 can be off, and a second
step would spend generation the operator did not see coming).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from attribution.engine.errors import EngineInputError
from attribution.engine.valuation.bank_size import BankSizePlan


@dataclass(frozen=True)
class BankGrowth:
    """How far a round may grow its banks: ``max_samples`` per contributor at most."""

    max_samples: int

    def __post_init__(self) -> None:
        if isinstance(self.max_samples, bool) or not isinstance(self.max_samples, int):
            raise EngineInputError(f"max_samples must be an integer, got {self.max_samples!r}.")
        if self.max_samples < 1:
            raise EngineInputError(f"max_samples must be positive, got {self.max_samples}.")


@dataclass(frozen=True)
class GrowthDecision:
    """Whether a round grows its banks, to what size, and why, in one sentence.

    Attributes:
        from_k: The K the round was asked for (and measured its noise at first).
        to_k: The K it grows every bank to (``from_k`` when it does not grow).
        required_k: The K the tolerance needs by the first measurement (None: unknown, or no K
            is enough until the estimation is more precise).
        capped: ``to_k`` stops at the allowance below ``required_k``.
        reason: For the round's diagnostics.
    """

    from_k: int
    to_k: int
    required_k: int | None
    capped: bool
    reason: str

    @property
    def grows(self) -> bool:
        """Whether the round draws more samples."""
        return self.to_k > self.from_k


def decide_growth(
    plans: Sequence[BankSizePlan | None], current_k: int, growth: BankGrowth
) -> GrowthDecision:
    """The growth step the plans of a round's metrics call for, within ``growth``'s allowance.

    Args:
        plans: Every metric's bank-size plan at ``current_k`` (None where noise was not measured).
        current_k: Samples per contributor now.
        growth: The allowance.
    """

    def stay(required: int | None, reason: str, capped: bool = False) -> GrowthDecision:
        return GrowthDecision(current_k, current_k, required, capped, reason)

    measured = [plan for plan in plans if plan is not None]
    if not measured:
        return stay(None, "the banks were not grown: their noise was not measured")
    if any(plan.required_k is None for plan in measured):
        return stay(
            None,
            "the banks were not grown: the estimation error alone exceeds the tolerance, so no "
            "number of samples meets it",
        )
    required = max(int(plan.required_k) for plan in measured if plan.required_k is not None)
    if required <= current_k:
        return stay(required, f"the banks were not grown: K = {current_k:,} meets the tolerance")
    if growth.max_samples <= current_k:
        return stay(
            required,
            f"the banks were not grown: the tolerance needs K = {required:,} and the round "
            f"allows at most {growth.max_samples:,} samples per contributor",
            capped=True,
        )
    to_k = min(required, growth.max_samples)
    capped = to_k < required
    reason = f"the banks grew from K = {current_k:,} to {to_k:,} samples per contributor" + (
        f", the round's allowance (the tolerance needs {required:,})"
        if capped
        else ", the size the first measurement said the tolerance needs"
    )
    return GrowthDecision(current_k, to_k, required, capped, reason)
