"""The catalogue's planted expectations, checked on a round's values (no Django here).

* artefact round: the logo shops are the most negative values (they bring the logo in);
* both rounds: the duplicate shop's value is close to its original's (same data, same prompts);
* diversity round: shops whose catalogues span more product types earn more (Spearman > 0).

The mislabelled and degraded shops have no expectation these rounds can test: a round samples the
model from each shop's *captions*, never its photos, so a degraded shop's damaged photos never
reach its samples, and a mislabelled shop's samples show the types its captions name (the model
learnt the words from the other shops' correct captions) — they agree with its captions, so a
prompt-fidelity round would not see the wrong labels either. ``not_visible`` reports their values
as ``N/A`` lines with the numbers, never as a PASS; only retraining without them (the LDS
benchmark's leave-one-out, ``bench/lds_catalogue.py``) measures their effect on the model.
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
    passed: bool | None
    detail: str

    @property
    def verdict(self) -> str:
        """``PASS``, ``FAIL``, or ``N/A`` for a planted role the round cannot see."""
        return "N/A" if self.passed is None else ("PASS" if self.passed else "FAIL")


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


NOT_VISIBLE_REASONS = {
    "degraded": "not visible to this round: its samples come from the shop's captions, which "
    "read as fine, so the damaged photos never reach them",
    "mislabelled": "not visible to this round: its samples show the types its wrong captions "
    "name (the model learnt those words from the other shops), so they agree with its captions",
}


def not_visible(
    shops: Sequence[CatalogueShop], values: Mapping[str, float], role: str, metric: str
) -> PlantedCheck:
    """An ``N/A`` line for a planted role the round cannot see, with its shops' values and ranks.

    Ranks count from the bottom (1 = lowest value); the median clean shop is given beside them.
    """
    keys = [shop.key for shop in shops if shop.role == role]
    ranked = sorted(values, key=lambda key: values[key])
    clean = [values[shop.key] for shop in shops if shop.role == "clean"]
    where = ", ".join(
        f"{key} {values[key]:+.4f} (rank {ranked.index(key) + 1} of {len(ranked)} from the bottom)"
        for key in keys
    )
    return PlantedCheck(
        f"{metric}: the {role} shops",
        None,
        f"{NOT_VISIBLE_REASONS[role]}; {where}; median clean shop {float(np.median(clean)):+.4f}",
    )


def format_checks(checks: Sequence[PlantedCheck]) -> str:
    """One ``PASS``/``FAIL``/``N/A`` line per check."""
    return "\n".join(f"{check.verdict:<4}  {check.name}: {check.detail}" for check in checks)
