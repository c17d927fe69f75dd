"""Model profiles: one per kind of model version, each turning a frozen model description into
everything a round needs (see ``base``). ``PROFILES`` is the registry the runner and the web side
read; adding a kind of model is one profile module and its entry here.
"""

from attribution.engine.errors import EngineInputError
from attribution.engine.profiles.base import (
    ContributorSpec,
    LoadedModel,
    MetricSetup,
    ModelProfile,
    ModelSpec,
    RoundSpec,
)
from attribution.engine.profiles.class_conditional import ClassConditionalProfile
from attribution.engine.profiles.digits import DigitsProfile
from attribution.engine.profiles.text_to_image import TextToImageProfile

PROFILES: dict[str, ModelProfile] = {
    profile.kind: profile
    for profile in (DigitsProfile(), TextToImageProfile(), ClassConditionalProfile())
}


class UnsupportedModelKindError(EngineInputError):
    """No profile values this kind of model in this installation."""


def get_profile(kind: str) -> ModelProfile:
    """The profile of model kind ``kind``.

    Raises:
        UnsupportedModelKindError: No profile handles ``kind``; the message lists those that do.
    """
    profile = PROFILES.get(kind)
    if profile is None:
        raise UnsupportedModelKindError(
            f"model kind {kind!r} has no profile in this installation; supported kinds: "
            f"{', '.join(sorted(PROFILES))}."
        )
    return profile


__all__ = [
    "PROFILES",
    "ContributorSpec",
    "LoadedModel",
    "MetricSetup",
    "ModelProfile",
    "ModelSpec",
    "RoundSpec",
    "UnsupportedModelKindError",
    "get_profile",
]
