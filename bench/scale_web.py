"""Web pages, endpoints and round start-up at 1,000 and 10,000 contributors.

For each size, seeds a synthetic marketplace (``attribution.synthetic_marketplace``) in a
throwaway test database, then requests every page a contributor and a staff member use and
prints, per page, the status, the time, the number of queries and the size; then the time and
queries of starting a round, and how the round's bank units are cut. Ratios between the two
sizes are printed in the same run. SQLite by default; set ``DATABASE_URL`` for PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/scale_web.py            # 1,000 and 10,000
    PYTHONPATH=. .venv/bin/python bench/scale_web.py --sizes 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from attribution.models import ValuationRound  # noqa: E402
from attribution.rounds.config import RoundConfig  # noqa: E402
from attribution.rounds.fanout import plan_units  # noqa: E402
from attribution.rounds.services import start_round  # noqa: E402
from attribution.synthetic_marketplace import seed_synthetic_marketplace  # noqa: E402
from bench.machine import print_machine  # noqa: E402

PAGES = (
    ("contributor", "/credit/"),
    ("contributor", "/credit/{round}/"),
    ("contributor", "/credit/{round}/statement.csv"),
    ("staff", "/dashboard/"),
    ("staff", "/dashboard/{round}/"),
    ("staff", "/dashboard/{round}/progress.json"),
    ("staff", "/api/v1/rounds/"),
    ("staff", "/api/v1/rounds/{round}/"),
    ("staff", "/api/v1/rounds/{round}/values/"),
    ("staff", "/admin/attribution/valuationround/"),
    ("staff", "/admin/attribution/valuationround/{round}/change/"),
)


def measure(size: int, prefix: str) -> dict[str, tuple[float, int, int]]:
    """Page → (seconds, queries, bytes), plus the start-up's entry."""
    started = time.perf_counter()
    market = seed_synthetic_marketplace(size, prefix=prefix)
    print(f"\n== {size:,} contributors (seeded in {time.perf_counter() - started:.1f} s) ==")
    clients = {"contributor": Client(), "staff": Client()}
    clients["contributor"].login(username=market.contributor_username, password=market.password)
    clients["staff"].login(username=market.staff_username, password=market.password)
    clients["staff"].get("/dashboard/")  # warm the process (templates, plotly import)
    results = {}
    for who, page in PAGES:
        url = page.format(round=market.succeeded_round_id)
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            begin = time.perf_counter()
            response = clients[who].get(url)
            seconds = time.perf_counter() - begin
        results[page] = (seconds, len(queries), len(response.content))
        print(
            f"{page:52s} {response.status_code} {seconds * 1000:8.0f} ms "
            f"{len(queries):5d} queries {len(response.content) / 1e3:8.0f} kB"
        )
    with CaptureQueriesContext(connection) as queries:
        begin = time.perf_counter()
        start_round(market.draft_round_id, enqueue=False)
        seconds = time.perf_counter() - begin
    results["start_round"] = (seconds, len(queries), 0)
    config = RoundConfig.from_json(ValuationRound.objects.get(pk=market.draft_round_id).config)
    units = plan_units(config)
    largest = max(len(str(unit)) for unit in units)
    print(
        f"{'start_round':52s}     {seconds * 1000:8.0f} ms {len(queries):5d} queries; "
        f"{len(units)} bank units, the largest message {largest / 1e3:.0f} kB"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    args = parser.parse_args()
    print_machine("Web pages and round start-up by number of contributors", ("Django",))
    print(f"database: {connection.vendor}")
    setup_test_environment()
    runner = DiscoverRunner(verbosity=0)
    databases = runner.setup_databases()
    try:
        runs = {size: measure(size, f"s{index}") for index, size in enumerate(sorted(args.sizes))}
    finally:
        runner.teardown_databases(databases)
    if len(runs) >= 2:
        small, large = min(runs), max(runs)
        print(f"\n== ratios, {large:,} vs {small:,} contributors ({large / small:.0f}× more) ==")
        for page, (seconds, queries, size) in runs[large].items():
            base = runs[small][page]
            print(
                f"{page:52s} time {seconds / max(base[0], 1e-6):6.1f}×  queries "
                f"{queries}/{base[1]}  size {size / max(base[2], 1):6.1f}×"
            )


if __name__ == "__main__":
    main()
