"""The metric catalog: every utility a round can be valued on, described once.

An entry says what people see (label, unit, a plain-words explanation), how the utility is
oriented (always higher is better, so payouts never flip sign), its floor and default v(∅), what
a round needs for it (e.g. numeric labels) and whether it may be paid out on: a metric that
attributes harm (an artefact rate) is an *audit*, which ranks and explains but never pays.

Which metrics a given model offers, and how each is computed for it, is the model profile's
business (``attribution.engine.profiles``); the round model's choices, the API's serializers,
the statement's explanations and the runner all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from attribution.engine.errors import EngineInputError
from attribution.engine.games.proxy import EmptyValue

Purpose = Literal["payout", "audit"]


@dataclass(frozen=True)
class MetricSpec:
    """One catalog entry.

    Attributes:
        name: The identifier stored on rounds (``neg_fid``, ...).
        label: A short human name.
        unit: The unit values are in, for people.
        explanation: One or two sentences for a contributor's statement.
        floor: The metric's no-information value, or None.
        default_empty: v(∅) unless the profile says otherwise (``"floor"``, ``"worst_singleton"``
            or a number; see ``attribution.engine.games.proxy``). Every default is a number of
            the metric or its reference, never a statistic of the sample banks (such as
            ``"worst_singleton"``), so v(∅) carries no bank noise into the shares.
        purpose: ``"payout"`` or ``"audit"`` (never paid out).
        needs_labels: Whether every contributor's records must carry numeric class labels.
        orientation: Always ``"higher is better"``; stated for people and for the API.
    """

    name: str
    label: str
    unit: str
    explanation: str
    floor: float | None
    default_empty: EmptyValue
    purpose: Purpose = "payout"
    needs_labels: bool = False
    orientation: str = "higher is better"


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "inception_score",
            "Inception Score",
            "Inception Score points",
            "The Inception Score rewards generated images that are each clearly recognisable as "
            "one class while, taken together, they cover many classes; it runs from 1 (no "
            "information) to the number of classes, and higher is better.",
            floor=1.0,
            default_empty="floor",
        ),
        MetricSpec(
            "neg_fid",
            "Negative Fréchet distance",
            "Fréchet distance units",
            "The negative Fréchet distance compares the features of the generated images with "
            "those of real reference images: it is the Fréchet distance with its sign flipped, "
            "so 0 is a perfect match and higher (closer to 0) is better.",
            floor=None,  # −tr Σ_r: the reference's own, set by the metric instance
            default_empty="floor",
        ),
        MetricSpec(
            "class_entropy",
            "Class diversity (entropy)",
            "nats",
            "Class diversity is the entropy, in nats, of the classes the generated images are "
            "recognised as: 0 when every image shows the same class, largest when all classes "
            "appear equally often.",
            floor=0.0,
            default_empty="floor",
        ),
        MetricSpec(
            "label_fidelity",
            "Label fidelity",
            "probability (0 to 1)",
            "Label fidelity is the average probability a classifier gives to the label each "
            "image was generated for: how reliably the model draws what it is asked to draw, "
            "from 0 to 1.",
            floor=None,
            default_empty=0.0,
            needs_labels=True,
        ),
        MetricSpec(
            "aesthetic",
            "Aesthetic score",
            "aesthetic points",
            "The aesthetic score is the average rating an aesthetic predictor (a small model "
            "trained on people's ratings of images) gives the generated images; higher is "
            "better.",
            floor=None,
            default_empty=0.0,
        ),
        MetricSpec(
            "clip_diversity",
            "Product diversity (zero-shot)",
            "nats",
            "Product diversity is the entropy, in nats, of the kinds of product (or other "
            "classes) a CLIP model recognises in the generated images: 0 when they all show one "
            "kind, largest when every kind appears equally often.",
            floor=0.0,
            default_empty="floor",
        ),
        MetricSpec(
            "prompt_fidelity",
            "Prompt fidelity",
            "CLIP similarity",
            "Prompt fidelity is the average similarity, measured by a CLIP model, between each "
            "generated image and the caption it was generated from: how faithfully the model "
            "draws what it is asked to draw; higher is better.",
            floor=None,
            default_empty=0.0,
        ),
        MetricSpec(
            "artefact_free",
            "Artefact-free rate (zero-shot)",
            "fraction of images",
            "The artefact-free rate is the fraction of generated images that a CLIP model does "
            "not flag for an artefact (such as a watermark or a hospital tag), from 0 to 1. A "
            "round on it is an audit: it shows whose data brings the artefact in, and is never "
            "paid out.",
            floor=1.0,
            default_empty="floor",
            purpose="audit",
        ),
        MetricSpec(
            "marker_free",
            "Artefact-free rate",
            "fraction of images",
            "The artefact-free rate is the fraction of generated images in which an artefact "
            "detector finds no artefact (such as a stray watermark), from 0 to 1. A round on it "
            "is an audit: it shows whose data brings the artefact in, and is never paid out.",
            floor=1.0,
            default_empty="floor",
            purpose="audit",
        ),
    )
}


def get_metric(name: str) -> MetricSpec:
    """The catalog entry called ``name``.

    Raises:
        EngineInputError: No metric has that name; the message lists the known ones.
    """
    spec = METRICS.get(name)
    if spec is None:
        raise EngineInputError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}.")
    return spec
