"""Codes an EHR sends → the concepts the rules use: every system, every Danish quirk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.concepts import Concept
from service.terminology import Terminology, TerminologyError
from tests.hookreq import CPT, ICPC2, LBP, SNOMED, condition, full_prefetch, hook_request, imaging_order

PROFILES = Path(__file__).resolve().parent.parent / "fhir_profiles"
SKS = "urn:oid:1.2.208.176.2.4.12"
ICD = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"


@pytest.fixture(scope="module")
def terms() -> Terminology:
    return Terminology.load(PROFILES)


def test_every_concept_has_a_value_set_with_codes(terms):
    assert terms.concept_ids() == {c.value for c in Concept}
    assert all(terms.codes(c) for c in Concept)


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (SKS, "DG834", {"cauda-equina"}),
        (SKS, "DG834A", {"cauda-equina"}),
        (SKS, "DG834B", {"spinal-stenosis"}),
        (SKS, "DM511D", {"nerve-root-involvement"}),
        (SKS, "DM545", {"low-back-pain"}),
        (SKS, "DM545A", {"low-back-pain"}),
        (SKS, "DM54", set()),
        (ICPC2, "L03", {"low-back-pain"}),
        ("urn:oid:1.2.208.176.2.31", "L86", {"nerve-root-involvement"}),
        (SNOMED, "279039007", {"low-back-pain"}),
        ("http://snomed.info/sct/554471000005108", "279039007", {"low-back-pain"}),
        ("http://snomed.info/sct/", "23056005", {"nerve-root-involvement"}),
        (ICD, "M54.5", {"low-back-pain"}),
        (ICD, "M545", {"low-back-pain"}),
        (ICD, "G83.4", {"cauda-equina"}),
        (ATC, "N02AX02", {"opioid"}),
        (ATC, "n02ax02", {"opioid"}),
        (ATC, "B01AF01", {"anticoagulant"}),
        (ATC, "N03AX16", {"gabapentinoid"}),
        (ATC, "M01AE01", {"nsaid"}),
        (CPT, "72148", {"lumbar-mri"}),
        ("http://loinc.org", "24968-0", {"lumbar-mri"}),
        ("http://loinc.org", "72514-3", {"pain-score"}),
        (LBP, "saddle-anaesthesia", {"saddle-anaesthesia"}),
        (SNOMED, "271594007", set()),
        (None, "279039007", set()),
        (SNOMED, None, set()),
    ],
    ids=["sks-cauda-equina", "sks-cauda-equina-bladder", "sks-DG834B-is-claudication-not-cauda-equina",
         "sks-disc-prolapse-subcode", "sks-low-back-pain", "sks-retired-subcode", "sks-parent-category-is-not-a-code",
         "icpc2-hl7-uri", "icpc2-dk-oid", "snomed", "snomed-danish-edition", "snomed-trailing-slash", "icd10-dotted",
         "icd10-undotted", "icd10-cauda-equina", "atc-tramadol", "atc-lower-case", "atc-antithrombotic",
         "atc-pregabalin", "atc-ibuprofen", "cpt-sandbox-mri", "loinc-mri", "loinc-pain", "own-code",
         "syncope-is-not-saddle-anaesthesia", "no-system", "no-code"],
)
def test_codings_map_to_concepts(terms, system, code, expected):
    assert terms.concepts_of(system, code) == expected


def test_tolerates_empty_codings(terms):
    assert terms.concepts_in([{}, {"system": SNOMED}, {"code": "x"}, "junk"]) == frozenset()  # type: ignore[list-item]


CONTRADICTIONS = [
    ("cauda-equina", "spinal-stenosis"),
    ("lumbar-mri", "lumbar-ct"),
    ("lumbar-mri", "lumbar-xray"),
    ("lumbar-ct", "lumbar-xray"),
    ("opioid", "nsaid"),
    ("opioid", "paracetamol"),
    ("nsaid", "paracetamol"),
    ("gabapentinoid", "opioid"),
    ("low-back-pain", "cauda-equina"),
    ("malignancy", "spinal-infection"),
]


def test_no_code_sits_in_two_contradicting_concepts(terms):
    for a, b in CONTRADICTIONS:
        codes_a = {(s, c) for s, c, _ in terms.codes(a)}
        codes_b = {(s, c) for s, c, _ in terms.codes(b)}
        assert not codes_a & codes_b, (a, b, codes_a & codes_b)
        for system, code, _ in terms.codes(a):
            assert b not in terms.concepts_of(system, code), (a, b, code)


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


SITE_MRI = {
    "resourceType": "ValueSet", "id": "lumbar-mri", "url": "https://lbp-cds.org/fhir/ValueSet/lumbar-mri",
    "status": "active",
    "compose": {"include": [{"system": "https://example-hospital.dk/fhir/CodeSystem/local-procedures",
                             "concept": [{"code": "MR-LS-01", "display": "MR af lumbalcolumna"}]}]},
}


def test_extra_value_sets_add_a_sites_codes(tmp_path):
    _write(tmp_path / "site-mri.json", SITE_MRI)
    terms = Terminology.load(PROFILES, tmp_path)
    assert terms.concepts_of("https://example-hospital.dk/fhir/CodeSystem/local-procedures", "MR-LS-01") == {
        "lumbar-mri"}
    assert terms.concepts_of(CPT, "72148") == {"lumbar-mri"}  # shipped codes stay


def test_a_sites_mri_code_makes_the_imaging_rule_fire(tmp_path):
    from service import create_app

    extra = tmp_path / "valuesets"
    extra.mkdir()
    _write(extra / "site-mri.json", SITE_MRI)
    order = imaging_order(code="MR-LS-01", system="https://example-hospital.dk/fhir/CodeSystem/local-procedures")
    body = hook_request("order-sign", prefetch=full_prefetch(condition()), orders=(order,))
    plain = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off"}).test_client()
    assert plain.post("/cds-services/lbp-order-sign", json=body).get_json()["cards"] == []
    site = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off",
                       "EXTRA_VALUESETS": str(extra)}).test_client()
    cards = site.post("/cds-services/lbp-order-sign", json=body).get_json()["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["IMG-NOT-INDICATED"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ({"resourceType": "CodeSystem", "id": "lumbar-mri"}, "not a FHIR ValueSet"),
        ({**SITE_MRI, "id": "lumbar-mri-typo", "url": "x"}, "not a concept of lbp-cds"),
        ({**SITE_MRI, "compose": {"include": [{"concept": [{"code": "X"}]}]}}, "'system' is missing"),
        ({**SITE_MRI, "compose": {"include": []}}, "at least one system"),
        ({**SITE_MRI, "compose": {"include": [{"system": SNOMED, "filter": [{"op": "is-a", "value": "1"}]}]}},
         "only supported for SKS"),
    ],
    ids=["bad-json", "not-a-valueset", "unknown-concept", "no-system", "no-includes", "is-a-on-snomed"],
)
def test_a_malformed_extra_file_stops_start_up_naming_the_file(tmp_path, content, needle):
    path = tmp_path / "broken.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(TerminologyError) as exc:
        Terminology.load(PROFILES, tmp_path)
    assert "broken.json" in str(exc.value) and needle in str(exc.value)


def test_a_missing_extra_folder_stops_start_up(tmp_path):
    with pytest.raises(TerminologyError, match="not a folder"):
        Terminology.load(PROFILES, tmp_path / "nope")
