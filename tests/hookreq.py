"""Raw CDS Hooks requests and FHIR resources as an EHR would send them, dated from today."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
LBP = "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts"
ATC = "http://www.whocc.no/atc"


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


def patient(pid: str = "p1", birth: str = "1980-05-01") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": "female"}


def condition(
    code: str = "279039007", system: str = SNOMED, *, onset_days: float | None = 21, cid: str = "lbp-1",
    pid: str = "p1", **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    if onset_days is not None:
        resource["onsetDateTime"] = days_ago(onset_days)
    resource.update(extra)
    return resource


def finding(code: str, value: bool | None = True, *, oid: str | None = None, system: str = LBP,
            days: float = 1, pid: str = "p1") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid or f"obs-{code}",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": days_ago(days),
    }
    if value is not None:
        resource["valueBoolean"] = value
    return resource


def imaging_order(oid: str = "mri-1", code: str = "72148", system: str = CPT, pid: str = "p1",
                  display: str = "MRI lumbar spine without contrast", **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": oid,
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    resource.update(extra)
    return resource


def bundle(*resources: dict[str, Any], with_type: bool = True) -> dict[str, Any]:
    b: dict[str, Any] = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    if with_type:
        b["type"] = "searchset"
    return b


def hook_request(
    hook: str,
    *,
    prefetch: dict[str, Any] | None = None,
    orders: tuple[dict[str, Any], ...] = (),
    selections: list[str] | None = None,
    pid: str = "p1",
    **extra: Any,
) -> dict[str, Any]:
    user = "Practitioner/example"
    context: dict[str, Any] = {"userId": user, "patientId": pid}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = bundle(*orders, with_type=False)
    if hook == "order-select":
        context["selections"] = selections if selections is not None else [
            f"{o['resourceType']}/{o['id']}" for o in orders
        ]
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body


def full_prefetch(*resources: dict[str, Any], pid: str = "p1") -> dict[str, Any]:
    """Every prefetch key filled, as a capable EHR would send it."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    return {
        "patient": patient(pid),
        "conditions": bundle(*by_type.get("Condition", [])),
        "observations": bundle(*by_type.get("Observation", [])),
        "medications": bundle(*by_type.get("MedicationRequest", [])),
        "servicerequests": bundle(*by_type.get("ServiceRequest", [])),
        "procedures": bundle(*by_type.get("Procedure", [])),
        "encounters": bundle(*by_type.get("Encounter", [])),
    }
