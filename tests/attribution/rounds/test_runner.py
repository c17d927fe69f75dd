"""runner: what a round's outcome records of its banks' noise and growth."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from attribution.rounds.runner import _required_total


def measured(needs: list[float], sizes: list[int]) -> SimpleNamespace:
    """The parts of an engine RoundNoise the total reads."""
    return SimpleNamespace(
        plan=SimpleNamespace(per_contributor_k=np.array(needs)),
        noise=SimpleNamespace(n_samples=np.array(sizes)),
    )


def test_the_total_a_targeted_growth_needs_counts_each_bank_at_its_need_and_floor() -> None:
    # needs 1,000 / 100 / 30 at banks of 64: the floor is a quarter of 1,000 = 250
    assert _required_total(measured([1_000.0, 100.0, 30.0], [64, 64, 64])) == 1_000 + 250 + 250


def test_a_bank_already_larger_than_its_need_counts_as_it_is() -> None:
    assert _required_total(measured([10.0, 20.0], [64, 4_000])) == 64 + 4_000


def test_no_total_when_some_share_cannot_meet_the_tolerance_or_nothing_was_measured() -> None:
    assert _required_total(measured([np.inf, 20.0], [64, 64])) is None
    assert _required_total(SimpleNamespace(plan=None, noise=None)) is None  # type: ignore[arg-type]
