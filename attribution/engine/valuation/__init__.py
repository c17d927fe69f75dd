"""Money-grade valuation: a payout tolerance, the estimator sized to meet it, and bank noise."""

from attribution.engine.valuation.bank_noise import (
    BankNoise,
    BankSamples,
    bootstrap_bank_noise,
    proxy_valuer,
)
from attribution.engine.valuation.bank_size import BankSizePlan, plan_bank_size
from attribution.engine.valuation.estimator import ToleranceShapley
from attribution.engine.valuation.selection import (
    ToleranceValuation,
    efficiency_patch,
    value_to_tolerance,
)
from attribution.engine.valuation.tolerance import PayoutTolerance

__all__ = [
    "BankNoise",
    "BankSamples",
    "BankSizePlan",
    "PayoutTolerance",
    "ToleranceShapley",
    "ToleranceValuation",
    "bootstrap_bank_noise",
    "efficiency_patch",
    "plan_bank_size",
    "proxy_valuer",
    "value_to_tolerance",
]
