"""Prompt fidelity of a coalition's pool: the mean CLIP similarity of each image to its prompt.

Per sample, cos(CLIP image embedding, CLIP text embedding of the prompt the sample was generated
from) (:class:`~attribution.engine.features.PromptFidelityScorer`, score name
``"prompt_fidelity"``); the pool's mean is Σ_i π_i (bank i's mean similarity). It lies in
[−1, 1]; higher means the model follows the contributor's captions more closely.
"""

from __future__ import annotations

from attribution.engine.metrics.mean_score import MeanScore


class PromptFidelity(MeanScore):
    """Mean image-to-own-prompt CLIP cosine similarity of each coalition's pool (higher is better).

    Args:
        score_name: The key in ``BankStatistics.score_means`` (default ``"prompt_fidelity"``).

    Attributes:
        name: ``"prompt_fidelity"``.
        floor: None: no similarity value means "no information" across CLIP models.
    """

    def __init__(self, score_name: str = "prompt_fidelity") -> None:
        super().__init__(score_name)
        self.name = "prompt_fidelity"

    def __repr__(self) -> str:
        return f"PromptFidelity({self.score_name!r})"
