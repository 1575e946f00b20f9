"""/admin: off without a token, 401 with a wrong one; the report as JSON, CSV and a page with charts."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service import create_app
from tests.test_feedback import issue_card
from tests.test_hooks import assert_outcome

TOKEN = "admin-token-for-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
STATIC = Path(__file__).resolve().parent.parent / "service/static/admin"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def admin_app(tmp_path, database_url):
    # The card memory off: the fixture issues the same card twice for the report (tests/test_card_memory.py
    # covers the memory, which would rightly not repeat it within one consultation).
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "DATABASE_URL": database_url,
                      "ADMIN_TOKEN": TOKEN, "CARD_MEMORY": "off"})
    client = app.test_client()
    imaging = issue_card(client)  # IMG-NOT-INDICATED on a draft lumbar MRI
    remove = next(s for s in imaging["suggestions"] if "delete" in [a["type"] for a in s["actions"]])
    other = issue_card(client)
    feedback = {"feedback": [
        {"card": imaging["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": remove["uuid"]}],
         "outcomeTimestamp": "2026-11-22T10:00:00Z"},
        {"card": other["uuid"], "outcome": "overridden",
         "overrideReason": {"reason": other["overrideReasons"][0], "userComment": "Patienten <b>insisterer</b>"},
         "outcomeTimestamp": "2026-11-22T10:01:00Z"}]}
    assert client.post("/cds-services/lbp-order-select/feedback", json=feedback).status_code == 200
    app.config["override_display"] = other["overrideReasons"][0]["display"]
    return app


def test_admin_is_404_when_no_token_is_configured(client):
    for path in ("/admin/", "/admin/report", "/admin/report.csv", "/admin/static/admin.js"):
        assert_outcome(client.get(path, headers=BEARER), 404)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-wrong-token"},
                                     {"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()},
                                     {"Authorization": "Basic !!!"}])
def test_a_missing_or_wrong_token_is_401_and_asks_the_browser_for_it(tmp_path, headers):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "ADMIN_TOKEN": TOKEN})
    response = app.test_client().get("/admin/report", headers=headers)
    assert_outcome(response, 401)
    assert "Basic" in response.headers["WWW-Authenticate"]


def test_a_short_admin_token_stops_start_up(tmp_path):
    with pytest.raises(ValueError, match="ADMIN_TOKEN"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "ADMIN_TOKEN": "short"})


def test_report_json_shows_the_accepted_removal_and_the_override(admin_app):
    response = admin_app.test_client().get("/admin/report", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    report = response.get_json()
    assert report["totals"]["imaging_removals_accepted"] == 1
    assert (report["totals"]["accepted"], report["totals"]["overridden"]) == (1, 1)
    (rule,) = report["rules"]
    assert rule["override_reasons"][0]["count"] == 1
    assert rule["comments"][0]["comment"] == "Patienten <b>insisterer</b>"


def test_basic_auth_password_is_the_token(admin_app):
    basic = {"Authorization": "Basic " + base64.b64encode(f"anyone:{TOKEN}".encode()).decode()}
    assert admin_app.test_client().get("/admin/report", headers=basic).status_code == 200


def test_bad_dates_are_400(admin_app):
    assert_outcome(admin_app.test_client().get("/admin/report?since=yesterday", headers=BEARER), 400, "since")


def test_csv_download(admin_app):
    response = admin_app.test_client().get("/admin/report.csv", headers=BEARER)
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.text.splitlines()[1].startswith("IMG-NOT-INDICATED,")


@pytest.mark.parametrize(("lang", "words"), [("da", ["Accepteret", "Tilsidesat", "Hent CSV"]),
                                              ("en", ["Accepted", "Overridden", "Download CSV"])])
def test_page_reads_in_danish_and_english_and_allows_no_inline_script(admin_app, lang, words):
    response = admin_app.test_client().get(f"/admin/?lang={lang}", headers=BEARER)
    assert response.status_code == 200
    html = response.text
    assert f'<html lang="{lang}">' in html
    assert all(word in html for word in words)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<b>insisterer</b>" not in html  # a clinician's comment is text, never markup
    assert html.count("<script") == 3 and "<script>" not in html


def test_the_vendored_chart_js_is_the_published_file_with_its_licence():
    digest = hashlib.sha256((STATIC / "chart.umd.min.js").read_bytes()).hexdigest()
    assert digest == "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"
    assert "MIT" in (STATIC / "chart.js-LICENSE.md").read_text(encoding="utf-8")


# -- in a real browser ------------------------------------------------------------------------


@pytest.fixture
def live_admin(admin_app) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, admin_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def _need_chromium() -> None:
    if os.path.exists(CHROMIUM) and shutil.which(CHROMIUM):
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", ["da", "en"])
def test_admin_page_draws_its_charts_in_headless_chromium(live_admin, admin_app, lang):
    _need_chromium()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(http_credentials={"username": "quality-unit", "password": TOKEN})
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            response = page.goto(f"{live_admin}/admin/?lang={lang}")
            assert response is not None and response.status == 200
            page.wait_for_selector("canvas[data-drawn=true]#chart_reasons", timeout=10_000)
            drawn: dict[str, Any] = page.evaluate("""() => Object.fromEntries(
                [...document.querySelectorAll('canvas')].map(c => {
                  const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let painted = 0;
                  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
                  return [c.id, {chart: !!Chart.getChart(c), width: c.width, painted}];
                }))""")
            assert page.inner_text("[data-figure=imaging_removals_accepted]") == "1"
            assert page.inner_text("[data-figure=overridden]") == "1"
            assert admin_app.config["override_display"] in page.inner_text("table")
            csv_link = page.get_attribute("a[download]", "href")
        finally:
            browser.close()
    assert set(drawn) == {"chart_outcomes", "chart_rate", "chart_reasons"}
    for name, state in drawn.items():
        assert state["chart"] and state["width"] > 0 and state["painted"] > 500, (name, state)
    assert problems == []
    assert csv_link is not None and csv_link.startswith("/admin/report.csv")
