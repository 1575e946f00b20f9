"""What the demo's chart shows of a scenario: a short patient summary and the episode's timeline.

The timeline is for the eye, not for the rules: the episode starts at the earliest onset among
the active back-pain diagnoses on the problem list, and the guideline's 6-, 8- and 12-week marks
are counted from there. The cards, not this summary, say what the service concluded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from .scenario_dates import CPH
from .scenarios import Scenario
from .terminology import Terminology

EPISODE_CONCEPTS = frozenset({"low-back-pain", "nerve-root-involvement", "spinal-stenosis", "chronic-low-back-pain"})
NOT_CURRENT = frozenset({"inactive", "resolved", "remission"})
NOT_TRUE = frozenset({"refuted", "entered-in-error"})
WEEK_MARKS = (6, 8, 12)
#: Where each resource type keeps the moment the timeline places it at.
WHEN_KEYS = ("onsetDateTime", "effectiveDateTime", "performedDateTime", "authoredOn", "recordedDate")


def _day(value: str) -> date:
    if "T" in value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(CPH).date()
    return date.fromisoformat(value)


def _status(resource: Mapping[str, Any], key: str) -> str:
    codings = resource.get(key, {}).get("coding", [{}]) if isinstance(resource.get(key), dict) else [{}]
    return str(codings[0].get("code", "")) if codings else ""


def _label(resource: Mapping[str, Any], terminology: Terminology) -> str:
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    if resource.get("resourceType") == "Encounter":
        concept = (resource.get("type") or [{}])[0] or resource.get("class", {})
    coding = (concept.get("coding") or [{}])[0] if isinstance(concept, dict) else {}
    text = concept.get("text") if isinstance(concept, dict) else None
    found = sorted(terminology.concepts_in(concept.get("coding", []))) if isinstance(concept, dict) else []
    name = text or coding.get("display") or (found[0] if found else "") or coding.get("code") or ""
    code = f"{coding.get('code', '')}".strip()
    return f"{name} ({code})" if code and code not in name else str(name or resource.get("resourceType"))


def _value(resource: Mapping[str, Any]) -> str | None:
    for key in ("valueBoolean", "valueInteger", "valueString"):
        if key in resource:
            value = resource[key]
            return ("yes" if value else "no") if isinstance(value, bool) else str(value)
    if "valueQuantity" in resource:
        return f"{resource['valueQuantity'].get('value')} {resource['valueQuantity'].get('unit', '')}".strip()
    if "valueCodeableConcept" in resource:
        coding = (resource["valueCodeableConcept"].get("coding") or [{}])[0]
        return str(resource["valueCodeableConcept"].get("text") or coding.get("display") or coding.get("code"))
    return None


def _when(resource: Mapping[str, Any]) -> str | None:
    for key in WHEN_KEYS:
        if isinstance(resource.get(key), str):
            return str(resource[key])
    period = resource.get("period") or resource.get("performedPeriod") or {}
    return str(period["start"]) if isinstance(period.get("start"), str) else None


def episode_start(scenario: Scenario, terminology: Terminology) -> date | None:
    """The earliest onset among the current, not refuted back-pain diagnoses."""
    starts = []
    for r in scenario.resources:
        if r["resourceType"] != "Condition" or not isinstance(r.get("onsetDateTime"), str):
            continue
        if _status(r, "clinicalStatus") in NOT_CURRENT or _status(r, "verificationStatus") in NOT_TRUE:
            continue
        if terminology.concepts_in(r.get("code", {}).get("coding", [])) & EPISODE_CONCEPTS:
            starts.append(_day(r["onsetDateTime"]))
    return min(starts) if starts else None


def chart(scenario: Scenario, terminology: Terminology) -> dict[str, Any]:
    """Summary and timeline, in plain JSON for the page."""
    patient = scenario.patient
    today = scenario.now.astimezone(CPH).date()
    born = date.fromisoformat(patient["birthDate"]) if patient.get("birthDate") else None
    age = None if born is None else today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    events = []
    for r in scenario.resources:
        when = _when(r)
        if when is None:
            continue
        verification = _status(r, "verificationStatus")
        status = r.get("status") if isinstance(r.get("status"), str) else _status(r, "clinicalStatus")
        events.append({"date": _day(when).isoformat(), "type": r["resourceType"], "label": _label(r, terminology),
                       "value": _value(r), "status": verification or status or "",
                       "struck": verification in NOT_TRUE or status == "entered-in-error"})
    events.sort(key=lambda e: e["date"])
    start = episode_start(scenario, terminology)
    episode = None
    if start is not None:
        episode = {"start": start.isoformat(), "weeks": round((today - start).days / 7, 1),
                   "marks": [{"weeks": w, "date": date.fromordinal(start.toordinal() + 7 * w).isoformat()}
                             for w in WEEK_MARKS]}
    problems = [e for e in events if e["type"] == "Condition" and not e["struck"]]
    identifier = next((i.get("value") for i in patient.get("identifier", []) if i.get("value")), patient["id"])
    return {"patient": {"id": patient["id"], "identifier": identifier, "gender": patient.get("gender"), "age": age,
                        "birthDate": patient.get("birthDate")},
            "today": today.isoformat(), "episode": episode, "events": events, "problems": problems}
