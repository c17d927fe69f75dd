"""The embedded default's task queue: a round never runs inside a request, a local worker runs it.

These run in fresh processes with no ``CELERY_*`` variable, i.e. the settings' own default (the
test process itself runs tasks eagerly, see tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.attribution.servers import celery_workers, worker_environment

ROOT = Path(__file__).resolve().parents[2]


def embedded_env(tmp_path: Path) -> dict[str, str]:
    return worker_environment(
        {
            "DJANGO_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
            "CELERY_QUEUE_DIR": str(tmp_path / "celery"),
            "ENGINE_CACHE_DIR": str(tmp_path / "engine-cache"),
            "ENGINE_RUNNER": "tests.attribution.fake_units.value_from_banks",
            "CREDITSHARE_FAKE_UNIT_SECONDS": "0",
        }
    )


def start_rounds(env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.marketplace.embedded_round_start"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def round_statuses(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT status FROM attribution_valuationround ORDER BY id")
        return [status for (status,) in rows]


@pytest.mark.slow
def test_starting_a_round_in_the_embedded_default_only_queues_it(tmp_path: Path) -> None:
    report = start_rounds(embedded_env(tmp_path))

    for surface in ("admin", "api"):
        assert report[surface]["status"] == "queued", report  # not run inside the request
    assert report["admin"]["http"] == 302
    assert report["api"]["http"] == 202
    assert report["queued_messages"] == 2  # one execute_round task each, waiting for a worker


@pytest.mark.slow
def test_the_local_worker_runs_the_queued_rounds_without_any_server(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    start_rounds(env)
    database = tmp_path / "db.sqlite3"
    assert round_statuses(database) == ["queued", "queued"]

    with celery_workers(["embedded"], env, tmp_path):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and round_statuses(database) != ["succeeded"] * 2:
            time.sleep(0.5)

    assert round_statuses(database) == ["succeeded", "succeeded"]


def test_the_embedded_default_queues_to_a_local_folder_not_in_process() -> None:
    code = (
        "import django; django.setup(); from marketplace.celery import app; "
        "print(app.conf.broker_url, app.conf.task_always_eager)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.stdout.split() == ["filesystem://", "False"], result.stderr
