"""A real headless Chromium loads the seeded demo's contributor statement and round dashboard.

Debian's chromium is driven by Playwright (``executable_path``; Playwright downloads nothing).
Screenshots land in ``var/screenshots/`` for a person to look at. Locally the test is skipped when
chromium is missing; in CI (``CI`` set) it must run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from django.conf import settings as django_settings
from django.core.management import call_command

from attribution.models import ValuationRound
from marketplace.models import User
from tests.marketplace.uploads.upload_corpus import png, zip_archive

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


def archive(seed: int) -> dict[str, Any]:
    """A zip of two new images (duplicates are refused) and their labels.csv, for an upload."""
    labels = b"file,label\na.png,3\nb.png,7\n"
    entries = [("a.png", png(seed)), ("b.png", png(seed + 1)), ("labels.csv", labels)]
    return {"name": "digits.zip", "mimeType": "application/zip", "buffer": zip_archive(entries)}


VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
# Money as the site shows it: a currency sign, thousands separators, exactly two decimals.
EURO = re.compile(r"^\u2212?€\d{1,3}(,\d{3})*\.\d{2}$")


# What static/js/upload.js shows while it sends the form, kept across the page change that
# follows: whether the bar was shown and the button disabled, and every text the bar carried.
RECORD_UPLOAD_PROGRESS = """
document.addEventListener("submit", function (event) {
  if (!event.target.matches("form.upload-form")) { return; }
  var box = document.querySelector("[data-upload-progress]");
  var text = box.querySelector("[data-upload-progress-text]");
  var seen = {shown: !box.hidden, disabled: event.target.querySelector("button").disabled,
              texts: [text.textContent]};
  var save = function () { sessionStorage.setItem("upload-progress", JSON.stringify(seen)); };
  save();
  new MutationObserver(function () { seen.texts.push(text.textContent); save(); })
    .observe(text, {childList: true, characterData: true, subtree: true});
});
"""
SENT = re.compile(r"^[\d.,]+ (bytes|KiB|MiB) of [\d.,]+ (bytes|KiB|MiB) sent \(100%\)$")


class Tab:
    """A page at one viewport that records console errors and checks the layout."""

    def __init__(self, browser: Any, live_server: Any, viewport: str) -> None:
        self.url = live_server.url
        self.viewport = viewport
        self.page = browser.new_page(viewport=VIEWPORTS[viewport])
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def sign_in(self, username: str) -> None:
        self.page.goto(f"{self.url}/accounts/login/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", "demo-password")
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def open(self, path: str) -> None:
        self.page.goto(f"{self.url}{path}")

    def check(self, name: str) -> None:
        """Save a full-page screenshot; assert no console error and no horizontal overflow."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{self.viewport}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert not self.errors, f"console errors on {self.page.url}: {self.errors}"
        width = self.page.evaluate("document.documentElement.scrollWidth")
        window = self.page.evaluate("window.innerWidth")
        assert width <= window, f"{self.page.url} is {width} px wide in a {window} px window"


def test_statement_and_dashboard_render_their_charts(
    seeded: ValuationRound, live_server: object, browser: object
) -> None:
    # No ORM here: under Playwright's event loop a query would open a connection that the test
    # database's teardown cannot see or close (PostgreSQL then refuses to drop the database).
    for viewport in VIEWPORTS:
        for username, path, name, at_least in [
            ("c00-clean", f"/credit/{seeded.pk}/", "statement", 1),
            # Values and shares (the default estimator fits no surrogate: no fit or convergence).
            ("admin", f"/dashboard/{seeded.pk}/", "dashboard", 2),
        ]:
            tab = Tab(browser, live_server, viewport)
            tab.sign_in(username)
            tab.open(path)
            tab.page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
            assert tab.page.locator(".js-plotly-plot").count() >= at_least
            tab.check(name)
            tab.page.close()


def test_a_contributor_reads_earnings_and_a_statement_and_is_asked_before_withdrawing(
    seeded: ValuationRound, live_server: object, browser: object
) -> None:
    for seed, viewport in enumerate(VIEWPORTS):
        tab = Tab(browser, live_server, viewport)
        tab.page.add_init_script(RECORD_UPLOAD_PROGRESS)
        tab.sign_in("c00-clean")  # contributors land on /credit/
        tab.page.wait_for_selector("dl.earnings")
        amounts = tab.page.locator("dl.earnings dd.money").all_inner_texts()
        assert len(amounts) == 3, amounts
        assert all(EURO.match(text) for text in amounts), amounts
        assert "EUR " not in tab.page.inner_text("main")
        assert tab.page.locator("th", has_text="Share of the pool").count() == 1
        tab.check("credit")

        tab.page.click(f"a[href='/credit/{seeded.pk}/']")
        tab.page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
        payout = tab.page.locator("dl.summary dd.money strong").first.inner_text()
        assert EURO.match(payout), payout
        with tab.page.expect_download() as download:
            tab.page.click("text=Download this statement (CSV)")
        assert download.value.suggested_filename.endswith(".csv")
        tab.check("statement")

        tab.page.click("nav.site-nav >> text=My data")
        tab.page.click("text=Upload a new data group")
        tab.page.fill("input[name=title]", f"zip from the {viewport}")
        tab.page.click("label[for=way-zip]")
        assert tab.page.is_visible("input[name=archive]")
        assert not tab.page.is_visible("input[name=images]")
        tab.check("upload")
        # Without consent the upload is refused: the page's errors replace the form in place.
        tab.page.set_input_files("input[name=archive]", files=[archive(1000 + 10 * seed)])
        tab.page.click("button:has-text('Upload')")
        tab.page.wait_for_selector(".has-error .field-error")
        assert tab.page.url.endswith("/data/upload/")
        assert tab.page.is_checked("#way-zip")  # still on the tab the contributor chose
        tab.errors.remove(
            "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        )
        tab.check("upload-refused")
        # The zip stays chosen: only the missing consent is to be fixed.
        assert tab.page.eval_on_selector("input[name=archive]", "input => input.files.length") == 1
        tab.page.wait_for_selector("text=The files you chose are still selected")
        tab.page.check("input[name=consent]")
        tab.page.click("button:has-text('Upload')")
        tab.page.wait_for_selector("text=Uploaded 2 images; the group awaits review.")
        seen = json.loads(tab.page.evaluate("sessionStorage.getItem('upload-progress')"))
        assert seen["shown"], seen  # the bar appeared as the form was sent
        assert seen["disabled"], seen  # and the button could not send it twice
        assert any(SENT.match(text) for text in seen["texts"]), seen["texts"]
        assert tab.page.is_visible(f"td:has-text('zip from the {viewport}')")
        tab.check("data")
        tab.page.click("text=clean digits")  # the demo's accepted group: 80 labelled images
        tab.page.wait_for_selector("ul.thumbnails img")
        tab.page.wait_for_load_state("load")  # every thumbnail fetched (they are not lazy)
        loaded = tab.page.evaluate(
            "[...document.querySelectorAll('ul.thumbnails img')]"
            ".every(image => image.complete && image.naturalWidth > 0)"
        )
        assert loaded, "a thumbnail did not load"
        tab.check("data-group")
        tab.page.go_back()
        tab.page.click("text=Withdraw…")
        tab.page.wait_for_selector("text=Past rounds and payouts stay as they are")
        tab.check("withdraw")
        tab.page.click("text=Keep it")  # nothing is withdrawn
        tab.page.wait_for_selector("text=Withdraw…")
        tab.page.close()


def test_a_partner_creates_a_key_on_the_settings_page_and_calls_the_api_with_it(
    seeded: ValuationRound, live_server: object, browser: object
) -> None:
    for viewport in VIEWPORTS:
        tab = Tab(browser, live_server, viewport)
        tab.sign_in("c00-clean")
        tab.page.click("nav.site-nav >> text=API keys")
        tab.page.fill("input[name=name]", f"browser test {viewport}")
        tab.page.click("text=Create key")
        tab.page.wait_for_selector("text=Copy it now: it is shown only this once.")
        key = tab.page.input_value("#new-key")
        tab.check("api-key-created")

        api = f"{tab.url}/api/v1/payouts/"
        response = tab.page.request.get(api, headers={"Authorization": f"Bearer {key}"})
        assert response.status == 200
        payouts = response.json()["results"]
        assert payouts
        for payout in payouts:
            whole, cents = payout["amount"].split(".")
            assert len(cents) == 2, payout
            assert payout["amount_minor"] == int(whole + cents), payout
        bare = tab.page.request.get(api, headers={"Authorization": key})
        assert bare.status == 401
        assert "Authorization: Bearer" in bare.json()["detail"]

        tab.open("/settings/api-keys/")
        assert key not in tab.page.content()  # shown once only
        tab.page.click("text=Revoke…")
        tab.page.click("text=Revoke the key")
        tab.page.wait_for_selector("text=Revoked the key")
        tab.check("api-keys")
        after = tab.page.request.get(api, headers={"Authorization": f"Bearer {key}"})
        assert after.status == 401

        tab.page.click("footer a[href='/api/v1/']")
        tab.page.wait_for_selector("text=Getting started")
        tab.check("api-index")
        tab.page.close()


def test_redoc_renders_offline_under_the_content_security_policy(
    live_server: object, browser: object
) -> None:
    tab = Tab(browser, live_server, "desktop")
    tab.open("/api/v1/redoc/")
    tab.page.wait_for_selector("h1:has-text('Creditshare API')", timeout=20_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(SCREENSHOTS / "api-redoc.png"))
    assert not tab.errors, tab.errors
    tab.page.close()


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
