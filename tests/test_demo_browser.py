"""The demo page in a real browser (Debian's chromium driven by Playwright), as a GP would use it.

The service runs as on the README's first run (authentication on, no clients file) on a free
loopback port. Load /demo, pick the 3-week back-pain scenario, open the chart, order a lumbar MRI,
see the warning, accept "remove the order", check the order list and the stored feedback, then
override a card with a reason. A screenshot goes to ``$CI_ARTEFACTS_DIR`` (default ``artefacts/``).
Skipped only when chromium or Playwright is missing and ``CI`` is unset; under CI it fails instead.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from service import create_app
from service.runtime import EXTENSION_KEY

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCENARIO = "042-xray-without-indication"


def _need(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run installs it")
    pytest.skip(f"{what} is missing (apt-get install -y chromium; pip install playwright)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    app = create_app({"DATA_DIR": str(tmp_path_factory.mktemp("demo"))})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        _need("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                                              else shutil.which("chromium"), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _artefact(name: str) -> Path:
    folder = Path(os.environ.get("CI_ARTEFACTS_DIR", ROOT / "artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def test_gp_orders_an_mri_accepts_removal_and_overrides(served: tuple[str, Any], browser: Any) -> None:
    base, app = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="da-DK")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/demo/")
    page.wait_for_selector("body[data-ready=true]", timeout=20000)
    page.select_option("#scenario", SCENARIO)
    page.wait_for_selector(f"body[data-scenario='{SCENARIO}']")
    assert "3 uger" in page.inner_text("#patient-title")
    assert "12 uger" in page.inner_text("#timeline")

    page.click("#open-chart")
    page.wait_for_selector("#cards-box:not([hidden])")

    page.click("button[data-order=mri]")
    card = page.wait_for_selector(".card[data-rule=IMG-NOT-INDICATED][data-indicator=warning]", timeout=20000)
    assert "MR" in card.inner_text()
    assert page.locator("#drafts li.draft").count() == 1
    page.screenshot(path=str(_artefact("demo-mri-warning.png")), full_page=True)

    card.query_selector("button.suggestion").click()  # "Fjern ordinationen", the first suggestion
    page.wait_for_selector(".feedback-item[data-status='200'][data-outcome=accepted]")
    assert page.locator("#drafts li.draft").count() == 0, "the MRI left the draft orders"

    page.click("button.scenario-call[data-index='0']")  # the scenario's own call: lumbar X-ray
    xray = page.wait_for_selector(".card[data-rule=IMG-XRAY-NO-INDICATION]", timeout=20000)
    assert "✓" in page.inner_text("#expected")
    xray.query_selector("select.override-reason").select_option(index=3)
    xray.query_selector("input.override-comment").fill("Patienten er informeret")
    xray.query_selector("button.override-btn").click()
    page.wait_for_selector(".feedback-item[data-status='200'][data-outcome=overridden]")
    page.screenshot(path=str(_artefact("demo.png")), full_page=True)

    rows = app.extensions[EXTENSION_KEY].storage.feedback_rows()
    outcomes = {(r["rule_id"], r["outcome"]) for r in rows}
    assert ("IMG-NOT-INDICATED", "accepted") in outcomes, rows
    assert ("IMG-XRAY-NO-INDICATION", "overridden") in outcomes, rows
    assert {r["client_iss"] for r in rows} == {"lbp-cds-demo"}
    assert not errors, errors


def test_english(served: tuple[str, Any], browser: Any) -> None:
    base, _ = served
    page = browser.new_page(locale="en-GB")
    page.goto(f"{base}/demo/?lang=en&scenario=067-annual-review-overdue")
    page.wait_for_selector("body[data-ready=true]", timeout=20000)
    assert page.inner_text("#open-chart") == "Open the chart"
    page.click("#open-chart")
    card = page.wait_for_selector(".card[data-rule=FU-ANNUAL-REVIEW]", timeout=20000)
    assert "annual review" in card.inner_text().lower()


def test_a_card_not_repeated_in_the_consultation_is_said_not_lost(served: tuple[str, Any], browser: Any) -> None:
    """Chart, then an order in the same consultation: the paresis card is shown once (card memory),
    and the page says the second call hid it on purpose instead of reporting a broken promise."""
    base, _ = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="da-DK")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/demo/")
    page.wait_for_selector("body[data-ready=true]", timeout=20000)
    page.select_option("#scenario", "013-paresis-grade-3-stable")
    page.wait_for_selector("body[data-scenario='013-paresis-grade-3-stable']")
    page.click("button.scenario-call[data-index='0']")  # patient-view
    page.wait_for_selector(".card[data-rule=RF-PARESIS-NON-ACUTE][data-indicator=warning]", timeout=20000)
    page.click("button.scenario-call[data-index='1']")  # order-select, same patient, same consultation
    page.wait_for_selector("#expected .hidden-cards", timeout=20000)
    assert "RF-PARESIS-NON-ACUTE" in page.inner_text("#expected .hidden-cards")
    assert "✓" in page.inner_text("#expected")
    assert page.locator(".card[data-rule=RF-PARESIS-NON-ACUTE]").count() == 0
    assert not errors, errors
