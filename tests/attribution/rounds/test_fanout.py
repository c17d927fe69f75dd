"""Distributed rounds: one bank unit per contributor, then the valuation, as a Celery chord.

The fast tests run the chord eagerly in this process. The slow ones start a real redis-server and
two real prefork workers that share a database (a SQLite file, or a throwaway PostgreSQL cluster)
and an artefact store with this process, and kill one worker with SIGKILL in the middle of a unit.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connections
from django.db.utils import load_backend
from pytest_django import DjangoDbBlocker, Settings

from attribution.engine.profiles import ModelSpec
from attribution.models import ContributorValue, ValuationRound
from attribution.rounds.config import ContributorConfig, RoundConfig
from attribution.rounds.execution import claim_round
from attribution.rounds.fanout import (
    claim_for_dispatch,
    run_bank_unit,
    value_claimed_round,
    worker_config,
)
from attribution.rounds.runner import run_engine
from attribution.rounds.services import cancel_round, start_round
from attribution.tasks import dispatch_round, execute_round_task, fans_out
from tests.attribution import fake_units, servers
from tests.attribution.factories import (
    make_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

Status = ValuationRound.Status
OWNER = "dispatch:test"
KEYS = ("alice", "bob", "carol", "dave")
ROUND_TIMEOUT_S = 120.0


@pytest.fixture
def unit_log(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake units in this process: instant, logged to a file, banks in a per-test store."""
    log = tmp_path / "units.log"
    monkeypatch.setenv(fake_units.LOG_ENV, str(log))
    monkeypatch.setenv(fake_units.SECONDS_ENV, "0")
    settings.ENGINE_CACHE_DIR = tmp_path / "cache"
    settings.ENGINE_BANK_RUNNER = "tests.attribution.fake_units.slow_bank_unit"
    settings.ENGINE_RUNNER = "tests.attribution.fake_units.value_from_banks"
    return log


def claimed_round(keys: tuple[str, ...] = KEYS) -> ValuationRound:
    round = start_round(make_round(keys).pk, enqueue=False)
    assert claim_round(round.pk, OWNER)
    round.refresh_from_db()
    return round


def stored_values(round: ValuationRound) -> dict[str, float]:
    return dict(
        ContributorValue.objects.filter(round=round).values_list("contributor__key", "value")
    )


# ---------------------------------------------------------------- in process (eager chord)


@pytest.mark.django_db
def test_a_unit_generates_its_bank_once_then_finds_it(unit_log: Path) -> None:
    round = claimed_round()

    first, again = run_bank_unit(round.pk, "bob", OWNER), run_bank_unit(round.pk, "bob", OWNER)

    assert (first, again) == (True, False)
    assert fake_units.executions(unit_log) == {"bob": 1}


@pytest.mark.django_db
def test_a_dispatched_round_generates_every_bank_once_and_values_it(unit_log: Path) -> None:
    round = start_round(make_round(KEYS).pk, enqueue=False)

    assert dispatch_round(round.pk, OWNER) is True  # eager here: the chord runs in this call

    round.refresh_from_db()
    assert (round.status, round.worker, round.progress) == (Status.SUCCEEDED, OWNER, 1.0)
    assert fake_units.executions(unit_log) == dict.fromkeys(KEYS, 1)  # valuation generated none
    expected = fake_units.value_from_banks(
        RoundConfig.from_json(round.config), lambda *_: None
    ).values
    assert stored_values(round) == expected


@pytest.mark.django_db
def test_a_duplicate_valuation_after_success_writes_nothing(unit_log: Path) -> None:
    round = start_round(make_round(KEYS).pk, enqueue=False)
    dispatch_round(round.pk, OWNER)
    rows = list(ContributorValue.objects.filter(round=round).values_list("pk", "value"))

    assert value_claimed_round(round.pk, OWNER) is False

    assert list(ContributorValue.objects.filter(round=round).values_list("pk", "value")) == rows


@pytest.mark.django_db
def test_a_redelivered_dispatch_fans_out_again_but_another_owner_cannot(unit_log: Path) -> None:
    round = claimed_round()

    assert claim_for_dispatch(round.pk, OWNER).keys == list(KEYS)  # type: ignore[union-attr]
    assert claim_for_dispatch(round.pk, "dispatch:someone-else") is None


@pytest.mark.django_db
def test_a_failing_unit_fails_the_round_and_nothing_is_valued(
    unit_log: Path, settings: Settings
) -> None:
    settings.ENGINE_BANK_RUNNER = "tests.attribution.fake_units.failing_bank_unit"
    round = start_round(make_round(KEYS).pk, enqueue=False)

    dispatch_round(round.pk, OWNER)

    round.refresh_from_db()
    assert (round.status, round.error) == (Status.FAILED, "RuntimeError: CUDA out of memory")
    assert not ContributorValue.objects.filter(round=round).exists()
    assert "bob" not in fake_units.executions(unit_log)


@pytest.mark.django_db
def test_units_and_valuation_of_a_cancelled_round_do_nothing(unit_log: Path) -> None:
    round = claimed_round()
    cancel_round(round.pk)

    assert run_bank_unit(round.pk, "alice", OWNER) is None
    assert value_claimed_round(round.pk, OWNER) is False
    assert fake_units.executions(unit_log) == {}
    assert status_of(round) == Status.CANCELLED


@pytest.mark.django_db
def test_in_eager_mode_the_task_runs_the_whole_round_in_process(unit_log: Path) -> None:
    round = start_round(make_round(KEYS).pk, enqueue=False)

    assert execute_round_task.delay(round.pk).get() is True

    round.refresh_from_db()
    assert round.status == Status.SUCCEEDED
    assert not round.worker.startswith("dispatch:")  # host:pid of this process, no chord


def test_rounds_fan_out_only_with_a_broker_and_a_result_backend() -> None:
    def app(**conf: Any) -> Celery:
        return Celery("probe", set_as_current=False, config_source=conf)

    assert fans_out(app(task_always_eager=False, result_backend="cache+memory://")) is True
    assert fans_out(app(task_always_eager=True, result_backend="cache+memory://")) is False
    assert fans_out(app(task_always_eager=False)) is False  # nothing to count the chord with


def test_workers_compute_on_their_own_device(settings: Settings) -> None:
    settings.ENGINE_DEVICE = "cuda:1"

    config = RoundConfig(
        model=ModelSpec("builtin_digits"),
        contributors=(ContributorConfig("alice", 1, (0,)),),
        metric="inception_score",
        estimator="exact",
        budget=8,
        n_samples=2,
        n_bootstrap=0,
        seed=3,
        device="cpu",
    )

    assert worker_config(config) == dataclasses.replace(config, device="cuda:1")


def status_of(round: ValuationRound) -> str:
    round.refresh_from_db()
    return round.status


# ---------------------------------------------------------------- real redis, real workers


def _require(available: bool, what: str) -> None:
    if not available and not os.environ.get("CI"):
        pytest.skip(f"{what} is not installed (apt-get install it); CI installs it and runs this")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    _require(servers.redis_available(), "redis-server")
    with servers.redis_server(tmp_path) as url:
        yield url


@contextmanager
def default_database(overrides: dict[str, Any]) -> Iterator[None]:
    """Point this process's ``default`` connection at another database, migrated, for a while.

    pytest-django's test database is in memory, which worker processes cannot open.
    """
    original = connections["default"]
    settings_dict = {**original.settings_dict, **overrides}
    connection = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    ContentType.objects.clear_cache()
    connections["default"] = connection
    try:
        call_command("migrate", verbosity=0)
        yield
    finally:
        connection.close()
        connections["default"] = original
        ContentType.objects.clear_cache()


def sqlite_settings(path: Path) -> dict[str, Any]:
    """What ``marketplace.settings`` gives the workers for ``DJANGO_SQLITE_PATH=path``."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }


@pytest.fixture(params=["sqlite", "postgres"])
def shared_database(
    request: pytest.FixtureRequest, tmp_path: Path, django_db_blocker: DjangoDbBlocker
) -> Iterator[dict[str, str]]:
    """A database this process and the workers share; yields the workers' environment for it."""
    with django_db_blocker.unblock():
        if request.param == "sqlite":
            path = tmp_path / "shared.sqlite3"
            with default_database(sqlite_settings(path)):
                yield {"DJANGO_SQLITE_PATH": str(path)}
            return
        _require(servers.postgres_binaries() is not None, "PostgreSQL")
        with servers.postgres_server() as server:
            server.create_database("creditshare")
            overrides = {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "creditshare",
                "USER": server.user,
                "PASSWORD": "",
                "HOST": server.host,
                "PORT": str(server.port),
                "OPTIONS": {},
                "CONN_MAX_AGE": 0,
            }
            with default_database(overrides):
                yield {"DATABASE_URL": server.url("creditshare")}


def worker_env(
    redis_url: str, database: dict[str, str], cache: Path, **extra: str
) -> dict[str, str]:
    return servers.worker_environment(
        {
            "CELERY_BROKER_URL": f"{redis_url}/0",
            "CELERY_RESULT_BACKEND": f"{redis_url}/1",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "ENGINE_CACHE_DIR": str(cache),
            **database,
            **extra,
        }
    )


def send_round(redis_url: str, round_id: int) -> None:
    """Enqueue the round as the web process does, on the broker the workers consume."""
    app = Celery("web", broker=f"{redis_url}/0", set_as_current=False)
    try:
        app.send_task("attribution.execute_round", args=[round_id], queue="gpu")
    finally:
        app.close()


def wait_until_finished(round: ValuationRound, workers: list[servers.Worker]) -> None:
    """Poll the round until it is finished; on a timeout, fail with the workers' logs."""
    try:
        servers.wait_for(
            lambda: status_of(round) not in ValuationRound.UNFINISHED,
            timeout=ROUND_TIMEOUT_S,
            what=f"round {round.pk}",
        )
    except servers.ServerError as error:
        logs = "\n".join(w.log.read_text(errors="replace")[-4000:] for w in workers)
        pytest.fail(f"{error}\n{logs}")


@pytest.mark.slow
def test_a_round_completes_end_to_end_on_two_workers_with_the_real_engine(
    redis_url: str,
    shared_database: dict[str, str],
    tmp_path: Path,
    settings: Settings,
) -> None:
    import torch

    round = start_round(make_round(KEYS[:3]).pk, enqueue=False)
    env = worker_env(redis_url, shared_database, tmp_path / "cache")

    with servers.celery_workers(["w1", "w2"], env, tmp_path) as workers:
        send_round(redis_url, round.pk)
        wait_until_finished(round, workers)

    round.refresh_from_db()
    assert round.status == Status.SUCCEEDED, round.error
    assert round.worker.startswith("dispatch:")
    banks = list((tmp_path / "cache" / "bank").glob("*/*.npz"))
    assert len(banks) == 3  # one per contributor, each written once under the engine's own key
    # The same round in this process, from an empty store: the same values (CPU, 1 thread).
    torch.set_num_threads(1)
    settings.ENGINE_CACHE_DIR = tmp_path / "in-process-cache"
    reference = run_engine(RoundConfig.from_json(round.config), lambda *_: None)
    assert stored_values(round) == pytest.approx(reference.values, rel=1e-6, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["worker", "pool-child"])
def test_killing_a_worker_mid_unit_still_completes_the_round_once(
    victim: str,
    redis_url: str,
    shared_database: dict[str, str],
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL a whole worker (a lost node: its unit comes back after the visibility timeout)
    or only its pool process (the worker sees it lost and requeues the unit at once)."""
    log = tmp_path / "units.log"
    round = start_round(make_round(KEYS).pk, enqueue=False)
    env = worker_env(
        redis_url,
        shared_database,
        tmp_path / "cache",
        ENGINE_BANK_RUNNER="tests.attribution.fake_units.slow_bank_unit",
        ENGINE_RUNNER="tests.attribution.fake_units.value_from_banks",
        # A lost node's unit comes back after the visibility timeout: 4 s > one unit (1 s), so
        # only the dead worker's unit is redone. A lost pool child's is requeued by its worker,
        # which notices only seconds later: a short timeout would redeliver it a second time.
        CELERY_VISIBILITY_TIMEOUT="4" if victim == "worker" else "60",
        CELERY_UNACKED_RESTORE_INTERVAL="1",
        **{fake_units.LOG_ENV: str(log), fake_units.SECONDS_ENV: "1.0"},
    )

    with servers.celery_workers(["w1", "w2"], env, tmp_path) as workers:
        send_round(redis_url, round.pk)
        by_pid = {worker.pid: worker for worker in workers}
        servers.wait_for(
            lambda: any(ppid in by_pid for *_, ppid in fake_units.read_unit_log(log)),
            timeout=ROUND_TIMEOUT_S,
            what="a first unit",
        )
        _, killed_key, killed_pid, parent = next(
            row for row in fake_units.read_unit_log(log) if row[3] in by_pid
        )
        time.sleep(0.3)  # well inside the 1 s unit
        if victim == "worker":
            by_pid[parent].kill()
        else:
            os.kill(killed_pid, signal.SIGKILL)
        wait_until_finished(round, workers)

    round.refresh_from_db()
    assert round.status == Status.SUCCEEDED, round.error
    rows = fake_units.read_unit_log(log)
    assert ("done", killed_key, killed_pid, parent) not in rows  # the kill did cut a unit short
    executions = fake_units.executions(log)
    redone = sorted(key for key, count in executions.items() if count > 1)
    print(
        f"\n{victim} killed in {killed_key}'s unit; executions {dict(executions)}; redone {redone}"
    )
    assert set(executions) == set(KEYS)
    assert len(redone) <= 1
    assert ContributorValue.objects.filter(round=round).count() == len(KEYS)  # no duplicates
    # Values identical to an undisturbed run of the same config (fresh store, no sleeping).
    monkeypatch.setenv(fake_units.SECONDS_ENV, "0")
    monkeypatch.delenv(fake_units.LOG_ENV, raising=False)
    settings.ENGINE_CACHE_DIR = tmp_path / "undisturbed-cache"
    undisturbed = fake_units.value_from_banks(RoundConfig.from_json(round.config), lambda *_: None)
    assert stored_values(round) == undisturbed.values
