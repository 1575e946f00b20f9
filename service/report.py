"""What the advice did: one report, computed once, shown three ways (CLI, /admin/report, /admin/).

Per rule and version: cards issued, accepted, overridden (and why), no feedback; the acceptance
rate over time; and for imaging rules the draft imaging orders whose removal was accepted —
counted only where the client could really apply the removal (``feedback.applied = 1``), since
some EHR screens say "accepted" for a delete they never perform.

Acceptance rate = accepted / (accepted + overridden): cards with no feedback are not counted
against the advice (many EHRs send no feedback for cards a clinician just reads).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .storage import Storage

#: Suggestion action type that takes the draft order away (CDS Hooks ``delete``).
REMOVE = "delete"
#: Columns of the CSV download, one row per rule version.
CSV_COLUMNS = ("rule_id", "rule_version", "imaging", "issued", "accepted", "overridden", "no_feedback",
               "acceptance_rate", "imaging_removals_accepted", "accepted_not_applied", "override_reasons")


def build_report(storage: Storage, since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """The report for cards issued from ``since`` to ``until`` (both days included; ``None`` = open)."""
    rows = storage.report_rows(since.isoformat() if since else None,
                               (until + timedelta(days=1)).isoformat() if until else None)
    return summarise(rows, since, until)


def _removal_accepted(row: Mapping[str, Any]) -> bool:
    """An imaging card whose accepted suggestion removed the draft order, applied by the client."""
    if not row["draft_imaging"] or row["outcome"] != "accepted" or row["applied"] != 1:
        return False
    offered = json.loads(row["offered"] or "{}")
    accepted = json.loads(row["accepted_suggestions"] or "[]")
    return any(REMOVE in offered.get(s, {}).get("actions", ()) for s in accepted)


def _rate(accepted: int, overridden: int) -> float | None:
    return round(accepted / (accepted + overridden), 4) if accepted + overridden else None


def _week(issued_at: str) -> str:
    year, week, _ = datetime.fromisoformat(issued_at).astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def _counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    accepted = sum(r["outcome"] == "accepted" for r in rows)
    overridden = sum(r["outcome"] == "overridden" for r in rows)
    return {
        "issued": len(rows), "accepted": accepted, "overridden": overridden,
        "no_feedback": sum(r["outcome"] is None for r in rows),
        "acceptance_rate": _rate(accepted, overridden),
        "imaging_cards": sum(bool(r["draft_imaging"]) for r in rows),
        "imaging_removals_accepted": sum(_removal_accepted(r) for r in rows),
        "accepted_not_applied": sum(r["outcome"] == "accepted" and r["applied"] == 0 for r in rows),
    }


def summarise(rows: Iterable[Mapping[str, Any]], since: date | None = None,
              until: date | None = None) -> dict[str, Any]:
    """The report from issued-card rows joined with their feedback (``Storage.report_rows``)."""
    cards: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        cards.setdefault(row["card_uuid"], row)  # a card's first outcome is its outcome
    by_rule: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    by_week: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in cards.values():
        by_rule[(row["rule_id"], row["rule_version"])].append(row)
        by_week[_week(row["issued_at"])].append(row)
    rules = []
    for (rule_id, version), group in sorted(by_rule.items()):
        reasons: Counter[tuple[str | None, str | None, str | None]] = Counter(
            (r["override_system"], r["override_code"], r["override_display"])
            for r in group if r["outcome"] == "overridden")
        counts = _counts(group)
        rules.append({
            "rule_id": rule_id, "rule_version": version, "imaging": any(r["draft_imaging"] for r in group),
            **{k: v for k, v in counts.items() if k != "imaging_cards"},
            "override_reasons": [{"system": s, "code": c, "display": d, "count": n}
                                 for (s, c, d), n in sorted(reasons.items(), key=lambda i: (-i[1], str(i[0][1])))],
            "comments": [{"code": r["override_code"], "comment": r["user_comment"]}
                         for r in group if r["outcome"] == "overridden" and r["user_comment"]],
        })
    weeks = [{"week": week, **{k: v for k, v in _counts(group).items()
                               if k in ("issued", "accepted", "overridden", "acceptance_rate")}}
             for week, group in sorted(by_week.items())]
    return {
        "period": {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "totals": _counts(cards.values()),
        "rules": rules,
        "weeks": weeks,
    }


def _reasons_text(rule: Mapping[str, Any]) -> str:
    return "; ".join(f"{r['code'] or '(no code)'}{' (' + r['display'] + ')' if r['display'] else ''}: {r['count']}"
                     for r in rule["override_reasons"])


def as_csv(report: Mapping[str, Any]) -> str:
    """One row per rule version (spreadsheet-friendly: rates as decimals, reasons in one cell)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for rule in report["rules"]:
        writer.writerow([*(rule[c] for c in CSV_COLUMNS[:7]),
                         "" if rule["acceptance_rate"] is None else rule["acceptance_rate"],
                         rule["imaging_removals_accepted"], rule["accepted_not_applied"], _reasons_text(rule)])
    return out.getvalue()


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def as_table(report: Mapping[str, Any]) -> str:
    """A plain-text table for the terminal."""
    period = report["period"]
    totals = report["totals"]
    lines = [
        f"lbp-cds feedback report, cards issued {period['since'] or 'from the start'} to {period['until'] or 'now'}",
        f"issued {totals['issued']}, accepted {totals['accepted']}, overridden {totals['overridden']}, "
        f"no feedback {totals['no_feedback']}, acceptance rate {_percent(totals['acceptance_rate'])}",
        f"draft imaging orders whose removal was accepted (and applied): {totals['imaging_removals_accepted']}"
        f"; acceptances the client could not apply: {totals['accepted_not_applied']}",
        "",
    ]
    header = ("rule", "version", "issued", "accepted", "overridden", "none", "rate", "img removed")
    table = [header] + [(r["rule_id"], r["rule_version"], str(r["issued"]), str(r["accepted"]),
                         str(r["overridden"]), str(r["no_feedback"]), _percent(r["acceptance_rate"]),
                         str(r["imaging_removals_accepted"]) if r["imaging"] else "")
                        for r in report["rules"]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        lines.append("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip())
    reasons = [(r, reason) for r in report["rules"] for reason in r["override_reasons"]]
    if reasons:
        lines += ["", "override reasons:"]
        lines += [f"  {r['rule_id']} v{r['rule_version']}: {reason['code'] or '(no code)'}"
                  f"{' (' + reason['display'] + ')' if reason['display'] else ''}: {reason['count']}"
                  for r, reason in reasons]
    comments = [(r, c) for r in report["rules"] for c in r["comments"]]
    if comments:
        lines += ["", "comments:"]
        lines += [f"  {r['rule_id']} v{r['rule_version']} [{c['code'] or '-'}]: {c['comment']}" for r, c in comments]
    return "\n".join(lines) + "\n"
