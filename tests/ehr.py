"""Resources as a Danish GP system sends them, on a fixed clock, and a fake FHIR server.

ICPC-2 on the problem list, SKS from the hospital, ATC at full depth, Copenhagen offsets
(+01:00 in winter, +02:00 in summer). ``run`` evaluates one hook call through the whole
pipeline, in prefetch mode or in FHIR-fallback mode (the same resources served by
:class:`FakeFhirServer` through the ``source`` seam), so a test can require both to agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from service.engine import Options, evaluate_request
from service.knowledge import load_knowledge
from service.registry import SERVICES
from service.terminology import Terminology

ROOT = Path(__file__).resolve().parent.parent
CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 22, 10, 15, tzinfo=CPH)
KB = load_knowledge(ROOT / "cards")
TERMS = Terminology.load(ROOT / "fhir_profiles")

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
SKS = "urn:oid:1.2.208.176.2.4.12"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
LBP = "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts"
CPT = "http://www.ama-assn.org/go/cpt"
V2_0136 = "http://terminology.hl7.org/CodeSystem/v2-0136"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1971-04-12", "gender": "male"}


def at(days: float = 0, hours: float = 0) -> str:
    """The moment ``days`` + ``hours`` before NOW, with the Copenhagen offset of that moment."""
    return (NOW - timedelta(days=days, hours=hours)).astimezone(CPH).isoformat(timespec="seconds")


def day(days: float) -> str:
    return (NOW - timedelta(days=days)).date().isoformat()


def cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def condition(rid: str, system: str, code: str, *, onset: str | None = None, clinical: str | None = "active",
              verification: str | None = None, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Condition", "id": rid, "code": cc(system, code),
                                "subject": {"reference": "Patient/p1"}}
    if clinical:
        resource["clinicalStatus"] = cc(CLINICAL, clinical)
    if verification:
        resource["verificationStatus"] = cc(VERIFICATION, verification)
    if onset:
        resource["onsetDateTime"] = onset
    resource.update(extra)
    return resource


def observation(rid: str, system: str, code: str, when: str, *, status: str = "final", **value: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": status,
                                "code": cc(system, code), "subject": {"reference": "Patient/p1"},
                                "effectiveDateTime": when}
    resource.update(value)
    return resource


def finding(rid: str, code: str, when: str, present: bool | None = True, **extra: Any) -> dict[str, Any]:
    """An lbp-concepts finding answered with ``valueBoolean`` (``None``: no value at all)."""
    value = {} if present is None else {"valueBoolean": present}
    return observation(rid, LBP, code, when, **value, **extra)


def strength(rid: str, grade: int, when: str, site: str = "Dorsalfleksion venstre fod") -> dict[str, Any]:
    return observation(rid, LBP, "muscle-strength-grade", when, valueInteger=grade, bodySite={"text": site})


def mri(rid: str = "mri-1", **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
                                "code": cc(CPT, "72148", "MRI lumbar spine without contrast"),
                                "subject": {"reference": "Patient/p1"}}
    resource.update(extra)
    return resource


def drug(rid: str, atc: str | None = None, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
                                "subject": {"reference": "Patient/p1"}}
    if atc:
        resource["medicationCodeableConcept"] = cc(ATC, atc)
    resource.update(extra)
    return resource


class FakeFhirServer:
    """Answers the service's fallback queries from a list of resources, like a FHIR server would."""

    def __init__(self, resources: Sequence[Mapping[str, Any]]) -> None:
        self.resources = [PATIENT, *resources]
        self.queries: list[str] = []

    def search(self, relative_url: str) -> list[Mapping[str, Any]]:
        self.queries.append(relative_url)
        path, _, query = relative_url.partition("?")
        rtype, _, rid = path.strip("/").partition("/")
        found = [r for r in self.resources if r["resourceType"] == rtype and (not rid or r.get("id") == rid)]
        if "_include=MedicationRequest:medication" in query:
            found += [r for r in self.resources if r["resourceType"] == "Medication"]
        return found


def request(hook: str, resources: Sequence[Mapping[str, Any]], orders: Sequence[Mapping[str, Any]] = (),
            *, mode: str = "prefetch") -> dict[str, Any]:
    """A hook request as a capable EHR sends it (``prefetch``) or leaving us to fetch (``fallback``)."""
    context: dict[str, Any] = {"userId": "Practitioner/gp-1", "patientId": "p1"}
    if hook != "patient-view":
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": o} for o in orders]}
    if hook == "order-select":
        context["selections"] = [f"{o['resourceType']}/{o['id']}" for o in orders
                                 if o["resourceType"] in ("ServiceRequest", "MedicationRequest")]
    body: dict[str, Any] = {"hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": context}
    if mode == "fallback":
        body["fhirServer"] = "https://fhir.region.example.dk/r4"
        body["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                                     "scope": "patient/*.read", "subject": "lbp-cds"}
        return body
    service = next(s for s in SERVICES.values() if s.hook == hook)
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(str(resource["resourceType"]), []).append(resource)
    keys = {"conditions": ["Condition"], "observations": ["Observation"],
            "medications": ["MedicationRequest", "Medication"], "servicerequests": ["ServiceRequest"],
            "procedures": ["Procedure"], "encounters": ["Encounter"]}
    prefetch: dict[str, Any] = {"patient": PATIENT}
    for key, types in keys.items():
        if key in service.prefetch:
            entries = [{"resource": r} for t in types for r in by_type.get(t, [])]
            prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    body["prefetch"] = prefetch
    return body


def run(hook: str, resources: Sequence[Mapping[str, Any]], orders: Sequence[Mapping[str, Any]] = (),
        *, mode: str = "prefetch", language: str = "da") -> dict[str, Any]:
    """The response to one hook call, with the rule trace."""
    service = next(s for s in SERVICES.values() if s.hook == hook)
    source = FakeFhirServer(resources) if mode == "fallback" else None
    body = request(hook, resources, orders, mode=mode)
    result = evaluate_request(body, service, KB, TERMS, Options(language=language, explain=True, strict=True),
                              now=NOW, source=source)
    return result.response


def fired(response: Mapping[str, Any]) -> list[str]:
    """Rule ids that fired (one per finding, near misses left out), sorted."""
    out = []
    for entry in response["extension"]["lbp-cds-trace"]:
        for finding in entry.get("findings", ()):
            if not finding.get("nearMiss"):
                out.append(entry["rule"])
    return sorted(out)


def card(response: Mapping[str, Any], rule_id: str) -> dict[str, Any]:
    return next(c for c in response["cards"] if c["extension"]["dk.lbp-cds.rule"]["ruleId"] == rule_id)


def problems(response: Mapping[str, Any]) -> list[str]:
    return list(response.get("extension", {}).get("lbp-cds-data-problems", []))
