"""Synthetic patients as a Danish GP system sends them, the same every run (seeded).

A record of N resources is mostly what a chronic patient's record is mostly made of: lab
values (NPU, some LOINC), blood pressure and weight, chronic conditions (ICPC-2 from the GP,
SKS from the hospital), prescriptions (ATC) and contacts. A small back-pain story sits in it
(an ICPC-2 L86 episode, examination findings, an NSAID), plus the back-pain-relevant entries a
long record gathers at a realistic rate (an old L03 episode, an ibuprofen course, a pain score).
``relevant`` counts what the terminology maps to a concept, so the table shows what the cost
should follow.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 22, 10, 15, tzinfo=CPH)
SIZES = (10, 100, 1000, 5000)
HOOKS = ("patient-view", "order-select", "order-sign")
SERVICE_IDS = {"patient-view": "lbp-patient-view", "order-select": "lbp-order-select",
               "order-sign": "lbp-order-sign"}
PATIENT_ID = "pt-bench"
#: The prefetch keys each service asks for (order-select and order-sign leave out encounters).
PREFETCH_KEYS = {
    "patient-view": ("patient", "conditions", "observations", "medications", "servicerequests", "procedures",
                     "encounters"),
    "order-select": ("patient", "conditions", "observations", "medications", "servicerequests", "procedures"),
    "order-sign": ("patient", "conditions", "observations", "medications", "servicerequests", "procedures"),
}
HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
SKS = "urn:oid:1.2.208.176.2.4.12"
NPU = "urn:oid:1.2.208.176.2.1"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
LBP = "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts"
CPT = "http://www.ama-assn.org/go/cpt"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

#: Lab values (NPU code, name, unit, typical value, spread): what most of a chronic record is.
LABS = (
    ("NPU02319", "B-Hæmoglobin", "mmol/L", 8.6, 0.6), ("NPU27300", "P-Glukose", "mmol/L", 6.2, 1.1),
    ("NPU03835", "B-Hæmoglobin A1c (IFCC)", "mmol/mol", 52, 8), ("NPU18016", "P-Kreatinin", "umol/L", 84, 12),
    ("NPU01807", "P-Kolesterol", "mmol/L", 5.1, 0.7), ("NPU01566", "P-Kolesterol LDL", "mmol/L", 2.9, 0.6),
    ("NPU03230", "P-Kalium", "mmol/L", 4.1, 0.3), ("NPU03429", "P-Natrium", "mmol/L", 140, 2),
    ("NPU19748", "P-C-reaktivt protein", "mg/L", 4, 3), ("NPU03577", "P-Thyrotropin", "mIU/L", 1.8, 0.6),
    ("NPU19651", "P-Alanintransaminase", "U/L", 28, 8), ("NPU02593", "B-Leukocytter", "10^9/L", 6.8, 1.4),
)
LOINC_VITALS = (("29463-7", "Body weight", "kg", 86, 3), ("8867-4", "Heart rate", "/min", 72, 8),
                ("39156-5", "BMI", "kg/m2", 28, 1.5))
#: Chronic conditions a GP record carries that no back-pain rule reads.
CHRONIC = ((ICPC2, "T90", "Diabetes type 2"), (ICPC2, "K86", "Ukompliceret hypertension"),
           (ICPC2, "R96", "Astma"), (ICPC2, "P76", "Depression"), (SKS, "DE119", "Type 2-diabetes"),
           (SKS, "DI109", "Essentiel hypertension"), (ICPC2, "T93", "Lipidforstyrrelse"),
           (ICPC2, "F92", "Katarakt"), (SKS, "DJ449", "KOL"))
#: Chronic medicines (ATC) that no back-pain rule reads.
MEDICINES = (("A10BA02", "Metformin"), ("C09AA05", "Ramipril"), ("C10AA01", "Simvastatin"),
             ("R03AK06", "Seretide"), ("N06AB04", "Citalopram"), ("C08CA01", "Amlodipin"),
             ("A02BC05", "Esomeprazol"), ("C03CA01", "Furosemid"))
CONTACTS = (("AMB", "ambulatory"), ("VR", "virtual"), ("HH", "home health"))


def _at(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat(timespec="seconds")


def _cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _subject() -> dict[str, str]:
    return {"reference": f"Patient/{PATIENT_ID}"}


def _condition(rid: str, system: str, code: str, display: str, onset_days: float, *,
               clinical: str = "active") -> dict[str, Any]:
    return {"resourceType": "Condition", "id": rid, "meta": {"lastUpdated": _at(onset_days)},
            "clinicalStatus": _cc(CLINICAL, clinical), "verificationStatus": _cc(VERIFICATION, "confirmed"),
            "category": [_cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")],
            "code": _cc(system, code, display), "subject": _subject(), "onsetDateTime": _at(onset_days)[:10],
            "recordedDate": _at(onset_days)}


def _observation(rid: str, system: str, code: str, display: str, days: float, category: str,
                 **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "category": [_cc(OBS_CATEGORY, category)], "code": _cc(system, code, display),
            "subject": _subject(), "effectiveDateTime": _at(days), "issued": _at(days - 0.1), **value}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def _blood_pressure(rid: str, days: float, rng: random.Random) -> dict[str, Any]:
    resource = _observation(rid, LOINC, "85354-9", "Blood pressure panel", days, "vital-signs")
    resource["component"] = [
        {"code": _cc(LOINC, "8480-6", "Systolic"), **_quantity(rng.randint(118, 162), "mm[Hg]")},
        {"code": _cc(LOINC, "8462-4", "Diastolic"), **_quantity(rng.randint(68, 98), "mm[Hg]")},
    ]
    return resource


def _prescription(rid: str, atc: str, name: str, days: float, status: str = "active") -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
            "medicationCodeableConcept": _cc(ATC, atc, name), "subject": _subject(), "authoredOn": _at(days),
            "dosageInstruction": [{"text": "1 tablet dagligt"}]}


def _encounter(rid: str, days: float, rng: random.Random) -> dict[str, Any]:
    code, display = rng.choice(CONTACTS)
    return {"resourceType": "Encounter", "id": rid, "status": "finished", "class": {"system": ACT_CODE, "code": code,
            "display": display}, "type": [_cc(SNOMED, "185349003", "Encounter for check up")],
            "subject": _subject(), "period": {"start": _at(days), "end": _at(days - 0.01)}}


def back_pain_story() -> list[dict[str, Any]]:
    """The current episode every record carries: nerve-root pain for three weeks, checked for red flags."""
    return [
        _condition("lbp-l86", ICPC2, "L86", "Rygsyndrom med smerteudstråling", 21),
        _observation("slr-1", LBP, "straight-leg-raise-positive", "Lasègue positiv", 6, "exam", valueBoolean=True),
        _observation("rfs-1", LBP, "red-flag-screen", "Alarmsymptomer gennemgået", 6, "exam", valueBoolean=True),
        _observation("saddle-1", LBP, "saddle-anaesthesia", "Ridebukseanæstesi", 6, "exam", valueBoolean=False),
        _prescription("rx-ibu-1", "M01AE01", "Ibuprofen", 20),
    ]


def background(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` resources of a long record; about 1 in 150 happens to be back-pain relevant."""
    out: list[dict[str, Any]] = []
    for n in range(count):
        days = 3 + rng.random() * 3650
        pick = rng.random()
        rid = f"bg-{n}"
        if pick < 0.62:
            code, name, unit, mean, spread = rng.choice(LABS)
            out.append(_observation(rid, NPU, code, name, days, "laboratory",
                                    **_quantity(round(rng.gauss(mean, spread), 1), unit)))
        elif pick < 0.72:
            out.append(_blood_pressure(rid, days, rng))
        elif pick < 0.78:
            code, name, unit, mean, spread = rng.choice(LOINC_VITALS)
            out.append(_observation(rid, LOINC, code, name, days, "vital-signs",
                                    **_quantity(round(rng.gauss(mean, spread), 1), unit)))
        elif pick < 0.81:
            system, code, name = rng.choice(CHRONIC)
            out.append(_condition(rid, system, code, name, days))
        elif pick < 0.90:
            atc, name = rng.choice(MEDICINES)
            out.append(_prescription(rid, atc, name, days, rng.choice(("active", "completed", "stopped"))))
        elif pick < 0.9935:
            out.append(_encounter(rid, days, rng))
        elif pick < 0.996:  # an old, resolved back-pain episode
            out.append(_condition(rid, ICPC2, "L03", "Lændesmerter", days, clinical="resolved"))
        elif pick < 0.998:  # an old ibuprofen course
            out.append(_prescription(rid, "M01AE01", "Ibuprofen", days, "completed"))
        else:  # a pain score from an old consultation
            out.append(_observation(rid, LOINC, "72514-3", "Pain severity 0-10", days, "survey",
                                    valueInteger=rng.randint(2, 8)))
    return out


def patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "1968-03-14", "gender": "female",
            "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "0000000000"}]}


def record(size: int, seed: int = 13) -> list[dict[str, Any]]:
    """``size`` resources: the Patient, the back-pain story, the rest background (deterministic)."""
    story = back_pain_story()
    rng = random.Random(f"{seed}-{size}")
    return [patient(), *story, *background(max(0, size - 1 - len(story)), rng)][:size]


def _mri() -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "id": "mri-1", "status": "draft", "intent": "order",
            "code": _cc(CPT, "72148", "MR lænderyg uden kontrast"), "subject": _subject(),
            "reasonCode": [_cc(ICPC2, "L86", "Rygsyndrom med smerteudstråling")]}


def request(hook: str, size: int, seed: int = 13) -> dict[str, Any]:
    """A hook request with every prefetch key filled, as a capable EHR sends it."""
    resources = record(size, seed)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)

    def bundle(*types: str) -> dict[str, Any]:
        entries = [{"fullUrl": f"{t}/{r['id']}", "resource": r} for t in types for r in by_type.get(t, [])]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}

    context: dict[str, Any] = {"userId": "Practitioner/gp-1", "patientId": PATIENT_ID}
    if hook != "patient-view":
        order = _mri()
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
        if hook == "order-select":
            context["selections"] = ["ServiceRequest/mri-1"]
    keys = {"patient": resources[0], "conditions": bundle("Condition"), "observations": bundle("Observation"),
            "medications": bundle("MedicationRequest", "Medication"), "servicerequests": bundle("ServiceRequest"),
            "procedures": bundle("Procedure"), "encounters": bundle("Encounter")}
    prefetch = {key: value for key, value in keys.items() if key in PREFETCH_KEYS[hook]}
    return {"hook": hook, "hookInstance": HOOK_INSTANCE, "context": context, "prefetch": prefetch}
