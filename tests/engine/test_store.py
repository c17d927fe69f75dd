"""ArtefactStore: keyed by exactly the inputs, atomic, resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attribution.engine.errors import EngineInputError
from attribution.engine.store import ArtefactStore, artefact_key


def test_key_depends_on_every_input_and_not_on_order() -> None:
    base = artefact_key("bank", {"seed": 1, "n": 64, "model": "abc"})
    assert base == artefact_key("bank", {"model": "abc", "n": 64, "seed": 1})
    assert base != artefact_key("bank", {"seed": 2, "n": 64, "model": "abc"})
    assert base != artefact_key("features", {"seed": 1, "n": 64, "model": "abc"})


def test_inputs_that_are_not_plain_json_are_refused() -> None:
    with pytest.raises(EngineInputError, match="plain JSON"):
        artefact_key("bank", {"value": float("nan")})
    with pytest.raises(EngineInputError, match="plain JSON"):
        artefact_key("bank", {"value": object()})


def test_fetch_computes_once_then_loads(tmp_path: Path) -> None:
    store = ArtefactStore(tmp_path)
    calls: list[int] = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"images": np.arange(6.0).reshape(2, 3), "labels": np.array([1, 2])}

    first = store.fetch("bank", {"seed": 3}, compute)
    again = ArtefactStore(tmp_path).fetch("bank", {"seed": 3}, compute)
    assert calls == [1]
    for name in ("images", "labels"):
        np.testing.assert_array_equal(first[name], again[name])
    assert store.load("bank", {"seed": 4}) is None


def test_a_failed_computation_leaves_nothing_behind(tmp_path: Path) -> None:
    store = ArtefactStore(tmp_path)

    def broken() -> dict[str, np.ndarray]:
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        store.fetch("bank", {"seed": 5}, broken)
    assert store.load("bank", {"seed": 5}) is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_corrupt_artefact_is_recomputed(tmp_path: Path) -> None:
    store = ArtefactStore(tmp_path)
    path = store.save("bank", {"seed": 6}, {"x": np.ones(3)})
    path.write_bytes(b"not an npz file")
    assert store.load("bank", {"seed": 6}) is None
    recomputed = store.fetch("bank", {"seed": 6}, lambda: {"x": np.zeros(3)})
    np.testing.assert_array_equal(recomputed["x"], np.zeros(3))


def test_inputs_are_recorded_beside_the_artefact(tmp_path: Path) -> None:
    path = ArtefactStore(tmp_path).save("bank", {"seed": 7}, {"x": np.ones(1)})
    assert '"seed": 7' in path.with_suffix(".json").read_text()
