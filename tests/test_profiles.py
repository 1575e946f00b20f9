"""Every conformance resource we publish parses as FHIR, and our own codes are all defined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class

from service.terminology import SNOMED

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "fhir_profiles").rglob("*.json"))
ACCEPTED = {SNOMED, "http://loinc.org", "http://hl7.org/fhir/sid/icd-10", "urn:oid:1.2.208.176.2.4.12",
            "http://hl7.org/fhir/sid/icpc-2", "http://www.whocc.no/atc", "http://www.ama-assn.org/go/cpt",
            # RxNorm clinical drugs (medicine classes), as US EHRs and the official CDS Hooks sandbox send them
            "http://www.nlm.nih.gov/research/umls/rxnorm",
            "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts",
            # coded yes/no answers (answer-yes, answer-no)
            "http://terminology.hl7.org/CodeSystem/v2-0136",
            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_parses_as_fhir_r4(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    get_fhir_model_class(data["resourceType"]).model_validate(data)


def test_every_code_system_used_is_accepted_and_own_codes_are_defined():
    own = {c["code"] for c in json.loads((ROOT / "fhir_profiles/CodeSystem-lbp-concepts.json").read_text())["concept"]}
    for path in (ROOT / "fhir_profiles/valuesets").glob("*.json"):
        for include in json.loads(path.read_text())["compose"]["include"]:
            assert include["system"] in ACCEPTED, (path.name, include["system"])
            if include["system"].endswith("lbp-concepts"):
                assert {c["code"] for c in include["concept"]} <= own, path.name


def test_own_code_system_has_danish_and_english_for_every_code():
    codes = json.loads((ROOT / "fhir_profiles/CodeSystem-lbp-concepts.json").read_text())["concept"]
    required = {"saddle-anaesthesia", "progressive-neurological-deficit", "straight-leg-raise-positive",
                "crossed-straight-leg-raise-positive", "night-pain", "morning-stiffness-over-30-min",
                "improves-with-activity", "family-history-spondyloarthritis", "intravenous-drug-use",
                "long-term-corticosteroid-use", "walking-related-leg-pain", "no-satisfactory-improvement",
                "severe-disabling-pain", "yellow-flag", "blue-flag", "sick-leave", "red-flag-screen",
                "muscle-strength-grade", "annual-review", "supervised-exercise-therapy"}
    assert required <= {c["code"] for c in codes}
    for concept in codes:
        assert {d["language"] for d in concept["designation"]} == {"da", "en"}, concept["code"]


def test_every_override_reason_on_a_card_is_in_our_code_system():
    system = json.loads((ROOT / "fhir_profiles/CodeSystem-override-reasons.json").read_text())
    defined = {c["code"] for c in system["concept"]}
    for path in (ROOT / "cards").glob("*.json"):
        for reason in json.loads(path.read_text()).get("overrideReasons", []):
            assert reason["system"] == system["url"] and reason["code"] in defined, (path.name, reason["code"])
