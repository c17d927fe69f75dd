"""A tiny random CLIP directory shared by the CLIP and scorer tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.features.tiny_models import save_tiny_clip


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip") / "model")
