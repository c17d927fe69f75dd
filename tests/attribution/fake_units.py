"""Fakes that Celery workers load by dotted path in the distributed-round tests.

``slow_bank_unit`` is an ``ENGINE_BANK_RUNNER`` and ``value_from_banks`` an ``ENGINE_RUNNER``. Both
go through the real ``generate_banks`` and artefact store with ``SlowBackend``, a generation backend
that sleeps instead of running a diffusion model and appends one line per bank it really generates
(``start``/``done`` with the contributor key, pid and parent pid) to the file named by
``CREDITSHARE_FAKE_UNIT_LOG``. A bank found in the store writes nothing, so the log counts executed
units, including any the valuation stage had to generate itself.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from attribution.engine.generation import contributor_seed
from attribution.engine.progress import Progress, report
from attribution.engine.run import ContributorInput, generate_banks
from attribution.engine.store import ArtefactStore
from attribution.rounds.config import RoundConfig
from attribution.rounds.outcome import RoundOutcome
from attribution.rounds.runner import EngineProgress, generate_contributor_bank

LOG_ENV = "CREDITSHARE_FAKE_UNIT_LOG"
SECONDS_ENV = "CREDITSHARE_FAKE_UNIT_SECONDS"
N_STEPS = 10


@dataclass
class SlowBackend:
    """Deterministic 4×4 "images" from the bank seed, after sleeping ``seconds``."""

    keys_by_seed: dict[int, str]
    seconds: float
    log: Path | None

    def describe(self) -> dict[str, Any]:
        return {"backend": "SlowBackend", "version": 1}

    def generate(
        self, conditions: Sequence[Any], n_samples: int, seed: int, progress: Progress | None = None
    ) -> np.ndarray:
        key = self.keys_by_seed[seed]
        self._record("start", key)
        for step in range(1, N_STEPS + 1):
            time.sleep(self.seconds / N_STEPS)
            report(progress, "generate", step, N_STEPS)
        images = np.random.default_rng(seed).random((n_samples, 1, 4, 4), dtype=np.float32)
        self._record("done", key)
        return images

    def _record(self, event: str, key: str) -> None:
        if self.log is not None:
            with self.log.open("a") as stream:  # one short append per line: atomic
                stream.write(f"{event} {key} {os.getpid()} {os.getppid()}\n")


def slow_backend(config: RoundConfig) -> SlowBackend:
    """The backend for a round's config, timed and logged as the environment says."""
    log = os.environ.get(LOG_ENV)
    return SlowBackend(
        keys_by_seed={contributor_seed(config.seed, key): key for key in config.keys},
        seconds=float(os.environ.get(SECONDS_ENV, "1.0")),
        log=Path(log) if log else None,
    )


def slow_bank_unit(config: RoundConfig, key: str, progress: EngineProgress) -> bool:
    """An ``ENGINE_BANK_RUNNER``: the real unit of work with ``SlowBackend``."""
    return generate_contributor_bank(config, key, progress, backend=slow_backend(config))


def value_from_banks(config: RoundConfig, progress: EngineProgress) -> RoundOutcome:
    """An ``ENGINE_RUNNER``: each contributor's value is the mean of its stored bank."""
    contributors = [
        ContributorInput(c.key, list(c.conditions), c.n_records) for c in config.contributors
    ]
    banks, _ = generate_banks(
        contributors,
        slow_backend(config),
        n_samples=config.n_samples,
        seed=config.seed,
        store=ArtefactStore(settings.ENGINE_CACHE_DIR),
        progress=progress,
    )
    values = {c.key: float(bank.mean()) for c, bank in zip(contributors, banks, strict=True)}
    return RoundOutcome(
        values=values,
        stderr=None,
        ci=None,
        exact_values=None,
        baseline=0.0,
        grand_value=sum(values.values()),
    )


def read_unit_log(path: Path) -> list[tuple[str, str, int, int]]:
    """``(event, key, pid, parent pid)`` per logged line."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        event, key, pid, ppid = line.split()
        rows.append((event, key, int(pid), int(ppid)))
    return rows


def executions(path: Path) -> Counter[str]:
    """How many times each contributor's unit started generating."""
    return Counter(key for event, key, _, _ in read_unit_log(path) if event == "start")


def failing_bank_unit(config: RoundConfig, key: str, progress: EngineProgress) -> bool:
    """An ``ENGINE_BANK_RUNNER`` whose unit for contributor ``bob`` runs out of GPU memory."""
    if key == "bob":
        raise RuntimeError("CUDA out of memory")
    return slow_bank_unit(config, key, progress)
