"""The report: exact figures from a known set of issued cards and feedback, on both databases, three ways."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest

from service.report import as_csv, as_table, build_report
from service.storage import open_storage

REMOVE = {"actions": ["delete"], "applicable": True}
REMOVE_CANNOT_APPLY = {"actions": ["delete"], "applicable": False}  # the sandbox's imaging screen
CREATE = {"actions": ["create"], "applicable": True}
WEEK_45, WEEK_47 = "2026-11-02T09:00:00+00:00", "2026-11-16T09:00:00+00:00"


def issue(storage: Any, monkeypatch: pytest.MonkeyPatch, when: str, card: str, rule: str, version: str,
          offered: dict[str, Any]) -> None:
    monkeypatch.setattr("service.storage.sql.now_iso", lambda: when)
    storage.record_issued("lbp-order-select", f"h-{card}", [(card, rule, version, [f"{card}-s"])],
                          client_iss="ehr", offered={f"{card}-s": offered})


def give(storage: Any, card: str, outcome: str, **extra: Any) -> None:
    item = {"card": card, "outcome": outcome, "outcomeTimestamp": "2026-11-22T10:00:00Z", **extra}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": f"{card}-s"}]
    storage.store_feedback("lbp-order-select", [item], client_iss="ehr")


def reason(code: str, display: str, comment: str | None = None) -> dict[str, Any]:
    return {"overrideReason": {"reason": {"system": "https://example.org/reasons", "code": code,
                                          "display": display}, **({"userComment": comment} if comment else {})}}


@pytest.fixture
def known(database_url, tmp_path, monkeypatch):
    """Six cards of two rules over two weeks; three accepted (one removal the EHR could not apply), two overridden."""
    storage = open_storage(database_url, tmp_path)
    issue(storage, monkeypatch, WEEK_45, "c1", "IMG-NOT-INDICATED", "1.0.0", REMOVE)
    issue(storage, monkeypatch, WEEK_45, "c2", "IMG-NOT-INDICATED", "1.0.0", REMOVE_CANNOT_APPLY)
    issue(storage, monkeypatch, WEEK_47, "c3", "IMG-NOT-INDICATED", "1.0.0", REMOVE)
    issue(storage, monkeypatch, WEEK_47, "c4", "IMG-NOT-INDICATED", "1.0.0", REMOVE)
    issue(storage, monkeypatch, WEEK_45, "c5", "MED-OPIOID", "2.0.0", CREATE)
    issue(storage, monkeypatch, WEEK_47, "c6", "MED-OPIOID", "2.0.0", CREATE)
    give(storage, "c1", "accepted")
    give(storage, "c2", "accepted")
    give(storage, "c3", "overridden", **reason("patient-insists", "Patienten insisterer", "Ønsker MR nu"))
    give(storage, "c5", "overridden", **reason("other", "Andet"))
    give(storage, "c6", "accepted")
    yield storage
    storage.close()


def test_report_figures_per_rule_version(known):
    report = build_report(known)
    assert report["totals"] == {"issued": 6, "accepted": 3, "overridden": 2, "no_feedback": 1,
                                "acceptance_rate": 0.6, "imaging_cards": 4, "imaging_removals_accepted": 1,
                                "accepted_not_applied": 1}
    img, med = report["rules"]
    assert (img["rule_id"], img["rule_version"], img["imaging"]) == ("IMG-NOT-INDICATED", "1.0.0", True)
    assert {k: img[k] for k in ("issued", "accepted", "overridden", "no_feedback", "acceptance_rate",
                                "imaging_removals_accepted", "accepted_not_applied")} == {
        "issued": 4, "accepted": 2, "overridden": 1, "no_feedback": 1, "acceptance_rate": 0.6667,
        "imaging_removals_accepted": 1, "accepted_not_applied": 1}
    assert img["override_reasons"] == [{"system": "https://example.org/reasons", "code": "patient-insists",
                                        "display": "Patienten insisterer", "count": 1}]
    assert img["comments"] == [{"code": "patient-insists", "comment": "Ønsker MR nu"}]
    assert (med["rule_id"], med["imaging"], med["issued"], med["accepted"], med["overridden"],
            med["acceptance_rate"], med["imaging_removals_accepted"]) == ("MED-OPIOID", False, 2, 1, 1, 0.5, 0)
    assert report["weeks"] == [
        {"week": "2026-W45", "issued": 3, "accepted": 2, "overridden": 1, "acceptance_rate": 0.6667},
        {"week": "2026-W47", "issued": 3, "accepted": 1, "overridden": 1, "acceptance_rate": 0.5},
    ]


def test_since_and_until_select_cards_by_the_day_they_were_issued(known):
    week_47 = build_report(known, since=date(2026, 11, 16))
    assert week_47["totals"]["issued"] == 3 and week_47["totals"]["imaging_removals_accepted"] == 0
    week_45 = build_report(known, until=date(2026, 11, 2))  # the until day is included
    assert (week_45["totals"]["issued"], week_45["totals"]["imaging_removals_accepted"]) == (3, 1)
    assert build_report(known, since=date(2026, 11, 3), until=date(2026, 11, 15))["rules"] == []


def test_csv_has_one_row_per_rule_version_with_its_reasons(known):
    rows = list(csv.DictReader(io.StringIO(as_csv(build_report(known)))))
    assert [(r["rule_id"], r["issued"], r["acceptance_rate"], r["imaging_removals_accepted"]) for r in rows] == [
        ("IMG-NOT-INDICATED", "4", "0.6667", "1"), ("MED-OPIOID", "2", "0.5", "0")]
    assert rows[0]["override_reasons"] == "patient-insists (Patienten insisterer): 1"


def test_table_names_the_removal_and_the_override_reason(known):
    table = as_table(build_report(known))
    assert "draft imaging orders whose removal was accepted (and applied): 1" in table
    assert "IMG-NOT-INDICATED v1.0.0: patient-insists (Patienten insisterer): 1" in table
    assert "Ønsker MR nu" in table


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_report_command_prints_the_same_figures(known, database_url, monkeypatch, fmt):
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv("LBP_CDS_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["report", "--format", fmt, "--since", "2026-11-01", "--until", "2026-11-30"])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        data = json.loads(result.stdout)
        assert data["totals"]["imaging_removals_accepted"] == 1
        assert data["period"] == {"since": "2026-11-01", "until": "2026-11-30"}
    elif fmt == "csv":
        assert result.stdout.splitlines()[1].startswith("IMG-NOT-INDICATED,1.0.0,True,4,2,1,1,0.6667,1,1,")
    else:
        assert "issued 6, accepted 3, overridden 2, no feedback 1, acceptance rate 60%" in result.stdout


def test_report_command_rejects_a_bad_date():
    from click.testing import CliRunner

    from service.cli import main

    result = CliRunner().invoke(main, ["report", "--since", "last week"])
    assert result.exit_code == 2
    assert "last week" in result.output
