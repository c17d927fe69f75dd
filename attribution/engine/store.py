"""A content-addressed artefact cache, so reruns and crashed rounds resume without recomputing.

Every artefact (a contributor's sample bank, its features, a round's utilities) is stored under the
SHA-256 of exactly the inputs that determine it, written as canonical JSON. Change any input (the
model's checksum, the seed, the number of samples) and the key changes; change nothing and a rerun
finds the artefact. Writes go to a temporary file that is renamed into place, so a crash never
leaves a half-written artefact behind and two workers computing the same key do not corrupt it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attribution.engine.errors import EngineInputError

Arrays = dict[str, NDArray[Any]]


def artefact_key(kind: str, inputs: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of ``kind`` and ``inputs`` as canonical JSON.

    Raises:
        EngineInputError: If ``inputs`` holds something JSON cannot represent exactly.
    """
    try:
        canonical = json.dumps(
            {"kind": kind, "inputs": inputs}, sort_keys=True, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as error:
        raise EngineInputError(
            f"artefact inputs for {kind!r} must be plain JSON: {error}"
        ) from error
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ArtefactStore:
    """Arrays on disk under ``root/<kind>/<key[:2]>/<key>.npz`` with the inputs beside them.

    Args:
        root: Directory for the cache (created on first write).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, kind: str, key: str) -> Path:
        """Where the artefact with this key lives."""
        return self.root / kind / key[:2] / f"{key}.npz"

    def load(self, kind: str, inputs: Mapping[str, Any]) -> Arrays | None:
        """The stored arrays for these inputs, or None if absent or unreadable (then recomputed)."""
        path = self.path(kind, artefact_key(kind, inputs))
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        except (OSError, ValueError):
            return None

    def save(
        self, kind: str, inputs: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]
    ) -> Path:
        """Store ``arrays`` atomically and return their path."""
        key = artefact_key(kind, inputs)
        path = self.path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                contents: dict[str, Any] = {
                    name: np.asarray(value) for name, value in arrays.items()
                }
                np.savez(stream, **contents)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        description = path.with_suffix(".json")
        description.write_text(
            json.dumps({"kind": kind, "inputs": inputs}, sort_keys=True, indent=1)
        )
        return path

    def fetch(
        self,
        kind: str,
        inputs: Mapping[str, Any],
        compute: Callable[[], Mapping[str, NDArray[Any]]],
    ) -> Arrays:
        """Load the artefact for ``inputs``, computing and storing it first if it is missing."""
        found = self.load(kind, inputs)
        if found is not None:
            return found
        computed = {name: np.asarray(value) for name, value in compute().items()}
        self.save(kind, inputs, computed)
        return computed
