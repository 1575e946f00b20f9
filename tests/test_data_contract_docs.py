"""Every JSON example in the data contract is valid FHIR and reads as the page says."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class

from service.concepts import Concept
from service.facts import build_record
from service.terminology import Terminology

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs/data-contract.md").read_text(encoding="utf-8")
EXAMPLES = [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", DOC, re.S)]


def test_the_contract_has_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{e['resourceType']}-{e.get('id')}" for e in EXAMPLES])
def test_every_example_is_valid_fhir(example):
    get_fhir_model_class(example["resourceType"]).model_validate(example)


def test_every_concept_is_documented():
    assert not [c.value for c in Concept if f"`{c.value}`" not in DOC]


def test_the_examples_mean_what_the_page_says():
    terms = Terminology.load(ROOT / "fhir_profiles")
    resources = [e for e in EXAMPLES if e["resourceType"] != "ValueSet" and e["id"] != "mri-1"]
    drafts = [e for e in EXAMPLES if e.get("id") == "mri-1"]
    context = {"patientId": "p1", "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": d} for d in drafts]}}
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    record = build_record(resources, context, "order-sign", terms, now).record
    assert record.status(Concept.SADDLE_ANAESTHESIA) is False  # checked and absent
    assert record.status(Concept.RED_FLAG_SCREEN) is False  # screened negative
    assert record.episodes[0].onset_basis == "onsetDateTime"
    assert [m.value for m in record.strength] == [3.0] and [m.value for m in record.pain] == [7.0]
    assert record.medications_of([Concept.ANTICOAGULANT])
    assert record.care_of([Concept.ANNUAL_REVIEW])
    assert record.care_of([Concept.PHYSIOTHERAPY])  # conservative treatment
    assert record.has(Concept.TRAUMA) and record.has(Concept.PARESIS)
    assert record.facts_of(Concept.SICK_LEAVE)[0].start is not None
    assert Concept.LUMBAR_MRI in record.draft_orders[0].concepts
    assert record.status(Concept.BLADDER_DYSFUNCTION) is False  # "No" coded as an answer
    assert record.status(Concept.MALIGNANCY) is None and record.history(Concept.MALIGNANCY)  # previous cancer
    assert record.medications_of([Concept.GABAPENTINOID])  # medicationReference to a contained Medication
