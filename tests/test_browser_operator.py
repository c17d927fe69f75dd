"""A real headless Chromium walks the operator's workflow on the round dashboard, by clicking.

At a desktop and a phone width the operator creates a round (after one refused try), starts
it, watches its live progress until it succeeds, creates the payouts, reviews them, approves
with the explicit confirmation and exports the CSV. Every page is checked for console errors and
horizontal overflow and saved as a screenshot in ``var/screenshots/`` (``operator-*``).

The rounds are real (the shipped digits model, 4 images per contributor, KernelSHAP: every
contributor on the desktop, about 15 s on one CPU thread; six listed ones on the phone) and run
the way a worker runs them: the start button's request only queues the round, and a thread
standing in for the Celery worker runs ``execute_round`` beside the live server, so the page shows
real progress. The whole test takes about a minute. Fixtures and helpers come from
``tests/test_browser.py``.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.management import call_command
from django.db import connection

from attribution.dashboard import views
from attribution.rounds.execution import execute_round
from attribution.tasks import execute_round_task
from tests.test_browser import (
    EURO,
    VIEWPORTS,
    Tab,
)
from tests.test_browser import browser as chromium  # noqa: F401  (the fixture, as "chromium")
from tests.test_browser import pytestmark as browser_marks

pytestmark = browser_marks

POOL = "1234.56"
POOL_TEXT = "€1,234.56"


class Worker:
    """Stands in for the Celery worker: runs each enqueued round in its own thread."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def delay(self, round_id: int) -> None:
        thread = threading.Thread(target=self._run, args=(round_id,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self, round_id: int) -> None:
        try:
            execute_round(round_id)
        except BaseException as error:  # reported by the test, not lost in the thread
            self.errors.append(error)
        finally:
            connection.close()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=120)


@pytest.fixture
def marketplace(transactional_db: None, settings: Any, tmp_path: Path) -> None:
    """The digits demo's users, contributors and model version, with no round yet."""
    torch.set_num_threads(1)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ENGINE_CACHE_DIR = tmp_path / "cache"
    call_command("seed_demo", "--no-round", stdout=io.StringIO())


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    worker = Worker()
    monkeypatch.setattr(execute_round_task, "delay", worker.delay)
    # The page polls twice a second instead of every 2 s, so even the phone's short round is
    # seen mid-way (the live server runs in this process).
    monkeypatch.setattr(views, "POLL_INTERVAL_MS", 500)
    yield worker
    worker.join()


def watch_progress(tab: Tab) -> list[tuple[int, str]]:
    """(percent, stage) as the page shows them, read every 300 ms until the outcome appears."""
    seen: list[tuple[int, str]] = []
    shot = False
    for _ in range(400):  # 2 minutes at most
        if tab.page.is_visible("#live-outcome"):
            break
        text = tab.page.inner_text("#live-percent").rstrip("%")
        stage = tab.page.inner_text("#live-stage")
        if text.isdigit():
            seen.append((int(text), stage))
            if not shot and 0 < int(text) < 100:
                tab.check("operator-progress")  # mid-round, as the operator sees it
                shot = True
        tab.page.wait_for_timeout(300)
    return seen


# Desktop: every contributor. Phone: six listed ones, on another seed (a seed already used would
# find its banks in the artefact store and skip the generation there is to watch).
ROUNDS = {
    "desktop": {"keys": [], "seed": "0", "n": 20},
    "phone": {
        "keys": [
            "c00-clean",
            "c03-clean",
            "c10-noisy_labels",
            "c12-degraded",
            "c14-marker",
            "c17-mixed",
        ],
        "seed": "1",
        "n": 6,
    },
}


def test_an_operator_creates_starts_watches_pays_out_approves_and_exports(
    marketplace: None,
    worker: Worker,
    live_server: Any,
    chromium: Any,  # noqa: F811
) -> None:
    for viewport in VIEWPORTS:
        plan = ROUNDS[viewport]
        n = plan["n"]
        tab = Tab(chromium, live_server, viewport)
        tab.sign_in("admin")  # staff land on the dashboard
        tab.page.wait_for_selector("h1:has-text('Valuation rounds')")
        tab.check("operator-list")

        # A new round: a pool finer than a cent is refused next to its field, choices kept.
        tab.page.click("text=New round")
        tab.page.fill("#id_title", f"Operator round ({viewport})")
        tab.page.select_option("#id_metric", "label_fidelity")
        tab.page.select_option("#id_estimator", "kernel")
        tab.page.fill("#id_budget", "64")
        tab.page.fill("#id_n_samples", "4")
        tab.page.fill("#id_n_bootstrap", "0")
        tab.page.fill("#id_seed", plan["seed"])
        if plan["keys"]:
            tab.page.check("input[name=who][value=listed]")
            tab.page.fill("#id_keys", "\n".join(plan["keys"]))
        tab.page.fill("#id_pool", "1234.567")
        tab.page.click("button:has-text('Create the draft round')")
        tab.page.wait_for_selector("#id_pool_error")
        assert "at most 2 decimal places" in tab.page.inner_text("#id_pool_error")
        assert tab.page.input_value("#id_metric") == "label_fidelity"
        assert tab.page.input_value("#id_estimator") == "kernel"
        assert tab.page.get_attribute("#id_pool", "aria-invalid") == "true"
        tab.check("operator-new-refused")
        tab.page.fill("#id_pool", POOL)
        tab.page.click("button:has-text('Create the draft round')")
        tab.page.wait_for_selector("text=Check it, then start it.")
        assert f"over {n} contributors" in tab.page.inner_text(".messages")
        tab.check("operator-draft")

        # Start: the request only queues it; the page then follows the worker.
        tab.page.click("button:has-text('Start the round')")
        tab.page.wait_for_selector("#live-bar")
        seen = watch_progress(tab)
        assert tab.page.is_visible("text=The round succeeded"), tab.page.inner_text("main")
        assert not worker.errors, worker.errors
        percents = [percent for percent, _ in seen]
        assert percents == sorted(percents), seen  # the overall bar never goes back
        assert any(0 < percent < 100 for percent in percents), seen
        stages = {stage for _, stage in seen}
        assert any(
            re.fullmatch(rf"Generating images for contributor \d+ of {n}", s) for s in stages
        )
        assert tab.page.inner_text("#live-status") == "Succeeded"
        tab.check("operator-succeeded")

        # Results, then payouts.
        tab.page.click("text=Show the results")
        tab.page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
        amounts = tab.page.locator("#payout-table tbody td:last-child").all_inner_texts()
        assert amounts, "no payout preview"
        assert all(EURO.match(text) for text in amounts), amounts
        tab.check("operator-results")
        tab.page.click("button:has-text('Create these payouts')")
        tab.page.wait_for_selector("h1:has-text('Payout batch')")

        # The review: totals to the cent, payees, who approves.
        assert tab.page.inner_text("#review-pool") == POOL_TEXT
        assert tab.page.inner_text("#review-total") == POOL_TEXT
        assert tab.page.inner_text("#review-payees") == str(n)
        assert "admin (you)" in tab.page.inner_text("#review-approver")
        shown = tab.page.locator("#review-largest tbody td.money").all_inner_texts()
        assert all(EURO.match(text) for text in shown), shown
        tab.check("operator-review")

        # Approve: refused without the confirmation, then done with it.
        tab.page.click(f"button:has-text('Approve {POOL_TEXT}')")
        tab.page.wait_for_selector("text=Tick the box to confirm.")
        tab.page.check("input[name=confirm]")
        tab.page.click(f"button:has-text('Approve {POOL_TEXT}')")
        tab.page.wait_for_selector("text=will be paid. Export the CSV for the payment run.")
        assert tab.page.inner_text("h1 .status") == "Approved"
        assert not tab.page.is_visible("input[name=confirm]")
        tab.check("operator-approved")

        # Export the approved batch's CSV.
        with tab.page.expect_download() as download:
            tab.page.click("a[href$='/payouts.csv']")
        name = download.value.suggested_filename
        assert re.fullmatch(r"payouts-batch-\d+-\d{4}-\d{2}-\d{2}-approved\.csv", name), name
        header, *rows = csv.reader(io.StringIO(Path(download.value.path()).read_text()))
        assert header[:3] == ["batch", "status", "round"]
        assert len(rows) == n
        assert {row[1] for row in rows} == {"approved"}
        assert sum(Decimal(row[header.index("amount")]) for row in rows) == Decimal(POOL)
        tab.page.close()
