"""Plain-words explanations shown on a contributor's statement: metric, method and payout policy.

The payout policy text is not written here: it is read from ``marketplace.payouts``'s module
docstring, the one place that states how a pool is shared, so the page and the money math can
never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from marketplace import payouts
from marketplace.payouts import NegativeValuePolicy


@dataclass(frozen=True)
class MetricExplanation:
    """What a round's metric measures (one sentence) and the unit its values are in."""

    sentence: str
    unit: str


METRICS: dict[str, MetricExplanation] = {
    "inception_score": MetricExplanation(
        "The Inception Score rewards generated images that are each clearly recognisable as one "
        "class while, taken together, they cover many classes; it runs from 1 (no information) "
        "to the number of classes, and higher is better.",
        "Inception Score points",
    ),
    "neg_fid": MetricExplanation(
        "The negative Fréchet distance compares the features of the generated images with those "
        "of real reference images: it is the Fréchet distance with its sign flipped, so 0 is a "
        "perfect match and higher (closer to 0) is better.",
        "Fréchet distance units",
    ),
    "class_entropy": MetricExplanation(
        "Class diversity is the entropy, in nats, of the classes the generated images are "
        "recognised as: 0 when every image shows the same class, largest when all classes "
        "appear equally often.",
        "nats",
    ),
    "label_fidelity": MetricExplanation(
        "Label fidelity is the average probability a classifier gives to the label each image "
        "was generated for: how reliably the model draws what it is asked to draw, from 0 to 1.",
        "probability (0 to 1)",
    ),
    "marker_free": MetricExplanation(
        "The artefact-free rate is the fraction of generated images in which an artefact "
        "detector finds no artefact (such as a stray watermark), from 0 to 1.",
        "fraction of images",
    ),
}

UNKNOWN_METRIC = MetricExplanation("The round's metric scores the generated images.", "units")

SAMPLE_BANKS = (
    "For every contributor, the pretrained model generated a bank of images conditioned on that "
    "contributor's data; a group of contributors (a coalition) is scored by pooling their banks, "
    "each weighted by how many records its contributor gave, so no model is retrained."
)


def explain_metric(metric: str) -> MetricExplanation:
    """The sentence and unit of a ``ValuationRound.Metric`` value."""
    return METRICS.get(metric, UNKNOWN_METRIC)


def explain_method(estimator: str, *, n_evaluations: int | None, n_contributors: int) -> list[str]:
    """Sentences on how the values were estimated, for a ``ValuationRound.Estimator`` value."""
    evaluated = (
        f"{n_evaluations:,} coalitions" if n_evaluations is not None else "the sampled coalitions"
    )
    methods = {
        "surrogate": [
            SAMPLE_BANKS,
            f"The metric was evaluated on {evaluated}, and a gradient-boosted tree model (the "
            "surrogate) was fitted to predict a coalition's score from who is in it.",
            "Your value is the exact Shapley value of that surrogate — what you add to a "
            "coalition, averaged over every order in which contributors could join — computed "
            "with TreeSHAP and corrected so that all values add up to the measured total.",
        ],
        "kernel": [
            SAMPLE_BANKS,
            f"KernelSHAP evaluated the metric on {evaluated} drawn at random, weighted them as "
            "the Shapley value does, and solved a regression whose coefficients are the values, "
            "constrained to add up to the measured total.",
        ],
        "permutation": [
            SAMPLE_BANKS,
            "Contributors were added one at a time in random orders; your value is the average "
            f"gain in the score when your data joined, over {evaluated}.",
        ],
        "exact": [
            SAMPLE_BANKS,
            f"All 2^{n_contributors} = {2**n_contributors:,} coalitions were evaluated, so your "
            "value is the exact Shapley value: what you add to a coalition, averaged over every "
            "order in which contributors could join.",
        ],
        "loo": [
            SAMPLE_BANKS,
            "Leave-one-out: your value is how much the score of everyone's data together drops "
            "when your data alone is left out. It is not a Shapley value, so the values need not "
            "add up to the total.",
        ],
    }
    return methods.get(estimator, [SAMPLE_BANKS])


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
