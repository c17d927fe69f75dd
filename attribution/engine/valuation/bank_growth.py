"""How many samples a round adds to its banks so that its payouts meet the payout tolerance.

A round measures its bank noise at the K it was asked for (``round_noise``); the plan says which K
the tolerance needs, and which K each contributor's own share needs (``bank_size``). With a
growth allowance the round then draws the missing samples — up to ``max_samples`` per
contributor — and values again on the larger banks, so the precision it reports is measured at
the sizes it reached, not predicted.

Targeted growth (the default) tops up only the banks that drive the uncertainty: contributor j's
bank grows to the K its own share needs, and every bank to at least a floor (a quarter of the
largest). Sizing by the own share's need is exact when a share's bank noise comes from its own
bank alone; where part of it comes from other banks, those are grown for their own shares too,
and the second measurement reports what was reached. On the digits demo's games it comes within
3–15% of the target precision with a quarter to a third of the samples uniform growth needs
(``bench/bank_drivers.py``). The floor is there because a bank's need is estimated from its
first samples: without it, the banks whose noise those underestimate were never grown, and
grown rounds covered an independent reference for only 70–85% of contributors
(``bench/money_growth.py``, which compares the rules against banks the round never saw). Uniform
growth (every bank to the largest need) stays available, and is what rounds frozen before
targeted growth existed do.

One step: the second measurement is reported as it is, met or not (a plan from K₀ = 64 can be
off, and a second step would spend generation the operator did not see coming).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from attribution.engine.errors import EngineInputError
from attribution.engine.valuation.bank_size import BankSizePlan

DEFAULT_FLOOR = 0.25
"""A targeted growth's banks grow to at least this fraction of its largest bank (chosen by
``bench/money_growth.py``; see docs/money_grade.md)."""


@dataclass(frozen=True)
class BankGrowth:
    """How far a round may grow its banks: ``max_samples`` per contributor at most.

    ``targeted``: grow each bank to the K its own contributor's share needs (the default), or
    (False) every bank to the largest need. ``floor``: in a targeted growth every bank grows to
    at least this fraction of the largest bank (a defensive share of the samples: a bank's need
    is estimated from its first K samples, and a bank whose noise those samples underestimate —
    a rare artefact none of them shows — would otherwise never be topped up).
    """

    max_samples: int
    targeted: bool = True
    floor: float = DEFAULT_FLOOR

    def __post_init__(self) -> None:
        if isinstance(self.max_samples, bool) or not isinstance(self.max_samples, int):
            raise EngineInputError(f"max_samples must be an integer, got {self.max_samples!r}.")
        if self.max_samples < 1:
            raise EngineInputError(f"max_samples must be positive, got {self.max_samples}.")
        if (
            isinstance(self.floor, bool)
            or not isinstance(self.floor, int | float)
            or not 0.0 <= self.floor <= 1.0
        ):
            raise EngineInputError(f"floor must be a fraction in [0, 1], got {self.floor!r}.")


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
        targets: Targeted growth: the K each contributor's bank grows to (``to_k`` is the
            largest); empty when every bank grows to ``to_k`` (or none grows).
    """

    from_k: int
    to_k: int
    required_k: int | None
    capped: bool
    reason: str
    targets: tuple[int, ...] = field(default=())

    @property
    def grows(self) -> bool:
        """Whether the round draws more samples."""
        return self.to_k > self.from_k

    def extra_samples(self, n: int) -> list[int]:
        """How many samples each of the ``n`` contributors' banks gains."""
        if self.targets:
            if len(self.targets) != n:
                raise EngineInputError(
                    f"the growth decision covers {len(self.targets)} contributors, not {n}."
                )
            return [k - self.from_k for k in self.targets]
        return [self.to_k - self.from_k] * n


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
    limit = (
        f", the round's allowance (the tolerance needs {required:,})"
        if capped
        else ", the size the first measurement said the tolerance needs"
    )
    if not growth.targeted:
        reason = f"the banks grew from K = {current_k:,} to {to_k:,} samples per contributor"
        return GrowthDecision(current_k, to_k, required, capped, reason + limit)
    floor = math.ceil(growth.floor * to_k)
    targets = _targets(measured, current_k, growth.max_samples, floor)
    grown = sum(k > current_k for k in targets)
    added = sum(k - current_k for k in targets)
    at_least = f" and at least {floor:,}" if floor > current_k else ""
    whose = (
        "every contributor's bank"
        if grown == len(targets)
        else f"the banks of {grown:,} of {len(targets):,} contributors"
    )
    reason = (
        f"{whose} grew from K = {current_k:,} to "
        f"{_range_text(targets, current_k)}, each to the size its own share needs{at_least}"
        f"{limit}; {added:,} new samples, where growing every bank to {to_k:,} would have drawn "
        f"{(to_k - current_k) * len(targets):,}"
    )
    return GrowthDecision(current_k, to_k, required, capped, reason, targets=tuple(targets))


def _targets(plans: Sequence[BankSizePlan], current_k: int, cap: int, floor: int) -> list[int]:
    """Each contributor's bank size: its own share's largest need over the plans, at least
    ``floor``, within [current_k, cap]."""
    sizes = {len(plan.per_contributor_k) for plan in plans}
    if len(sizes) != 1:
        raise EngineInputError("the metrics' bank-size plans cover different contributors.")
    targets = []
    for j in range(sizes.pop()):
        need = max(float(plan.per_contributor_k[j]) for plan in plans)
        targets.append(min(cap, max(current_k, floor, math.ceil(need - 1e-9))))
    return targets


def _range_text(targets: Sequence[int], current_k: int) -> str:
    """``"640 samples each"`` or ``"between 80 and 640 samples"`` for the grown banks."""
    grown = [k for k in targets if k > current_k]
    low, high = min(grown), max(grown)
    return f"{high:,} samples each" if low == high else f"between {low:,} and {high:,} samples"
