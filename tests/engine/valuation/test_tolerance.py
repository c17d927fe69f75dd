"""PayoutTolerance: the default contract and the conversions between shares, values and pp."""

from __future__ import annotations

import pytest

from attribution.engine import EngineInputError
from attribution.engine.valuation import PayoutTolerance


def test_default_is_a_quarter_point_at_95_percent() -> None:
    tolerance = PayoutTolerance()
    assert tolerance.percentage_points == 0.25
    assert tolerance.z == pytest.approx(1.959964, abs=1e-6)
    assert tolerance.share_half_width == pytest.approx(0.0025)
    assert tolerance.share_stderr == pytest.approx(0.0025 / 1.959964, rel=1e-6)


def test_value_stderr_scales_with_the_size_of_the_pool() -> None:
    tolerance = PayoutTolerance(percentage_points=1.0, level=0.9)
    assert tolerance.value_stderr(-200.0) == pytest.approx(200.0 * 0.01 / tolerance.z)
    assert tolerance.half_width_points(tolerance.share_stderr) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "options",
    [{"percentage_points": 0}, {"percentage_points": -1}, {"percentage_points": 100}, {"level": 1}],
)
def test_bad_tolerances_are_refused(options: dict) -> None:
    with pytest.raises(EngineInputError):
        PayoutTolerance(**options)
