"""The NSAID cautions of DSAM L610 are recognised in the codes a Danish EHR sends (ICPC-2, SKS, ICD-10, SNOMED, ATC).

Code → concept goes through ``Terminology`` only. One end-to-end test runs a raw FHIR record through
``build_record`` and the MED-NSAID-CAUTION rule, and checks only that the rule fires or stays quiet.
Every standard code in these value sets, and where it was checked, is in docs/terminology-sources.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.terminology import Terminology

PROFILES = Path(__file__).resolve().parent.parent / "fhir_profiles"
SNOMED = "http://snomed.info/sct"
SNOMED_DK = "http://snomed.info/sct/554471000005108"
ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_DK = "urn:oid:1.2.208.176.2.31"
ICD = "http://hl7.org/fhir/sid/icd-10"
SKS = "urn:oid:1.2.208.176.2.4.12"
ATC = "http://www.whocc.no/atc"


@pytest.fixture(scope="module")
def terms() -> Terminology:
    return Terminology.load(PROFILES)


MAPS = [
    # pregnancy
    (ICPC2, "W78", "pregnancy"),
    (ICPC2_DK, "W79", "pregnancy"),
    (ICPC2, "W84", "pregnancy"),
    (ICD, "Z34.0", "pregnancy"),
    (ICD, "Z32.1", "pregnancy"),
    (SKS, "DZ349", "pregnancy"),
    (SKS, "DZ321", "pregnancy"),
    (SNOMED, "77386006", "pregnancy"),
    # cardiovascular disease: heart failure first
    (ICPC2, "K77", "cardiovascular-disease"),
    (ICPC2_DK, "K77", "cardiovascular-disease"),
    (SKS, "DI500", "cardiovascular-disease"),
    (SKS, "DI509", "cardiovascular-disease"),
    (ICD, "I50.9", "cardiovascular-disease"),
    (ICD, "I501", "cardiovascular-disease"),
    (SNOMED, "84114007", "cardiovascular-disease"),
    (SNOMED_DK, "42343007", "cardiovascular-disease"),
    (ICPC2, "K74", "cardiovascular-disease"),
    (ICPC2, "K75", "cardiovascular-disease"),
    (ICPC2, "K76", "cardiovascular-disease"),
    (ICPC2, "K89", "cardiovascular-disease"),
    (ICPC2, "K90", "cardiovascular-disease"),
    (ICPC2, "K91", "cardiovascular-disease"),
    (ICPC2, "K92", "cardiovascular-disease"),
    (ICD, "I21.9", "cardiovascular-disease"),
    (ICD, "I25.1", "cardiovascular-disease"),
    (ICD, "I63.9", "cardiovascular-disease"),
    (ICD, "G45.9", "cardiovascular-disease"),
    (ICD, "I70.2", "cardiovascular-disease"),
    (SKS, "DI219", "cardiovascular-disease"),
    (SKS, "DI639", "cardiovascular-disease"),
    (SKS, "DG459", "cardiovascular-disease"),
    (SKS, "DI739", "cardiovascular-disease"),
    # kidney disease
    (ICPC2, "U88", "kidney-disease"),
    (ICD, "N18.9", "kidney-disease"),
    (ICD, "N17.9", "kidney-disease"),
    (SKS, "DN181", "kidney-disease"),
    (SKS, "DN189", "kidney-disease"),
    (SKS, "DN179", "kidney-disease"),
    (SNOMED, "709044004", "kidney-disease"),
    (SNOMED, "46177005", "kidney-disease"),
    # gastrointestinal ulcer or bleeding
    (ICPC2, "D85", "gastrointestinal-risk"),
    (ICPC2, "D86", "gastrointestinal-risk"),
    (ICPC2, "D14", "gastrointestinal-risk"),
    (ICPC2, "D15", "gastrointestinal-risk"),
    (ICD, "K25.9", "gastrointestinal-risk"),
    (ICD, "K26.4", "gastrointestinal-risk"),
    (ICD, "K92.2", "gastrointestinal-risk"),
    (SKS, "DK259", "gastrointestinal-risk"),
    (SKS, "DK269", "gastrointestinal-risk"),
    (SKS, "DK922", "gastrointestinal-risk"),
    (SKS, "DK921", "gastrointestinal-risk"),
    (SNOMED, "13200003", "gastrointestinal-risk"),
    (SNOMED, "74474003", "gastrointestinal-risk"),
    # antithrombotics, at full ATC depth (B01A as before; platelet inhibitors kept on purpose)
    (ATC, "B01AF01", "anticoagulant"),
    (ATC, "B01AF02", "anticoagulant"),
    (ATC, "B01AE07", "anticoagulant"),
    (ATC, "B01AA03", "anticoagulant"),
    (ATC, "B01AB05", "anticoagulant"),
    (ATC, "B01AC06", "anticoagulant"),
    (ATC, "B01AC04", "anticoagulant"),
]


@pytest.mark.parametrize(("system", "code", "concept"), MAPS,
                         ids=[f"{c}-{s.rsplit('/', 1)[-1]}-{k}" for s, k, c in MAPS])
def test_a_danish_coding_maps_to_the_caution_concept(terms, system, code, concept):
    assert concept in terms.concepts_of(system, code)


NEAR_MISSES = [
    (ICPC2, "N18", "kidney-disease"),  # ICPC-2 N18 is paralysis/weakness, not ICD-10 N18
    (ICPC2, "U95", "kidney-disease"),  # urinary calculus
    (ICPC2, "U99", "kidney-disease"),  # urinary disease other: also hydronephrosis, bladder
    (ICPC2, "U71", "kidney-disease"),  # cystitis
    (ICD, "N20.0", "kidney-disease"),  # kidney stone: not a caution in L610
    (SKS, "DN200", "kidney-disease"),
    (ICD, "N19", "kidney-disease"),  # not verified, not added (see docs)
    (ICD, "I26.9", "cardiovascular-disease"),  # pulmonary embolism: why I2 is never a prefix
    (ICD, "I27.0", "cardiovascular-disease"),
    (ICD, "I10", "cardiovascular-disease"),  # hypertension alone
    (ICPC2, "K86", "cardiovascular-disease"),
    (ICPC2, "K78", "cardiovascular-disease"),  # atrial fibrillation alone
    (ICD, "G45.4", "cardiovascular-disease"),  # transient global amnesia
    (SKS, "DG454", "cardiovascular-disease"),
    (ICD, "K92.9", "gastrointestinal-risk"),  # other digestive disease, not bleeding
    (ICD, "K29.7", "gastrointestinal-risk"),  # gastritis
    (ICPC2, "D87", "gastrointestinal-risk"),
    (ICPC2, "D16", "gastrointestinal-risk"),  # rectal bleeding
    (ICPC2, "W80", "pregnancy"),  # ectopic pregnancy
    (ICPC2, "W90", "pregnancy"),  # delivery
    (ICD, "O80", "pregnancy"),  # O chapter not listed (delivery, puerperium, abortion)
    (ICD, "Z32.0", "pregnancy"),  # pregnancy not (yet) confirmed
    (SKS, "DZ320", "pregnancy"),
    (ATC, "N02BA01", "anticoagulant"),  # acetylsalicylic acid as an analgesic
    (ATC, "M01AE01", "anticoagulant"),  # ibuprofen
    (ATC, "B01", "anticoagulant"),  # the parent group is not a drug code
]


@pytest.mark.parametrize(("system", "code", "concept"), NEAR_MISSES,
                         ids=[f"not-{c}-{s.rsplit('/', 1)[-1]}-{k}" for s, k, c in NEAR_MISSES])
def test_near_misses_do_not_map(terms, system, code, concept):
    assert concept not in terms.concepts_of(system, code)


def test_icpc2_n18_is_still_paresis(terms):
    assert terms.concepts_of(ICPC2, "N18") == {"paresis"}


CAUTION_CONCEPTS = ("pregnancy", "cardiovascular-disease", "kidney-disease", "gastrointestinal-risk")


@pytest.mark.parametrize("concept", CAUTION_CONCEPTS)
def test_every_caution_concept_has_standard_codes_in_each_danish_system(terms, concept):
    systems = {s for s, _, _ in terms.codes(concept)}
    assert {SNOMED, ICPC2, ICD, SKS} <= systems, concept


@pytest.mark.parametrize("concept", CAUTION_CONCEPTS)
def test_no_caution_code_also_means_low_back_pain(terms, concept):
    for system, code, _ in terms.codes(concept):
        assert "low-back-pain" not in terms.concepts_of(system, code), (concept, code)


# --- end to end: raw FHIR -> record -> MED-NSAID-CAUTION ------------------------------------------------

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _condition(cid: str, system: str, code: str) -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2026-11-08",
    }


NSAID_DRAFT = {
    "resourceType": "MedicationRequest",
    "id": "nsaid-1",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "M01AE01", "display": "Ibuprofen"}]},
}


def _nsaid_caution_fires(terms: Terminology, *conditions: dict) -> bool:
    from service.facts import build_record
    from service.rules import REGISTRY
    from tests.factories import params_of

    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1980-05-01", "gender": "female"}
    context = {"patientId": "p1", "userId": "Practitioner/1",
               "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": NSAID_DRAFT}]}}
    record = build_record([patient, *conditions], context, "order-sign", terms, NOW).record
    findings = REGISTRY["MED-NSAID-CAUTION"].fn(record, params_of("MED-NSAID-CAUTION"))
    return any(f.fired for f in findings)


def test_icpc2_heart_failure_makes_the_nsaid_caution_fire(terms):
    back_pain = _condition("lbp-1", ICPC2, "L03")  # ICPC-2 L03 is in ValueSet-low-back-pain
    assert not _nsaid_caution_fires(terms, back_pain)  # 46 years old, nothing documented
    assert _nsaid_caution_fires(terms, back_pain, _condition("hf-1", ICPC2, "K77"))
    assert _nsaid_caution_fires(terms, back_pain, _condition("ckd-1", SKS, "DN184"))
    assert not _nsaid_caution_fires(terms, back_pain, _condition("par-1", ICPC2, "N18"))  # paralysis, not CKD
