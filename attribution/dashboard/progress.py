"""A running round's progress over all its stages, in words, with an estimate of the time left.

The worker records the stage it is in and its progress *within* that stage (``progress`` on the
round row: 1.0 while generating the first contributor's last image). An operator wants the
fraction of the whole round, so this module places each stage of
``attribution.engine.run.run_round`` on one scale:

=====================  ============================================  ===================
stage on the row       what it means                                  overall fraction
=====================  ============================================  ===================
``queued``             waiting for a worker                           0
``starting``           a worker claimed it                            0
``generate <key>``     images of the i-th of n contributors (by key)  G · (i + f) / n
``banks``              i of n contributors' banks done                G · i / n
``features``           i of n banks featurized                        G + F · i / n
``bank bootstrap``     resampling the banks after the estimator       G + F + V · (1 + f) / 2
``metrics``            the estimator finished the metric              G + F + V · f
``grow <stage>``       the banks grow to meet the payout tolerance    unknown
``done``               succeeded                                      1
=====================  ============================================  ===================

with G + F + V = 1 (``STAGE_WEIGHTS``). A round allowed to grow its banks learns only after its
first valuation how many more samples it needs, so its growth stages (the same stages again,
prefixed ``grow``) are described in words with the fraction unknown rather than a bar that
would go back. The weights follow the measured split of the digits demo
round in the README (generation 55–98 s, features a few seconds, the surrogate 5–12 s): the scale
is a model of where the time goes, so the estimate of the time left is an estimate. The
estimator reports nothing until it ends, so the bar rests at G + F while it runs; the bank-noise
bootstrap that follows it (rounds valued to a payout tolerance) fills the second half of V.
Pure: no Django, no database.
"""

from __future__ import annotations

from dataclasses import dataclass

GENERATE, FEATURES, VALUE = 0.80, 0.05, 0.15
STAGE_WEIGHTS = {"generate": GENERATE, "features": FEATURES, "value": VALUE}
MIN_FRACTION_FOR_ETA = 0.02
"""Below this overall fraction the elapsed time says too little to extrapolate from."""


@dataclass(frozen=True)
class Overall:
    """Where a round stands: the fraction of the whole round done (None: unknown) and in words."""

    fraction: float | None
    label: str


def overall_progress(
    stage: str, fraction: float, *, position: int | None, n_contributors: int
) -> Overall:
    """The fraction of the whole round that a stage and its own progress stand for.

    Args:
        stage: The stage on the round row (``generate c03``, ``banks``, ``features``, ...).
        fraction: Progress within that stage, 0..1.
        position: For ``generate <key>``: how many of the round's contributors sort before
            ``key`` (banks are made in key order); None when unknown.
        n_contributors: How many contributors the round values.
    """
    f = _clamp(fraction)
    n = max(1, n_contributors)
    if stage in ("", "queued"):
        return Overall(0.0, "Queued: waiting for a worker")
    if stage == "starting":
        return Overall(0.0, "Starting")
    if stage == "done":
        return Overall(1.0, "Done")
    if stage == "cancelled":
        return Overall(None, "Cancelled")
    if stage.startswith("grow "):
        inner = overall_progress(
            stage.removeprefix("grow "), f, position=position, n_contributors=n_contributors
        )
        return Overall(None, f"Growing the banks to meet the payout tolerance: {inner.label}")
    if stage.startswith("generate"):
        if position is None:
            return Overall(None, "Generating images")
        index = min(max(position, 0), n - 1)
        return Overall(
            GENERATE * (index + f) / n,
            f"Generating images for contributor {index + 1:,} of {n:,}",
        )
    if stage == "banks":
        done = round(f * n)
        return Overall(GENERATE * f, f"Generated the images of {done:,} of {n:,} contributors")
    if stage == "features":
        done = round(f * n)
        if done >= n:
            return Overall(GENERATE + FEATURES, "Valuing the contributors")
        return Overall(GENERATE + FEATURES * f, f"Reading features of {done:,} of {n:,} banks")
    if stage == "bank bootstrap":
        return Overall(
            GENERATE + FEATURES + VALUE * (1.0 + f) / 2.0,
            f"Measuring the bank noise ({round(100 * f)}% of the resamples)",
        )
    if stage == "metrics":
        return Overall(GENERATE + FEATURES + VALUE * f, "Valuing the contributors")
    return Overall(None, stage)


def eta_seconds(elapsed_s: float | None, fraction: float | None) -> float | None:
    """Seconds left if the rest of the round goes as fast as what is done so far; None when
    there is too little to go on (no start time, an unknown or tiny fraction) or it is done."""
    if elapsed_s is None or fraction is None or elapsed_s < 0:
        return None
    if fraction < MIN_FRACTION_FOR_ETA or fraction >= 1.0:
        return None
    return elapsed_s * (1.0 - fraction) / fraction


def describe_duration(seconds: float | None) -> str:
    """``42 s``, ``3 min``, ``1 h 05 min``; an empty string for None."""
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, float(value)))
