"""A distributed round through a real broker: Redis, two Celery workers, n contributors.

``bench/scale_engine.py``'s chord part times the calls the Celery tasks make in one process; this
script sends the round the way the web process does and lets real workers run it: a throwaway
SQLite file shared by this process and the workers (the suite's distributed tests use the same
arrangement), a throwaway ``redis-server`` on 127.0.0.1 (``tests/attribution/servers.py``), two
prefork workers of concurrency 1, and instant fake generation (``tests/attribution/fake_units.py``
with 0 s per bank: the real artefact-store writes, no model). It prints, per n: bank-unit messages,
the wall time from sending the round to its success, each unit task's own time as its worker
logged it ("succeeded in … s"), and the ratios between the sizes — per-unit overhead that does not
grow with n is the point.

    PYTHONPATH=. .venv/bin/python bench/scale_chord.py                  # n = 1,000 and 10,000
    PYTHONPATH=. .venv/bin/python bench/scale_chord.py --sizes 200 2000
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROUND_TIMEOUT_S = 1800.0
UNIT_LINE = re.compile(r"Task attribution\.generate_bank\[[^\]]+\] succeeded in ([0-9.]+)s")


def run_size(n: int, directory: Path) -> dict[str, Any]:
    """One round of ``n`` contributors through the broker; its counts and times."""
    from celery import Celery

    from attribution.models import ValuationRound
    from attribution.rounds.config import RoundConfig
    from attribution.rounds.fanout import plan_units
    from attribution.rounds.services import start_round
    from attribution.synthetic_marketplace import seed_synthetic_marketplace
    from tests.attribution import servers

    started = time.perf_counter()
    market = seed_synthetic_marketplace(n, prefix=f"n{n}-")
    round = start_round(market.draft_round_id, enqueue=False)
    seed_s = time.perf_counter() - started
    units = plan_units(RoundConfig.from_json(round.config))
    (directory / f"redis-{n}").mkdir()
    with servers.redis_server(directory / f"redis-{n}") as redis_url:
        env = servers.worker_environment(
            {
                "CELERY_BROKER_URL": f"{redis_url}/0",
                "CELERY_RESULT_BACKEND": f"{redis_url}/1",
                "CELERY_TASK_ALWAYS_EAGER": "0",
                "DJANGO_SQLITE_PATH": os.environ["DJANGO_SQLITE_PATH"],
                "ENGINE_CACHE_DIR": str(directory / f"cache-{n}"),
                "ENGINE_BANK_RUNNER": "tests.attribution.fake_units.slow_bank_unit",
                "ENGINE_RUNNER": "tests.attribution.fake_units.value_from_banks",
                "CREDITSHARE_FAKE_UNIT_SECONDS": "0",
            }
        )
        logs = directory / f"workers-{n}"
        logs.mkdir()
        with servers.celery_workers(["w1", "w2"], env, logs) as workers:
            app = Celery("web", broker=f"{redis_url}/0", set_as_current=False)
            sent = time.perf_counter()
            app.send_task("attribution.execute_round", args=[round.pk], queue="gpu")
            app.close()
            servers.wait_for(
                lambda: (
                    ValuationRound.objects.get(pk=round.pk).status not in ValuationRound.UNFINISHED
                ),
                timeout=ROUND_TIMEOUT_S,
                what=f"round of {n:,} contributors",
            )
            wall_s = time.perf_counter() - sent
            unit_s = [
                float(seconds)
                for worker in workers
                for seconds in UNIT_LINE.findall(worker.log.read_text(errors="replace"))
            ]
    round.refresh_from_db()
    return {
        "n": n,
        "status": round.status,
        "error": round.error,
        "units": len(units),
        "unit_runs": len(unit_s),
        "unit_median_s": statistics.median(unit_s) if unit_s else float("nan"),
        "unit_max_s": max(unit_s, default=float("nan")),
        "wall_s": wall_s,
        "seed_s": seed_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="creditshare-chord-") as scratch:
        directory = Path(scratch)
        os.environ["DJANGO_SQLITE_PATH"] = str(directory / "shared.sqlite3")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
        for name in ("DATABASE_URL", "ENGINE_RUNNER", "ENGINE_BANK_RUNNER"):
            os.environ.pop(name, None)
        import django

        django.setup()
        from django.core.management import call_command

        from bench.machine import print_machine
        from tests.attribution import servers

        if not servers.redis_available():
            sys.exit("error: redis-server is not installed (apt-get install redis-server)")
        print_machine(
            "A distributed round through Redis and two Celery workers", ("celery", "redis")
        )
        call_command("migrate", verbosity=0)
        rows = [run_size(n, directory) for n in args.sizes]
    print(
        f"{'n':>7} {'status':>10} {'units':>6} {'runs':>5} {'unit median s':>14} "
        f"{'unit max s':>11} {'round wall s':>13} {'wall s / unit':>14} {'seed s':>7}"
    )
    for row in rows:
        per_unit = row["wall_s"] / max(row["units"], 1)
        print(
            f"{row['n']:>7,} {row['status']:>10} {row['units']:>6} {row['unit_runs']:>5} "
            f"{row['unit_median_s']:>14.3f} {row['unit_max_s']:>11.3f} {row['wall_s']:>13.1f} "
            f"{per_unit:>14.3f} {row['seed_s']:>7.1f}"
        )
        if row["error"]:
            print(f"        error: {row['error']}")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        print(
            f"ratios {last['n']:,} / {first['n']:,} contributors: units "
            f"×{last['units'] / max(first['units'], 1):.1f}, unit median time "
            f"×{last['unit_median_s'] / first['unit_median_s']:.2f}, round wall time "
            f"×{last['wall_s'] / first['wall_s']:.2f}, wall time per unit "
            f"×{(last['wall_s'] / last['units']) / (first['wall_s'] / first['units']):.2f}"
        )


if __name__ == "__main__":
    main()
