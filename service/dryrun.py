"""Go-live dry run: replay a practice's FHIR Bulk Data export through the hooks (issue 15).

``python -m service dry-run EXPORT`` reads ``EXPORT/<Type>.ndjson`` (as ``$export`` writes them)
and replays each **back-pain contact** — a day on which a patient has back-pain documentation
(a back-pain diagnosis recorded or starting, a finding lbp-cds reads, back-pain care, or an
Encounter whose reason is back pain); the contact's time is that day's Encounter start, else the
earliest such entry — through patient-view at that time, and each ServiceRequest or
MedicationRequest authored that day through order-select and order-sign at its authoring time,
as a draft. Only resources dated up to the moment of the call are sent. It prints the burden
table per rule, with the card memory as configured (``--memory off`` for every card).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import memory as card_memory
from .concepts import EPISODE_CONCEPTS
from .engine import Options, evaluate_request
from .fhir import LOCAL_ZONE
from .knowledge import KnowledgeBase
from .registry import SERVICES
from .terminology import Terminology

TYPES = ("Patient", "Condition", "Observation", "MedicationRequest", "Medication", "ServiceRequest", "Procedure",
         "Encounter")
PREFETCH: Mapping[str, tuple[str, ...]] = {
    "conditions": ("Condition",), "observations": ("Observation",), "medications": ("MedicationRequest", "Medication"),
    "servicerequests": ("ServiceRequest",), "procedures": ("Procedure",), "encounters": ("Encounter",),
}


def read_export(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Resources per type from ``<Type>.ndjson`` files (one resource per line; blank lines skipped)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rtype in TYPES:
        path = folder / f"{rtype}.ndjson"
        if path.exists():
            out[rtype] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def to_datetime(value: Any) -> datetime | None:
    """An export's date or dateTime string as an instant (a date alone: the start of that Danish day)."""
    text = str(value)
    try:
        if len(text) <= 10:
            day = date.fromisoformat(text + "-01" * max(0, (10 - len(text)) // 3))
            return datetime(day.year, day.month, day.day, tzinfo=LOCAL_ZONE)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_ZONE)


def _moment(resource: Mapping[str, Any]) -> datetime | None:
    """When a resource was recorded, for "only what was recorded up to then"."""
    for key in ("recordedDate", "authoredOn", "effectiveDateTime", "performedDateTime", "issued", "onsetDateTime"):
        if resource.get(key):
            return to_datetime(resource[key])
    for key in ("period", "effectivePeriod", "performedPeriod"):
        if isinstance(resource.get(key), dict) and resource[key].get("start"):
            return to_datetime(resource[key]["start"])
    return None


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id"))
    ref = (resource.get("subject") or resource.get("patient") or {}).get("reference") or ""
    return ref.split("/")[-1] or None


def _codings(*concepts: Any) -> list[Mapping[str, Any]]:
    return [c for cc in concepts if isinstance(cc, dict) for c in cc.get("coding") or () if isinstance(c, dict)]


@dataclass(frozen=True)
class Call:
    patient: str
    hook: str
    at: datetime
    contact: int
    orders: tuple[Mapping[str, Any], ...] = ()


def _is_back_pain_entry(resource: Mapping[str, Any], terms: Terminology) -> bool:
    rtype = resource["resourceType"]
    if rtype == "Condition":
        return bool(terms.concepts_in(_codings(resource.get("code"))) & EPISODE_CONCEPTS)
    if rtype == "Observation":
        return bool(terms.concepts_in(_codings(resource.get("code"))))
    if rtype in ("Encounter", "ServiceRequest", "Procedure"):
        reasons = terms.concepts_in(_codings(*(resource.get("reasonCode") or ())))
        kinds = terms.concepts_in(_codings(resource.get("code"), *(resource.get("type") or ())))
        return bool(reasons & EPISODE_CONCEPTS) or bool(kinds)
    return False


def plan_calls(export: Mapping[str, Sequence[Mapping[str, Any]]], terms: Terminology) -> list[Call]:
    """The hook calls the EHR would have made, oldest first (see the module docstring)."""
    days: dict[tuple[str, date], list[datetime]] = defaultdict(list)
    encounters: dict[tuple[str, date], list[datetime]] = defaultdict(list)
    for rtype, resources in export.items():
        for resource in resources:
            patient, when = _patient_of(resource), _moment(resource)
            if patient is None or when is None:
                continue
            if rtype == "Encounter":
                encounters[(patient, when.date())].append(when)
            if _is_back_pain_entry(resource, terms):
                days[(patient, when.date())].append(when)
    calls: list[Call] = []
    for number, (patient, day) in enumerate(sorted(days)):
        at = min(encounters.get((patient, day)) or days[(patient, day)])
        calls.append(Call(patient, "patient-view", at, number))
        for order in (*export.get("ServiceRequest", ()), *export.get("MedicationRequest", ())):
            authored = to_datetime(order.get("authoredOn")) if order.get("authoredOn") else None
            if _patient_of(order) != patient or authored is None or authored.date() != day:
                continue
            draft = {**order, "status": "draft"}
            calls.append(Call(patient, "order-select", authored, number, (draft,)))
            calls.append(Call(patient, "order-sign", authored + timedelta(minutes=1), number, (draft,)))
    return sorted(calls, key=lambda c: (c.at, c.contact, c.hook != "patient-view", c.hook))


def _body(call: Call, export: Mapping[str, Sequence[Mapping[str, Any]]], index: int) -> dict[str, Any]:
    order_ids = {(o["resourceType"], o.get("id")) for o in call.orders}
    mine = [r for rtype, rs in export.items() for r in rs if _patient_of(r) == call.patient]
    known = [r for r in mine if r["resourceType"] not in ("Patient", "Medication")
             and (r["resourceType"], r.get("id")) not in order_ids and (_moment(r) or call.at) <= call.at]
    patient = next((r for r in mine if r["resourceType"] == "Patient"), {"resourceType": "Patient",
                                                                        "id": call.patient})
    prefetch: dict[str, Any] = {"patient": patient}
    medications = list(export.get("Medication", ()))
    for key, types in PREFETCH.items():
        entries = [r for r in known if r["resourceType"] in types]
        if key == "medications":
            entries += medications
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in entries]}
    context: dict[str, Any] = {"userId": "Practitioner/dry-run", "patientId": call.patient}
    if call.hook != "patient-view":
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": dict(o)} for o in call.orders]}
    if call.hook == "order-select":
        context["selections"] = [f"{o['resourceType']}/{o['id']}" for o in call.orders]
    return {"hook": call.hook, "hookInstance": f"00000000-0000-4000-8000-{index:012d}", "context": context,
            "prefetch": prefetch}


def replay(export: Mapping[str, Sequence[Mapping[str, Any]]], kb: KnowledgeBase, terms: Terminology,
           settings: card_memory.MemorySettings | None) -> tuple[int, list[tuple[int, str, str]]]:
    """(contacts, shown cards as (contact, rule, indicator)) for the whole export."""
    calls = plan_calls(export, terms)
    services = {s.hook: s for s in SERVICES.values()}
    store = card_memory.DictMemory()
    shown: list[tuple[int, str, str]] = []
    for index, call in enumerate(calls):
        body = _body(call, export, index)
        result = evaluate_request(body, services[call.hook], kb, terms, Options(language="en"), now=call.at)
        if settings is not None:
            store.clock = call.at.timestamp()
            result, _ = card_memory.apply(result, body["context"], hook=call.hook, client_iss="dry-run", store=store,
                                          settings=settings, now=call.at)
        shown += [(call.contact, c["extension"]["dk.lbp-cds.rule"]["ruleId"], c["indicator"])
                  for c in result.response["cards"]]
    return len({c.contact for c in calls}), shown


def burden_table(contacts: int, shown: Iterable[tuple[int, str, str]]) -> str:
    """Cards per 100 contacts per rule and indicator, and the share of contacts with ≥ 1 and ≥ 3 cards."""
    cards = list(shown)
    n = max(contacts, 1)
    per_contact = Counter(c for c, _, _ in cards)
    by_rule = Counter(r for _, r, _ in cards)
    by_indicator = Counter(i for _, _, i in cards)
    lines = [f"{contacts} back-pain contacts, {len(cards)} cards", "",
             "| Measure | Value |", "|---|---|",
             f"| Cards per 100 contacts | {100 * len(cards) / n:.1f} |",
             *(f"| {i.capitalize()} per 100 contacts | {100 * by_indicator.get(i, 0) / n:.1f} |"
               for i in ("critical", "warning", "info")),
             f"| Contacts with ≥ 1 card | {100 * sum(1 for k in per_contact.values() if k >= 1) / n:.1f} % |",
             f"| Contacts with ≥ 3 cards | {100 * sum(1 for k in per_contact.values() if k >= 3) / n:.1f} % |",
             "", "| Rule | Cards | Per 100 contacts |", "|---|---|---|"]
    lines += [f"| {rule} | {count} | {100 * count / n:.1f} |"
              for rule, count in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(lines) + "\n"
