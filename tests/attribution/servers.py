"""Real servers for the distributed-round tests: Redis, PostgreSQL and Celery workers.

Each listens on 127.0.0.1 and a free port, lives in a temporary directory, is waited for with a
deadline and is stopped (then killed if it lingers) when its context manager exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class ServerError(RuntimeError):
    """A server did not start in time; the message carries the end of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, log: Path | None = None
) -> None:
    """Poll ``condition`` every 0.1 s until it holds; ServerError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise ServerError(f"{what} not ready within {timeout:.0f} s\n{tail}")


def stop_process(process: subprocess.Popen[Any], first: int = signal.SIGTERM) -> None:
    """Send ``first`` to the process group, then SIGKILL if it has not exited in time."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, first)
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
    except ProcessLookupError:
        process.wait(timeout=STOP_TIMEOUT_S)


def _spawn(command: list[str], log: Path, **options: Any) -> subprocess.Popen[Any]:
    stream: IO[bytes] = log.open("ab")
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop and kill reach its children
            **options,
        )
    finally:
        stream.close()


# ---------------------------------------------------------------- Redis


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A throwaway redis-server without persistence; yields its URL (``redis://127.0.0.1:P``)."""
    port = free_port()
    log = directory / "redis.log"
    process = _spawn(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        log,
    )
    try:
        wait_for(lambda: _redis_pings(port), timeout=START_TIMEOUT_S, what="redis-server", log=log)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop_process(process)


def _redis_pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# ---------------------------------------------------------------- PostgreSQL


def postgres_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``postgres`` (Debian keeps them off the PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, name: str) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{name}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')


INITDB_OPTIONS = ("--auth=trust", "--encoding=UTF8", "--no-sync")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway cluster (trust auth, fsync off) in a temporary directory.

    As root it runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
    """
    binaries = postgres_binaries()
    if binaries is None:
        raise ServerError("PostgreSQL is not installed (no initdb)")
    root = Path(tempfile.mkdtemp(prefix="creditshare-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "postgres.log", free_port()
    listen = ("-h", "127.0.0.1", "-p", str(port), "-c", "fsync=off")
    try:
        subprocess.run(
            [*run_as, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", *INITDB_OPTIONS],
            capture_output=True,
            timeout=120,
            check=True,
        )
        log.touch()
        if run_as:
            shutil.chown(log, "postgres", "postgres")
        process = _spawn(
            [*run_as, str(binaries / "postgres"), "-D", str(data), "-k", str(root), *listen],
            log,
        )
        server = PostgresServer("127.0.0.1", port, "postgres")
        try:
            wait_for(
                lambda: _postgres_accepts(server),
                timeout=START_TIMEOUT_S,
                what="postgres",
                log=log,
            )
            yield server
        finally:
            stop_process(process, signal.SIGINT)  # "fast" shutdown
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _postgres_accepts(server: PostgresServer) -> bool:
    import psycopg

    try:
        with psycopg.connect(server.url("postgres"), connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


# ---------------------------------------------------------------- Celery workers


@dataclass
class Worker:
    """One ``celery -A marketplace worker`` process group."""

    name: str
    process: subprocess.Popen[Any]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_ready(self) -> bool:
        return self.log.exists() and " ready." in self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as a lost node would go."""
        os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        stop_process(self.process)


def worker_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without Django, Celery and engine settings, plus ``overrides``."""
    prefixes = ("DJANGO_", "CELERY_", "ENGINE_", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(DJANGO_SETTINGS_MODULE="marketplace.settings", OMP_NUM_THREADS="1", **overrides)
    return env


@contextmanager
def celery_workers(
    names: list[str], env: Mapping[str, str], directory: Path, *, queues: str = "gpu,cpu"
) -> Iterator[list[Worker]]:
    """Start one worker per name (prefork pool, concurrency 1) and wait until all are ready."""
    workers: list[Worker] = []
    try:
        for name in names:
            log = directory / f"worker-{name}.log"
            command = [sys.executable, "-m", "celery", "-A", "marketplace", "worker"]
            command += ["-Q", queues, "--concurrency", "1", "--pool", "prefork"]
            command += ["-n", f"{name}@%h", "--without-gossip", "--without-mingle"]
            command += ["--without-heartbeat", "--loglevel", "INFO"]
            process = _spawn(command, log, cwd=REPO_ROOT, env=dict(env))
            workers.append(Worker(name, process, log))
        for worker in workers:
            wait_for(
                worker.is_ready,
                timeout=START_TIMEOUT_S,
                what=f"celery worker {worker.name}",
                log=worker.log,
            )
        yield workers
    finally:
        for worker in workers:
            worker.stop()
