"""The catalogue's planted expectations, checked on a round's values (no Django here).

* artefact round: the logo shops are the most negative values (they bring the logo in);
* both rounds: the duplicate shop's value is close to its original's (same data, same prompts);
* diversity round: shops whose catalogues span more product types earn more (Spearman > 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from attribution.engine.demos.catalogue.shops import CatalogueShop


@dataclass(frozen=True)
class PlantedCheck:
    """One expectation, whether it held, and the numbers behind it."""

    name: str
    passed: bool
    detail: str


def logo_shops_lowest(shops: Sequence[CatalogueShop], values: Mapping[str, float]) -> PlantedCheck:
    """The k logo shops hold the k lowest artefact-free values."""
    logo = {shop.key for shop in shops if shop.role == "logo"}
    ranked = sorted(values, key=lambda key: values[key])
    lowest = set(ranked[: len(logo)])
    found = len(logo & lowest)
    worst_clean = min(values[k] for k in values if k not in logo)
    best_logo = max(values[k] for k in logo)
    return PlantedCheck(
        "logo shops have the lowest artefact-free values",
        found == len(logo),
        f"{found} of {len(logo)} logo shops among the {len(logo)} lowest; highest logo value "
        f"{best_logo:+.4f}, lowest other value {worst_clean:+.4f}",
    )


def duplicate_matches_original(
    shops: Sequence[CatalogueShop],
    values: Mapping[str, float],
    tolerance: float,
    metric: str,
) -> PlantedCheck:
    """|v(duplicate) − v(original)| ≤ ``tolerance`` (the demo: 15% of the largest |value|)."""
    (duplicate,) = [shop for shop in shops if shop.role == "duplicate"]
    gap = abs(values[duplicate.key] - values[duplicate.duplicate_of])
    return PlantedCheck(
        f"{metric}: the duplicate shop is valued like its original",
        gap <= tolerance,
        f"{duplicate.key} {values[duplicate.key]:+.4f} vs {duplicate.duplicate_of} "
        f"{values[duplicate.duplicate_of]:+.4f} (gap {gap:.4f}, tolerance {tolerance:.4f})",
    )


def diversity_follows_breadth(
    shops: Sequence[CatalogueShop], values: Mapping[str, float]
) -> PlantedCheck:
    """Spearman correlation between a shop's product-type entropy and its diversity value > 0."""
    entropies = []
    for shop in shops:
        share = shop.class_counts / shop.class_counts.sum()
        share = share[share > 0]
        entropies.append(float(-(share * np.log(share)).sum()))
    rho = float(spearmanr(entropies, [values[shop.key] for shop in shops]).statistic)
    return PlantedCheck(
        "clip_diversity: shops with broader catalogues earn more",
        rho > 0,
        f"Spearman correlation of catalogue entropy with value {rho:+.3f} over {len(shops)} shops",
    )


def format_checks(checks: Sequence[PlantedCheck]) -> str:
    """One ``PASS``/``FAIL`` line per check."""
    return "\n".join(
        f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}" for check in checks
    )
