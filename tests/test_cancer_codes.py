"""Cancer as a Danish GP record codes it: current cancer → ``malignancy``, previous cancer → ``malignancy-history``.

Also the two risk factors for spinal infection that gained standard codes (``immunosuppression``), and the codes
that were checked and deliberately left out. Every code here, and where it was checked, is in
docs/terminology-sources.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.terminology import Terminology

PROFILES = Path(__file__).resolve().parent.parent / "fhir_profiles"
SNOMED = "http://snomed.info/sct"
ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_DK = "urn:oid:1.2.208.176.2.31"
ICD = "http://hl7.org/fhir/sid/icd-10"
SKS = "urn:oid:1.2.208.176.2.4.12"

MALIGNANCY = "malignancy"
HISTORY = "malignancy-history"
IMMUNOSUPPRESSION = "immunosuppression"
LONG_TERM_STEROID = "long-term-corticosteroid-use"

#: The malignant-neoplasm rubrics of ICPC-2-DK.
ICPC2_MALIGNANT = ["A79", "B72", "B73", "B74", "D74", "D75", "D76", "D77", "L71", "N74", "R84", "R85", "S77", "T71",
                   "U75", "U76", "U77", "W72", "X75", "X76", "X77", "Y77", "Y78"]


@pytest.fixture(scope="module")
def terms() -> Terminology:
    return Terminology.load(PROFILES)


@pytest.mark.parametrize(
    ("system", "code"),
    [
        # breast cancer, the case that was missed
        (ICPC2, "X76"),
        (ICPC2_DK, "X76"),
        (SKS, "DC509"),
        (SKS, "DC50"),
        (SKS, "DC504M"),  # a Danish sub-code (retired "… med metastaser") still counts
        (ICD, "C50.9"),
        (ICD, "C509"),
        # the codes the value set held before stay in
        (ICD, "C79.5"),
        (ICD, "C41.2"),
        (SKS, "DC795"),
        (SKS, "DC412"),
        (SNOMED, "363346000"),
        (SNOMED, "94602001"),
        # the ends of the malignant range C00-C97
        (ICD, "C00.0"),
        (ICD, "C97"),
        (SKS, "DC97"),
    ],
)
def test_current_cancer_is_malignancy(terms, system, code):
    assert terms.concepts_of(system, code) == {MALIGNANCY}


@pytest.mark.parametrize("code", ICPC2_MALIGNANT)
def test_every_icpc2_malignant_rubric_is_malignancy(terms, code):
    assert terms.concepts_of(ICPC2, code) == {MALIGNANCY}


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (ICD, "Z85.3"),
        (ICD, "Z853"),
        (ICD, "Z85.9"),
        (SKS, "DZ853"),
        (SKS, "DZ859"),
        (SNOMED, "266987004"),
        (SNOMED, "415082004"),
        (SNOMED, "428262008"),
        (SNOMED, "429087003"),
    ],
)
def test_history_of_cancer_is_history_not_current_cancer(terms, system, code):
    assert terms.concepts_of(system, code) == {HISTORY}


@pytest.mark.parametrize(
    ("system", "code"),
    [
        # benign breast neoplasm, the near miss of breast cancer
        (ICD, "D24"),
        (SKS, "DD24"),
        (ICPC2, "X79"),
        # in situ, benign and uncertain-behaviour neoplasms of chapter II (D00-D48)
        (ICD, "D05.1"),
        (ICD, "D48.6"),
        (SKS, "DD486"),
        # ICPC-2 "neoplasm" rubrics that are not malignant-only
        (ICPC2, "F74"),
        (ICPC2, "H75"),
        (ICPC2, "K72"),
        (ICPC2, "T73"),
        (ICPC2, "N76"),
        (ICPC2, "L97"),
        # fear of cancer is not cancer
        (ICPC2, "X26"),
        (ICPC2, "A26"),
        # A21 "Risikofaktor for kræft" also covers family history of cancer
        (ICPC2, "A21"),
        # family history of cancer; history of other (non-malignant) neoplasm
        (ICD, "Z80.3"),
        (SKS, "DZ803"),
        (ICD, "Z86.0"),
        # a prefix of the malignancy filters is not itself a code
        (SKS, "D"),
        # ICPC-2 C-like codes are not ICD-10: systems never mix
        (ICPC2, "C50"),
        (SNOMED, "C50.9"),
    ],
)
def test_near_misses_are_neither_cancer_nor_history(terms, system, code):
    assert terms.concepts_of(system, code) == set()


def test_malignancy_and_history_share_no_code(terms):
    current = {(s, c) for s, c, _ in terms.codes(MALIGNANCY)}
    history = {(s, c) for s, c, _ in terms.codes(HISTORY)}
    assert current and history and not current & history
    for system, code, _ in terms.codes(HISTORY):
        assert MALIGNANCY not in terms.concepts_of(system, code), code


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (ICD, "D84.9", {IMMUNOSUPPRESSION}),
        (ICD, "D84.8", {IMMUNOSUPPRESSION}),
        (SKS, "DD849", {IMMUNOSUPPRESSION}),
        (SKS, "DD848", {IMMUNOSUPPRESSION}),
        (SNOMED, "370391006", {IMMUNOSUPPRESSION}),
        # D84.1 complement defects (incl. hereditary angioedema) is not immunosuppression
        (ICD, "D84.1", set()),
        (SKS, "DD841", set()),
        (ICD, "D84", set()),
        # transplant status was not added (see docs/terminology-sources.md)
        (ICD, "Z94.0", set()),
        # Z92.2 is long-term use of *any* other medicament, not of corticosteroids
        (ICD, "Z92.2", set()),
        (SKS, "DZ922", set()),
    ],
)
def test_immunosuppression_codes(terms, system, code, expected):
    assert terms.concepts_of(system, code) == expected


def test_long_term_corticosteroid_use_has_no_unspecific_code(terms):
    assert LONG_TERM_STEROID not in terms.concepts_of(ICD, "Z92.2")
    assert LONG_TERM_STEROID not in terms.concepts_of(SKS, "DZ922")
