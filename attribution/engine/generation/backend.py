"""The generation interface every backend follows, and what the backends share.

:class:`GenerationBackend` is the interface; :func:`contributor_seed` and :func:`generate_bank`
give each contributor their own seed. The argument checks, the per-sample generators and the
config cleaning used by both backends' ``generate`` and ``describe`` live here too.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError
from attribution.engine.progress import Progress

if TYPE_CHECKING:
    import torch

Images = NDArray[np.float32]
"""Float32 images, shape ``(n_samples, channels, height, width)``, values in [0, 1]."""

ConditionT = TypeVar("ConditionT", contravariant=True)

GENERATION_VERSION = 1
"""Bumped whenever a change in this package changes the samples drawn (part of ``describe``)."""

_SEED_LIMIT = 2**63


class GenerationBackend(Protocol[ConditionT]):
    """Anything that turns one contributor's conditions into a bank of images."""

    def generate(
        self,
        conditions: Sequence[ConditionT],
        n_samples: int,
        seed: int,
        progress: Progress | None = None,
    ) -> Images:
        """Return ``n_samples`` images, shape ``(n_samples, C, H, W)``, values in [0, 1]."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return a JSON-able description of everything that determines the samples."""
        ...


def contributor_seed(round_seed: int, contributor_key: str) -> int:
    """Derive a contributor's generation seed from the round seed and the contributor's key.

    Args:
        round_seed: The valuation round's seed (any integer).
        contributor_key: A stable identifier of the contributor (e.g. a primary key as text).

    Returns:
        A seed in [0, 2**63): the first 8 bytes of sha256 over both, shifted right by one bit.
        Depends on nothing else, so adding a contributor never changes anyone else's samples.
    """
    if isinstance(round_seed, bool) or not isinstance(round_seed, int | np.integer):
        raise EngineInputError(f"round_seed must be an integer, got {type(round_seed).__name__}.")
    if not isinstance(contributor_key, str) or not contributor_key:
        raise EngineInputError("contributor_key must be a non-empty string.")
    digest = hashlib.sha256(f"{int(round_seed)}:{contributor_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def generate_bank(
    backend: GenerationBackend[ConditionT],
    conditions: Sequence[ConditionT],
    n_samples: int,
    round_seed: int,
    contributor_key: str,
    progress: Progress | None = None,
) -> Images:
    """Generate one contributor's sample bank with their own seed.

    Args:
        backend: The generation backend (class-conditional or text-to-image).
        conditions: The contributor's conditions (class labels or prompts), one per record.
        n_samples: Number of images to generate (>= 1).
        round_seed: The valuation round's seed.
        contributor_key: The contributor's stable key (see :func:`contributor_seed`).
        progress: Optional ``progress("generate", done, total)`` callback.

    Returns:
        Float32 images, shape ``(n_samples, C, H, W)``, values in [0, 1].
    """
    seed = contributor_seed(round_seed, contributor_key)
    return backend.generate(conditions, n_samples, seed, progress)


def sample_conditions(
    conditions: Sequence[ConditionT], n_samples: int, seed: int
) -> list[ConditionT]:
    """The condition of each sample of a bank, in sample order, as both backends draw them.

    Sample ``i`` is conditioned on ``conditions[k_i]`` with ``k = default_rng(seed).integers(
    len(conditions), size=n_samples)``. A per-sample scorer that needs each image's own prompt
    (prompt fidelity) calls this with the bank's seed, ``contributor_seed(round_seed, key)``.

    Args:
        conditions: One contributor's conditions (repeats weight a condition).
        n_samples: Bank size (>= 1).
        seed: The bank's seed, in [0, 2**63).
    """
    n_samples, seed = check_counts(conditions, n_samples, seed)
    picks = np.random.default_rng(seed).integers(len(conditions), size=n_samples)
    return [conditions[int(k)] for k in picks]


def check_device(device: str) -> None:
    """Raise ``EngineInputError`` when ``device`` asks for CUDA and CUDA is not available."""
    if not isinstance(device, str) or not device:
        raise EngineInputError(f"device must be a torch device name such as 'cpu', got {device!r}.")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise EngineInputError(
                f"CUDA requested but not available (device={device!r}); use device='cpu'."
            )


def sample_generators(seed: int, n_samples: int) -> list[torch.Generator]:
    """One CPU generator per sample, seeded from ``(seed, i)``, independent of batching."""
    import torch

    states = np.random.SeedSequence(seed).generate_state(n_samples, np.uint64)
    return [torch.Generator("cpu").manual_seed(int(s) >> 1) for s in states]


def check_counts(conditions: Sequence[object], n_samples: int, seed: int) -> tuple[int, int]:
    """Check ``generate``'s arguments; return ``n_samples`` and ``seed`` as plain ints."""
    if isinstance(conditions, str) or not isinstance(conditions, Sequence):
        raise EngineInputError("conditions must be a list of the contributor's conditions.")
    if len(conditions) == 0:
        raise EngineInputError("conditions is empty: a contributor needs at least one record.")
    n_samples = check_positive_int(n_samples, "n_samples")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise EngineInputError(f"seed must be an integer, got {type(seed).__name__}.")
    if not 0 <= int(seed) < _SEED_LIMIT:
        raise EngineInputError(f"seed must be in [0, 2**63), got {seed}.")
    return n_samples, int(seed)


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` as an int, or raise ``EngineInputError`` unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise EngineInputError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def check_guidance_scale(value: object) -> float:
    """Return ``value`` as a float, or raise ``EngineInputError`` unless finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise EngineInputError(f"guidance_scale must be a number, got {value!r}.")
    if not math.isfinite(value) or value < 0:
        raise EngineInputError(f"guidance_scale must be finite and >= 0, got {value}.")
    return float(value)


def public_config(config: Any) -> dict[str, Any]:
    """A diffusers config as plain JSON types, without private keys (``_diffusers_version``...)."""
    public = {key: value for key, value in dict(config).items() if not key.startswith("_")}
    loaded: dict[str, Any] = json.loads(json.dumps(public, sort_keys=True, default=str))
    return loaded
