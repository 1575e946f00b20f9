"""The quality unit's view of the feedback: ``/admin/`` (HTML with charts), ``/admin/report`` (JSON, CSV).

Off unless ``LBP_CDS_ADMIN_TOKEN`` is set: then every ``/admin`` URL answers 404, as if it did
not exist. With it set, a request must carry the token as ``Authorization: Bearer TOKEN`` (scripts)
or as the password of HTTP Basic (a browser asks for it; any user name); otherwise 401. The
token is compared in constant time. The page's script and Chart.js are static files served from
here: the page's Content-Security-Policy allows no inline script (``service.security_headers``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from datetime import date
from html import escape
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for

from .errors import BadRequest, NotFound, ServiceUnavailable, Unauthorized
from .report import as_csv, build_report
from .runtime import runtime
from .storage import StorageError

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin", static_folder="static/admin", static_url_path="/static")
LANGUAGES = ("da", "en")
MIN_TOKEN_LENGTH = 16


class AdminUnauthorized(Unauthorized):
    """401 that makes a browser ask for the token (HTTP Basic), and tells scripts Bearer works too."""

    headers = {"WWW-Authenticate": 'Basic realm="lbp-cds admin", charset="UTF-8", Bearer realm="lbp-cds admin"'}


def init_app(app: Flask) -> None:
    """Register the blueprint; refuse to start with a token too short to be a secret."""
    token = str(app.config["ADMIN_TOKEN"] or "")
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"LBP_CDS_ADMIN_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
    app.register_blueprint(bp)


def _presented_token() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


@bp.before_request
def require_admin_token() -> None:
    token = str(current_app.config["ADMIN_TOKEN"] or "")
    if not token:
        raise NotFound("Not found.")
    if not hmac.compare_digest(_presented_token().encode("utf-8"), token.encode("utf-8")):
        log.warning("admin: refused a request without the admin token")
        raise AdminUnauthorized("Authentication failed.")


def _day(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"'{name}' must be a date as YYYY-MM-DD, not '{value[:40]}'.") from None


def _report() -> dict[str, Any]:
    try:
        return build_report(runtime().storage, _day("since"), _day("until"))
    except StorageError as exc:
        log.error("admin: report not built: %s", type(exc).__name__)
        raise ServiceUnavailable("The report cannot be read from the database just now; please try again.") from exc


@bp.get("/report")
def report_json() -> Any:
    """The report as JSON (``?since=YYYY-MM-DD&until=YYYY-MM-DD``, both optional, both days included)."""
    return jsonify(_report())


@bp.get("/report.csv")
def report_csv() -> Response:
    """The report as a CSV download, one row per rule version."""
    return Response(as_csv(_report()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="lbp-cds-report.csv"'})


# -- the page ---------------------------------------------------------------------------------

TEXT: dict[str, dict[str, str]] = {
    "da": {
        "title": "lbp-cds: hvad rådene gjorde", "period": "Kort udstedt", "from_start": "fra start", "now": "nu",
        "since": "Fra", "until": "Til og med", "show": "Vis", "issued": "Udstedt", "accepted": "Accepteret",
        "overridden": "Tilsidesat", "no_feedback": "Ingen tilbagemelding", "rate": "Accept-rate",
        "imaging_removed": "Billeddiagnostiske ordrer fjernet",
        "imaging_note": "Kladdeordrer på billeddiagnostik, hvis fjernelse blev accepteret — kun hvor systemet "
                        "faktisk kunne fjerne ordren.",
        "not_applied": "Accepteret, men systemet kunne ikke udføre det", "rule": "Regel", "version": "Version",
        "reasons": "Begrundelser for tilsidesættelse", "comments": "Kommentarer", "no_code": "(ingen kode)",
        "chart_outcomes": "Udfald pr. regel og version", "chart_rate": "Accept-rate pr. uge",
        "chart_reasons": "Begrundelser for tilsidesættelse", "week": "Uge", "count": "Antal",
        "csv": "Hent CSV", "json": "JSON", "language": "English", "none": "Ingen kort i perioden.",
        "rate_note": "Accept-rate = accepteret / (accepteret + tilsidesat); kort uden tilbagemelding tæller ikke.",
    },
    "en": {
        "title": "lbp-cds: what the advice did", "period": "Cards issued", "from_start": "from the start",
        "now": "now", "since": "From", "until": "Until (included)", "show": "Show", "issued": "Issued",
        "accepted": "Accepted", "overridden": "Overridden", "no_feedback": "No feedback", "rate": "Acceptance rate",
        "imaging_removed": "Imaging orders removed",
        "imaging_note": "Draft imaging orders whose removal was accepted — only where the EHR could really "
                        "remove the order.",
        "not_applied": "Accepted but the EHR could not apply it", "rule": "Rule", "version": "Version",
        "reasons": "Override reasons", "comments": "Comments", "no_code": "(no code)",
        "chart_outcomes": "Outcomes per rule and version", "chart_rate": "Acceptance rate per week",
        "chart_reasons": "Override reasons", "week": "Week", "count": "Count",
        "csv": "Download CSV", "json": "JSON", "language": "Dansk", "none": "No cards in this period.",
        "rate_note": "Acceptance rate = accepted / (accepted + overridden); cards without feedback do not count.",
    },
}


def _language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    best = request.accept_languages.best_match(LANGUAGES) if request.accept_languages else None
    return best or (str(current_app.config["LANGUAGE"]) if current_app.config["LANGUAGE"] in LANGUAGES else "da")


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0%}"


def _json_for_html(value: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _reason_label(reason: dict[str, Any], t: dict[str, str]) -> str:
    code = reason["code"] or t["no_code"]
    return f"{code} ({reason['display']})" if reason["display"] else code


def _rules_table(report: dict[str, Any], t: dict[str, str]) -> str:
    head = "".join(f"<th>{escape(t[k])}</th>" for k in ("rule", "version", "issued", "accepted", "overridden",
                                                          "no_feedback", "rate", "imaging_removed", "not_applied",
                                                          "reasons"))
    rows = []
    for rule in report["rules"]:
        reasons = "<br>".join(f"{escape(_reason_label(r, t))}: {r['count']}" for r in rule["override_reasons"])
        rows.append(
            f"<tr><td>{escape(rule['rule_id'])}</td><td>{escape(rule['rule_version'])}</td>"
            f"<td>{rule['issued']}</td><td>{rule['accepted']}</td><td>{rule['overridden']}</td>"
            f"<td>{rule['no_feedback']}</td><td>{_percent(rule['acceptance_rate'])}</td>"
            f"<td>{rule['imaging_removals_accepted'] if rule['imaging'] else ''}</td>"
            f"<td>{rule['accepted_not_applied']}</td><td>{reasons}</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _chart_data(report: dict[str, Any], t: dict[str, str]) -> dict[str, Any]:
    reasons: dict[str, int] = {}
    for rule in report["rules"]:
        for reason in rule["override_reasons"]:
            label = _reason_label(reason, t)
            reasons[label] = reasons.get(label, 0) + reason["count"]
    return {
        "labels": {k: t[k] for k in ("accepted", "overridden", "no_feedback", "rate", "count", "chart_outcomes",
                                       "chart_rate", "chart_reasons")},
        "rules": [{"label": f"{r['rule_id']} v{r['rule_version']}", "accepted": r["accepted"],
                   "overridden": r["overridden"], "no_feedback": r["no_feedback"]} for r in report["rules"]],
        "weeks": [{"week": w["week"], "rate": w["acceptance_rate"]} for w in report["weeks"]],
        "reasons": [{"label": k, "count": v} for k, v in sorted(reasons.items(), key=lambda i: -i[1])],
    }


@bp.get("/")
def page() -> Any:
    """The report as a page: figures, tables and charts (Chart.js), in Danish or English."""
    lang = _language()
    t = TEXT[lang]
    report = _report()
    period, totals = report["period"], report["totals"]
    query = {k: v for k, v in (("since", period["since"]), ("until", period["until"])) if v}
    other = "en" if lang == "da" else "da"
    summary = "".join(
        f'<div class="figure"><span class="value" data-figure="{key}">{value}</span>'
        f'<span class="label">{escape(t[label])}</span></div>'
        for key, label, value in (
            ("issued", "issued", totals["issued"]), ("accepted", "accepted", totals["accepted"]),
            ("overridden", "overridden", totals["overridden"]), ("no_feedback", "no_feedback", totals["no_feedback"]),
            ("rate", "rate", _percent(totals["acceptance_rate"])),
            ("imaging_removals_accepted", "imaging_removed", totals["imaging_removals_accepted"])))
    comments = "".join(
        f"<li><strong>{escape(rule['rule_id'])} v{escape(rule['rule_version'])}</strong> "
        f"[{escape(c['code'] or t['no_code'])}]: {escape(c['comment'])}</li>"
        for rule in report["rules"] for c in rule["comments"])
    charts = "".join(
        f'<figure><figcaption>{escape(t[name])}</figcaption><div class="chart"><canvas id="{name}" role="img" '
        f'aria-label="{escape(t[name])}"></canvas></div></figure>'
        for name in ("chart_outcomes", "chart_rate", "chart_reasons"))
    body = f"""<header><h1>{escape(t['title'])}</h1>
<a class="lang" href="?{escape(urlencode({**query, 'lang': other}))}" hreflang="{other}">{escape(t['language'])}</a>
</header>
<form method="get" action="{url_for('admin.page')}"><input type="hidden" name="lang" value="{lang}">
<label>{escape(t['since'])} <input type="date" name="since" value="{escape(period['since'] or '')}"></label>
<label>{escape(t['until'])} <input type="date" name="until" value="{escape(period['until'] or '')}"></label>
<button type="submit">{escape(t['show'])}</button>
<a href="{url_for('admin.report_csv')}?{escape(urlencode(query))}" download>{escape(t['csv'])}</a>
<a href="{url_for('admin.report_json')}?{escape(urlencode(query))}">{escape(t['json'])}</a></form>
<p>{escape(t['period'])}: {escape(period['since'] or t['from_start'])} – {escape(period['until'] or t['now'])}</p>
<section class="figures">{summary}</section>
<p class="note">{escape(t['imaging_note'])} {escape(t['rate_note'])}</p>
{charts if report['rules'] else f"<p>{escape(t['none'])}</p>"}
{_rules_table(report, t)}
{f"<h2>{escape(t['comments'])}</h2><ul class='comments'>{comments}</ul>" if comments else ""}"""
    html = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>{escape(t['title'])}</title>
<link rel="stylesheet" href="{url_for('admin.static', filename='admin.css')}">
<script type="application/json" id="lbp-report">{_json_for_html(_chart_data(report, t))}</script>
<script src="{url_for('admin.static', filename='chart.umd.min.js')}" defer></script>
<script src="{url_for('admin.static', filename='admin.js')}" defer></script>
</head><body>{body}</body></html>"""
    return Response(html, mimetype="text/html")
