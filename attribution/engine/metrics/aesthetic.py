"""Aesthetic score of a coalition's pool: the π-weighted mean of its banks' mean head scores.

The per-sample score is an aesthetic head on CLIP image embeddings
(:class:`~attribution.engine.features.AestheticHead`, scored by
:class:`~attribution.engine.features.AestheticScorer` under the score name ``"aesthetic"``); the
pool's mean score is Σ_i π_i (bank i's mean score). LAION's heads score roughly 1–10 (higher is
more pleasing), so the utility is higher-is-better as it stands.
"""

from __future__ import annotations

from attribution.engine.metrics.mean_score import MeanScore


class AestheticScore(MeanScore):
    """Mean aesthetic score of each coalition's pool (higher is better).

    Args:
        score_name: The key in ``BankStatistics.score_means`` (default ``"aesthetic"``).

    Attributes:
        name: ``"aesthetic"``.
        floor: None: a head's scale has no no-information value.
    """

    def __init__(self, score_name: str = "aesthetic") -> None:
        super().__init__(score_name)
        self.name = "aesthetic"

    def __repr__(self) -> str:
        return f"AestheticScore({self.score_name!r})"
