"""Plain-words explanations shown on a contributor's statement: metric, method and payout policy.

The metric and method sentences live in the engine's catalogs (``attribution.engine.metrics.
catalog``, ``attribution.engine.estimators.catalog``), beside the code they describe.

The payout policy text is not written here: it is read from ``marketplace.payouts``'s module
docstring, the one place that states how a pool is shared, so the page and the money math can
never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from attribution.engine.estimators.catalog import ESTIMATORS
from attribution.engine.metrics.catalog import METRICS
from marketplace import payouts
from marketplace.payouts import NegativeValuePolicy


@dataclass(frozen=True)
class MetricExplanation:
    """What a round's metric measures (one sentence) and the unit its values are in."""

    sentence: str
    unit: str


UNKNOWN_METRIC = MetricExplanation("The round's metric scores the generated images.", "units")

SAMPLE_BANKS = (
    "For every contributor, the pretrained model generated a bank of images conditioned on that "
    "contributor's data; a group of contributors (a coalition) is scored by pooling their banks, "
    "each weighted by how many records its contributor gave, so no model is retrained."
)


def explain_metric(metric: str) -> MetricExplanation:
    """The sentence and unit of a round's metric, from the metric catalog."""
    spec = METRICS.get(metric)
    return UNKNOWN_METRIC if spec is None else MetricExplanation(spec.explanation, spec.unit)


def explain_method(estimator: str, *, n_evaluations: int | None, n_contributors: int) -> list[str]:
    """Sentences on how the values were estimated, from the estimator catalog."""
    spec = ESTIMATORS.get(estimator)
    if spec is None:
        return [SAMPLE_BANKS]
    return [SAMPLE_BANKS, *spec.explain(n_evaluations=n_evaluations, n_players=n_contributors)]


@dataclass(frozen=True)
class PolicyText:
    """The payout rules from ``marketplace.payouts``, as plain paragraphs.

    Attributes:
        sharing: How a pool is shared and rounded.
        negative: Why a value can be negative (the lead-in to the policies).
        policies: Policy value (``"floor"``, ``"reject"``) → (name, explanation).
        closing: What holds under every policy.
    """

    sharing: list[str]
    negative: str
    policies: dict[str, tuple[str, str]]
    closing: list[str]


_POLICY_ITEM = re.compile(
    r"^\*\*(?P<name>[^*]+)\*\* \(``(?P<code>[A-Z_]+)``[^)]*\)\.\s+(?P<text>.+)$"
)


@cache
def describe_policies() -> PolicyText:
    """Parse the user-facing section of ``marketplace.payouts``'s docstring.

    Raises:
        ValueError: If the docstring no longer has the expected shape (a test guards this).
    """
    doc = payouts.__doc__ or ""
    _, _, section = doc.partition("(this text is shown to contributors)")
    section = re.sub(r"^\s*-+\s*$", "", section, count=1, flags=re.MULTILINE)
    blocks = [block.strip() for block in re.split(r"\n\s*\n", section) if block.strip()]
    # A bulleted block holds one item per "* " line (items follow each other without blank lines).
    items = [
        _plain(item)
        for block in blocks
        if block.startswith("* ")
        for item in re.split(r"^\* ", block, flags=re.MULTILINE)
        if item.strip()
    ]
    prose = [_plain(block) for block in blocks if not block.startswith("* ")]
    policies: dict[str, tuple[str, str]] = {}
    for item in items:
        match = _POLICY_ITEM.match(item)
        if match is None:
            raise ValueError(f"unexpected policy item in marketplace.payouts: {item[:60]!r}")
        policy = NegativeValuePolicy[match["code"]].value
        policies[policy] = (match["name"], _unmark(match["text"]))
    negative = next((i for i, p in enumerate(prose) if "negative" in p), None)
    if negative is None or set(policies) != {policy.value for policy in NegativeValuePolicy}:
        raise ValueError("marketplace.payouts no longer explains every negative-value policy")
    return PolicyText(
        sharing=[_unmark(p) for p in prose[:negative]],
        negative=_unmark(prose[negative]),
        policies=policies,
        closing=[_unmark(p) for p in prose[negative + 1 :]],
    )


def _plain(block: str) -> str:
    """Join a docstring block's lines into one line of text (markup kept)."""
    return " ".join(line.strip() for line in block.strip().splitlines())


def _unmark(text: str) -> str:
    """Drop reStructuredText markup: ``code`` and **bold** become plain words."""
    return text.replace("``", "").replace("**", "")
