"""The digits marketplace demo: value 20 planted contributors and check the planted truth.

``python -m attribution.engine demo-digits`` loads the shipped digits model (or one trained with
``train-digits``), generates a bank per contributor, and values everyone by SurrogateSHAP on four
metrics of the pooled samples, with exact Shapley values of the same proxy game beside them:

* ``inception_score``: Inception Score from the digits classifier (v(∅) = 1, its floor).
* ``neg_fid``: minus the Fréchet distance between the pool's classifier embeddings and the real
  digits' (v(∅) = −2 tr Σ_r, the expected score of a model that always outputs one real digit
  picked at random: a number of the reference alone, so it carries no bank noise, and below every
  single contributor here. A pool of pure noise scores a *better* Fréchet distance than any
  single clean digit class, so neither noise nor an untrained model is a fair empty coalition).
* ``label_fidelity``: how often samples show the digit the contributor's labels claim
  (v(∅) = 0: no data, no correctly labelled samples).
* ``marker_free``: one minus the rate of the spurious corner marker (v(∅) = 1: no data, no
  artefacts); minus these values attribute the artefact itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr

from attribution.engine.demos.digits.data import (
    PlantedContributor,
    load_digit_images,
    make_digits_marketplace,
)
from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS, load_digits_models
from attribution.engine.estimators import SurrogateShapley
from attribution.engine.features import Features
from attribution.engine.games.proxy import EmptyValue, Metric
from attribution.engine.metrics.catalog import get_metric
from attribution.engine.profiles.digits import digits_metric, digits_scorers
from attribution.engine.progress import Progress
from attribution.engine.run import ContributorInput, RoundResult, run_round
from attribution.engine.store import ArtefactStore

QUALITY_METRICS = ("inception_score", "neg_fid")


@dataclass
class PlantedCheck:
    """One planted expectation and whether the valuation met it."""

    description: str
    passed: bool
    detail: str


@dataclass
class DigitsDemoReport:
    """The round's result, the contributors and the planted checks."""

    contributors: list[PlantedContributor]
    result: RoundResult
    checks: list[PlantedCheck] = field(default_factory=list)


DEMO_METRICS = ("inception_score", "neg_fid", "label_fidelity", "marker_free")


def digits_metrics(reference_features: Features) -> tuple[dict[str, Metric], dict[str, EmptyValue]]:
    """The demo's metrics and their empty-coalition values (see the module docstring)."""
    metrics = {name: digits_metric(name, reference_features) for name in DEMO_METRICS}
    empty: dict[str, EmptyValue] = {name: get_metric(name).default_empty for name in DEMO_METRICS}
    return metrics, empty


def run_digits_demo(
    *,
    weights: Path = SHIPPED_WEIGHTS,
    n_samples: int = 64,
    budget: int = 512,
    n_bootstrap: int = 20,
    seed: int = 0,
    exact: bool = True,
    store: ArtefactStore | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
) -> DigitsDemoReport:
    """Run the demo round and evaluate the planted expectations."""
    backend, classifier, record = load_digits_models(weights, device)
    contributors = make_digits_marketplace(record["recipe"]["data_seed"])
    real_images, _ = load_digit_images()
    metrics, empty = digits_metrics(classifier(real_images))
    inputs = [
        ContributorInput(c.key, [index] * len(c.images)) for index, c in enumerate(contributors)
    ]

    def make_estimator() -> SurrogateShapley:
        return SurrogateShapley(budget=budget, seed=seed, n_bootstrap=n_bootstrap)

    result = run_round(
        inputs,
        backend,
        classifier,
        metrics,
        n_samples=n_samples,
        seed=seed,
        scorers=digits_scorers([c.labels.tolist() for c in contributors]),
        empty_values=empty,
        estimator=make_estimator,
        exact=exact,
        store=store,
        progress=progress,
    )
    report = DigitsDemoReport(contributors, result)
    report.checks = check_planted_truth(contributors, result)
    return report


def check_planted_truth(
    contributors: list[PlantedContributor], result: RoundResult
) -> list[PlantedCheck]:
    """Evaluate the planted expectations on the SurrogateSHAP values."""
    roles = np.array([c.role for c in contributors])
    n = len(contributors)
    bottom = n // 4  # "ranks low" = in the bottom quarter
    checks = []

    def values(metric: str) -> NDArray[np.float64]:
        return result.valuations[metric].values

    def ranks_low(role: str, metric: str, sign: float = 1.0) -> PlantedCheck:
        order = np.argsort(sign * values(metric))  # ascending: worst first
        positions = {int(i): rank for rank, i in enumerate(order)}
        members = np.flatnonzero(roles == role)
        worst = [positions[int(i)] + 1 for i in members]
        return PlantedCheck(
            f"{role} contributors rank in the bottom {bottom} of {n} on {metric}",
            all(rank <= bottom for rank in worst),
            f"their ranks from the bottom: {worst}",
        )

    for metric in QUALITY_METRICS:
        checks.append(ranks_low("degraded", metric))
    checks.append(ranks_low("noisy_labels", "label_fidelity"))
    original = next(i for i, c in enumerate(contributors) if c.key.startswith("c03"))
    copy = int(np.flatnonzero(roles == "duplicate")[0])
    for metric in (*QUALITY_METRICS, "label_fidelity"):
        pair = values(metric)[[original, copy]]
        spread = float(np.abs(values(metric)).max())
        gap = abs(float(pair[0] - pair[1]))
        checks.append(
            PlantedCheck(
                f"the duplicate and its original share credit on {metric}",
                gap <= 0.15 * spread,
                f"values {pair[0]:.4f} and {pair[1]:.4f} (gap {gap:.4f}, 15% of the largest "
                f"|value| is {0.15 * spread:.4f})",
            )
        )
    blame = -values("marker_free")  # attribution of the artefact rate itself
    top = set(np.argsort(-blame)[: int((roles == "marker").sum())].tolist())
    markers = set(np.flatnonzero(roles == "marker").tolist())
    checks.append(
        PlantedCheck(
            "marker contributors top the attribution of the marker rate",
            top == markers,
            f"top by marker blame: {sorted(contributors[i].key for i in top)}",
        )
    )
    return checks


def format_report(report: DigitsDemoReport, level: float = 0.95) -> str:
    """The ranked table, the surrogate-vs-exact agreement and the planted checks, as text."""
    lines = []
    result = report.result
    for metric, valuation in result.valuations.items():
        interval = valuation.confidence_interval(level)
        order = np.argsort(-valuation.values)
        lines.append(
            f"\n== {metric}: v(N) = {valuation.grand_value:.4f}, v(∅) = {valuation.baseline:.4f}, "
            f"{valuation.n_evaluations} coalitions, {valuation.seconds:.1f} s =="
        )
        estimator = valuation.estimator
        diagnostics = _diagnostics(estimator)
        if diagnostics:
            lines.append(diagnostics)
        header = f"{'rank':>4}  {'contributor':<18} {'role':<13} {'value':>9}  {'95% CI':>21}"
        if valuation.exact_values is not None:
            header += f"  {'exact':>9}"
        lines.append(header)
        for rank, i in enumerate(order, start=1):
            ci = "" if interval is None else f"[{interval[i, 0]:9.4f}, {interval[i, 1]:9.4f}]"
            row = (
                f"{rank:>4}  {report.contributors[i].key:<18} {report.contributors[i].role:<13} "
                f"{valuation.values[i]:9.4f}  {ci:>21}"
            )
            if valuation.exact_values is not None:
                row += f"  {valuation.exact_values[i]:9.4f}"
            lines.append(row)
        if valuation.exact_values is not None:
            exact = valuation.exact_values
            error = float(np.linalg.norm(valuation.values - exact)) / max(
                float(np.linalg.norm(exact)), 1e-12
            )
            rho = float(spearmanr(valuation.values, exact).statistic)
            lines.append(
                f"surrogate vs exact: relative L2 error {error:.3f}, Spearman {rho:.3f}; "
                f"Σφ = {valuation.values.sum():.4f} = v(N) − v(∅) = "
                f"{valuation.grand_value - valuation.baseline:.4f}"
            )
    lines.append("\n== planted expectations ==")
    for check in report.checks:
        lines.append(f"[{'PASS' if check.passed else 'FAIL'}] {check.description}: {check.detail}")
    timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in result.timings.items())
    lines.append(f"\ntimings: {timings}")
    return "\n".join(lines)


def _diagnostics(estimator: Any) -> str:
    if not isinstance(estimator, SurrogateShapley):
        return ""
    r2 = "n/a" if estimator.cv_r2_ is None else f"{estimator.cv_r2_:.3f}"
    return (
        f"surrogate: depth {estimator.depth_}, cross-validated R² {r2}, raw efficiency gap "
        f"{estimator.raw_efficiency_gap_:.2e} (corrected)"
    )
