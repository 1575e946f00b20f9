"""Deciding what to parse before parsing changes no record: the same PatientRecord as parsing everything.

``build_record(..., everything=True)`` parses every resource (the behaviour before the selection);
each case must give an equal record, and the only problems allowed to disappear are those about
resources no rule could use (unreadable, another patient's, repaired), which are counted instead.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks import synthetic
from service.facts import build_record
from service.selection import select, usable
from service.terminology import Terminology
from tests.ehr import ATC, ICPC2, LBP, NOW, PATIENT, SNOMED, at, cc, condition, day, drug, finding, mri, observation

ROOT = Path(__file__).resolve().parent.parent
TERMS = Terminology.load(ROOT / "fhir_profiles")
SCENARIOS = {p.stem: json.loads(p.read_text(encoding="utf-8"))
             for p in sorted((ROOT / "tests" / "scenarios").glob("*.json"))}
NPU = "urn:oid:1.2.208.176.2.1"


def lab(rid: str, when: str = at(30), **extra: Any) -> dict[str, Any]:
    return observation(rid, NPU, "NPU02319", when, valueQuantity={"value": 8.4, "unit": "mmol/L"}, **extra)


def _context(orders: list[Mapping[str, Any]], patient_id: str = "p1") -> dict[str, Any]:
    return {"patientId": patient_id, "userId": "Practitioner/gp-1",
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]}}


def assert_same_record(resources: list[Mapping[str, Any]], context: Mapping[str, Any], hook: str, now: datetime) -> Any:
    frozen = copy.deepcopy(resources)
    chosen = build_record(resources, context, hook, TERMS, now)
    reference = build_record(resources, context, hook, TERMS, now, everything=True)
    assert resources == frozen, "the selection must not change the input"
    assert chosen.record == reference.record
    assert chosen.unresolved_medications == reference.unresolved_medications
    assert set(chosen.problems) <= set(reference.problems)
    kept = {f"{r.get('resourceType')}/{r.get('id')}" for r in select(resources, [], TERMS).kept}
    for lost in set(reference.problems) - set(chosen.problems):
        assert lost.split(" ")[0].rstrip(":") not in kept, f"a problem about a used resource was dropped: {lost}"
    assert chosen.parsed + chosen.skipped == len(resources)
    return chosen


@pytest.mark.parametrize("stem", sorted(SCENARIOS))
def test_every_scenario_gives_the_same_record(stem: str) -> None:
    scenario = SCENARIOS[stem]
    resources = [scenario["patient"], *scenario.get("resources", [])]
    now = datetime.fromisoformat(scenario["now"])
    for call in scenario.get("calls", []):
        orders = call.get("draftOrders", [])
        context = _context(orders, scenario["patient"]["id"])
        assert_same_record(resources, context, call["hook"], now)
        # And with a long record's worth of unrelated entries mixed in, some of them broken.
        noisy = [*resources, *synthetic.background(60, random.Random(stem)),
                 lab("zoneless-lab", "2026-11-01T09:30"), lab("stranger-lab", subject={"reference": "Patient/other"}),
                 lab("broken-lab", "last tuesday")]
        assert_same_record(noisy, context, call["hook"], now)


@pytest.mark.parametrize("size", synthetic.SIZES)
def test_synthetic_records_give_the_same_record(size: int) -> None:
    body = synthetic.request("order-select", size)
    resources = [body["prefetch"]["patient"]] + [e["resource"] for key, b in body["prefetch"].items()
                                                 if key != "patient" for e in b["entry"]]
    built = assert_same_record(resources, body["context"], "order-select", synthetic.NOW)
    assert built.skipped > 0 and built.parsed < size


def test_references_keep_what_they_point_to() -> None:
    """A Medication named by medicationReference and an uncoded finding named by reasonReference are parsed."""
    medicine = {"resourceType": "Medication", "id": "med-1", "code": cc(ATC, "M01AE01")}
    unnamed = {"resourceType": "Medication", "id": "med-2", "code": cc(ATC, "M01AE01")}
    uncoded = observation("note-1", SNOMED, "1234567", at(3), valueBoolean=True)
    by_reference = drug("rx-1", medicationReference={"reference": "Medication/med-1"}, status="active")
    order = mri(reasonReference=[{"reference": "Observation/note-1"}])
    resources = [PATIENT, medicine, unnamed, uncoded, by_reference, condition("lbp", ICPC2, "L03", onset=day(20))]
    chosen = select(resources, [order], TERMS)
    labels = [f"{r['resourceType']}/{r['id']}" for r in chosen.kept]
    assert labels == ["Patient/p1", "Medication/med-1", "Observation/note-1", "MedicationRequest/rx-1",
                      "Condition/lbp"]
    assert chosen.skipped == 1
    assert_same_record(resources, _context([order]), "order-select", NOW)


def test_a_draft_medicine_by_reference_keeps_the_medication_in_prefetch() -> None:
    medicine = {"resourceType": "Medication", "id": "med-9", "code": cc(ATC, "N02AX02")}
    order = drug("rx-draft", medicationReference={"reference": "https://fhir.example.dk/Medication/med-9"})
    assert [r["id"] for r in select([PATIENT, medicine], [order], TERMS).kept] == ["p1", "med-9"]
    assert_same_record([PATIENT, medicine], _context([order]), "order-select", NOW)


@pytest.mark.parametrize(
    ("resource", "wanted"),
    [
        (lab("hb"), False),
        (finding("slr", "straight-leg-raise-positive", at(2)), True),
        # The code means "no" and nothing else: an answer without a question is not a finding.
        (observation("no", SNOMED, "373067005", at(2)), False),
        # A finding answered "no" (SNOMED 373067005): parsed, it says the finding is absent.
        (finding("saddle", "saddle-anaesthesia", at(2), None, valueCodeableConcept=cc(SNOMED, "373067005")), True),
        # A finding coded only in its value ("finding: sciatica").
        (observation("v", SNOMED, "404684003", at(2), valueCodeableConcept=cc(SNOMED, "23056005")), True),
        (observation("strength", LBP, "muscle-strength-grade", at(2), valueInteger=4), True),
        (observation("pain", "http://loinc.org", "72514-3", at(2), valueInteger=7), True),
        (condition("t90", ICPC2, "T90"), False),
        (condition("l86", ICPC2, "L86"), True),
        ({**condition("l86-sloppy", ICPC2, "L86"), "code": {"coding": {"system": ICPC2, "code": "L86"}}}, True),
        (drug("metformin", "A10BA02"), False),
        (drug("ibuprofen", "M01AE01"), True),
        (drug("by-ref", medicationReference={"reference": "Medication/x"}), True),
        ({"resourceType": "Encounter", "id": "e", "type": [cc(LBP, "follow-up-consultation")]}, True),
        ({"resourceType": "Encounter", "id": "e2", "type": {"coding": [{"system": LBP, "code": "annual-review"}]}},
         True),
        ({"resourceType": "Encounter", "id": "e3", "type": [cc(SNOMED, "185349003")]}, False),
        ({"resourceType": "OperationOutcome", "id": "oo"}, False),
        ({**condition("odd", ICPC2, "L86"), "code": {"coding": [{"system": 5, "code": ["L86"]}]}}, False),
    ],
)
def test_what_a_rule_could_use(resource: Mapping[str, Any], wanted: bool) -> None:
    assert usable(resource, TERMS) is wanted


def test_problems_of_used_resources_are_still_reported() -> None:
    sciatica = condition("sci", ICPC2, "L86", onsetDateTime="2026-11-01T08:00")
    strangers = condition("other-l03", ICPC2, "L03", subject={"reference": "Patient/someone-else"})
    broken = finding("broken", "saddle-anaesthesia", "last tuesday")
    built = assert_same_record([PATIENT, sciatica, strangers, broken, lab("quiet", "2026-11-01T08:00")],
                               _context([]), "patient-view", NOW)
    text = " ".join(built.problems)
    assert "Condition/sci: onsetDateTime has a time without a time zone" in text
    assert "Condition/other-l03 skipped: it belongs to another patient" in text
    assert "Observation/broken skipped" in text
    assert "Observation/quiet" not in text  # a lab value no rule reads: counted, not reported
    assert built.skipped == 1
