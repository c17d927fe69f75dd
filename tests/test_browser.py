"""A real headless Chromium loads the seeded demo's contributor statement and round dashboard.

Debian's chromium is driven by Playwright (``executable_path``; Playwright downloads nothing).
Screenshots land in ``var/screenshots/`` for a person to look at. Locally the test is skipped when
chromium is missing; in CI (``CI`` set) it must run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from django.conf import settings as django_settings
from django.core.management import call_command

from attribution.models import ValuationRound
from marketplace.models import User

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (apt-get install chromium); CI installs it",
    ),
]


@pytest.fixture
def seeded(transactional_db: None, settings: object, tmp_path: Path) -> ValuationRound:
    torch.set_num_threads(1)
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]
    settings.ENGINE_CACHE_DIR = tmp_path / "cache"  # type: ignore[attr-defined]
    call_command("seed_demo", "--samples", "16", "--budget", "128")
    round = ValuationRound.objects.get()
    assert round.status == ValuationRound.Status.SUCCEEDED, round.error
    assert User.objects.get(username="c00-clean").contributor is not None
    return round


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop shares the thread
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


def _visit(browser: object, live_server: object, username: str, path: str, name: str) -> int:
    """Sign in, open ``path``, wait for the charts; return how many plotly charts rendered."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/accounts/login/")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo-password")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}{path}")  # type: ignore[attr-defined]
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    charts = page.locator(".js-plotly-plot").count()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.close()
    assert not errors, f"console errors on {path}: {errors}"
    return charts


def test_statement_and_dashboard_render_their_charts(
    seeded: ValuationRound, live_server: object, browser: object
) -> None:
    # No ORM here: under Playwright's event loop a query would open a connection that the test
    # database's teardown cannot see or close (PostgreSQL then refuses to drop the database).
    charts = _visit(browser, live_server, "c00-clean", f"/credit/{seeded.pk}/", "statement")
    assert charts >= 1
    charts = _visit(browser, live_server, "admin", f"/dashboard/{seeded.pk}/", "dashboard")
    assert charts >= 4


def test_the_api_docs_work_offline_under_the_content_security_policy(
    live_server: object, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(f"{live_server.url}/api/v1/docs/")  # type: ignore[attr-defined]
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
    page.close()
    assert not errors, errors
