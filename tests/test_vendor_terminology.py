"""Codes as Danish and US EHRs send them: OID spellings, the SKS root OID, NPU's two URIs, RxNorm."""

from __future__ import annotations

import pytest

from service.terminology import normalise_system
from tests.ehr import TERMS

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@pytest.mark.parametrize(("code", "concept"), [
    ("835603", "opioid"),  # tramadol 50 mg tablet: the official sandbox's Rx View
    ("836395", "opioid"),  # tramadol + paracetamol is an opioid (ATC N02AJ13), not paracetamol
    ("1049621", "opioid"),
    ("197806", "nsaid"),
    ("483450", "gabapentinoid"),
    ("1364445", "anticoagulant"),
    ("209443", "paracetamol"),
    ("1174204", "muscle-relaxant"),
    ("905516", "benzodiazepine"),
])
def test_rxnorm_clinical_drugs_map_to_the_medicine_classes(code, concept):
    assert TERMS.concepts_of(RXNORM, code) == {concept}


def test_rxnorm_under_its_hl7_oid_and_an_unknown_drug():
    assert TERMS.concepts_of("urn:oid:2.16.840.1.113883.6.88", "835603") == {"opioid"}
    assert TERMS.concepts_of(RXNORM, "197361") == frozenset()  # aspirin 81 mg: no class of ours


@pytest.mark.parametrize(("system", "code", "expected"), [
    ("urn:oid:2.16.840.1.113883.6.96", "279039007", "low-back-pain"),  # SNOMED CT OID (Epic's examples)
    ("urn:oid:2.16.840.1.113883.6.73", "N02AX02", "opioid"),  # ATC OID (EU medication IGs)
    ("urn:oid:2.16.840.1.113883.6.3", "M54.5", "low-back-pain"),  # ICD-10 OID
    ("urn:oid:1.2.208.176.2.4", "DM545", "low-back-pain"),  # SKS root OID, a D-code = the diagnosis register
])
def test_oid_spellings_are_the_same_systems(system, code, expected):
    assert expected in TERMS.concepts_of(system, code)


def test_sks_root_oid_reads_a_d_code_as_a_diagnosis_and_nothing_else():
    assert TERMS.concepts_of("urn:oid:1.2.208.176.2.4", "DG834") == TERMS.concepts_of("urn:oid:1.2.208.176.2.4.12",
                                                                                       "DG834")
    assert TERMS.concepts_of("urn:oid:1.2.208.176.2.4", "ZZ3140") == frozenset()


def test_both_npu_uris_and_the_loinc_oid_are_one_system():
    assert normalise_system("urn:oid:1.2.208.176.2.1") == normalise_system("http://npu-terminology.org")
    assert normalise_system("urn:oid:2.16.840.1.113883.6.1") == "http://loinc.org"
