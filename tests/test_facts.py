"""The data contract in code: FHIR as EHRs send it → the facts the rules read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.concepts import EPISODE_CONCEPTS, Concept
from service.facts import build_record
from service.terminology import Terminology
from tests.hookreq import ATC, CPT, LBP, SNOMED, condition, finding, imaging_order, patient

NOW = datetime.now(UTC)  # tests.hookreq dates its resources from the real clock too
PROFILES = Path(__file__).resolve().parent.parent / "fhir_profiles"


@pytest.fixture(scope="module")
def terms() -> Terminology:
    return Terminology.load(PROFILES)


def build(terms, *resources, hook="patient-view", orders=(), selections=None, unavailable=()):
    context = {"patientId": "p1", "userId": "Practitioner/1",
               "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]}}
    if selections is not None:
        context["selections"] = selections
    return build_record(list(resources), context, hook, terms, NOW, unavailable)


def lbp(**fields):
    base = condition(onset_days=None)
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("fields", "expected", "basis"),
    [
        ({"onsetDateTime": "2026-10-30", "recordedDate": "2026-11-10"}, "2026-10-30", "onsetDateTime"),
        ({"onsetPeriod": {"start": "2026-10-01"}, "recordedDate": "2026-11-10"}, "2026-10-01", "onsetPeriod.start"),
        ({"recordedDate": "2026-11-10"}, "2026-11-10", "recordedDate"),
        ({"onsetDateTime": "2026-10"}, "2026-10-01", "onsetDateTime"),
        ({}, None, "unknown"),
    ],
    ids=["onsetDateTime-wins", "period-start-before-recorded", "recorded-date-last", "partial-month", "unknown"],
)
def test_onset_follows_the_contract_and_says_which_date_it_used(terms, fields, expected, basis):
    episode = build(terms, lbp(**fields)).record.episodes[0]
    assert episode.onset_basis == basis
    assert (episode.onset.date().isoformat() if episode.onset else None) == expected


@pytest.mark.parametrize(
    "status",
    [
        {"verificationStatus": {"coding": [{"code": "refuted"}]}},
        {"verificationStatus": {"coding": [{"code": "entered-in-error"}]}},
        {"clinicalStatus": {"coding": [{"code": "resolved"}]}},
    ],
    ids=["refuted", "entered-in-error", "resolved"],
)
def test_conditions_that_are_not_true_now_are_not_facts(terms, status):
    cauda = condition("192970008", cid="ces", **status)
    record = build(terms, cauda).record
    assert record.status(Concept.CAUDA_EQUINA) is None


def test_observation_true_false_and_absent_value(terms):
    record = build(
        terms,
        finding("saddle-anaesthesia", True),
        finding("night-pain", False),
        finding("straight-leg-raise-positive", None),
    ).record
    assert record.status(Concept.SADDLE_ANAESTHESIA) is True
    assert record.status(Concept.NIGHT_PAIN) is False  # checked and absent
    assert record.status(Concept.STRAIGHT_LEG_RAISE) is True  # coded with no value = present
    assert record.status(Concept.FEVER) is None  # never documented


def test_red_flag_screen_false_means_screened_negative(terms):
    record = build(terms, finding("red-flag-screen", False)).record
    assert record.status(Concept.RED_FLAG_SCREEN) is False


def test_observation_not_final_is_ignored(terms):
    registered = finding("saddle-anaesthesia", True)
    registered["status"] = "registered"
    assert build(terms, registered).record.status(Concept.SADDLE_ANAESTHESIA) is None


def test_strength_grades_and_pain_scores_are_measurements(terms):
    grade = finding("muscle-strength-grade", None, oid="g1")
    grade["valueInteger"] = 3
    grade["effectiveDateTime"] = "2026-11-21T10:00:00Z"
    pain = {"resourceType": "Observation", "id": "nrs", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
            "valueQuantity": {"value": 7, "unit": "score"}, "effectiveDateTime": "2026-11-20"}
    record = build(terms, grade, pain).record
    assert [m.value for m in record.strength] == [3.0]
    assert [m.value for m in record.pain] == [7.0]


def test_active_medicine_is_classified_by_atc_class(terms):
    tramadol = {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
                "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-10-01",
                "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "N02AX02"}]}}
    stopped = {**tramadol, "id": "m2", "status": "stopped"}
    record = build(terms, tramadol, stopped).record
    assert [sorted(m.concepts) for m in record.medications] == [[Concept.OPIOID.value]]


def test_order_select_marks_only_the_selections(terms):
    mri, xray = imaging_order("mri-1"), imaging_order("x-1", code="24972-2", system="http://loinc.org")
    record = build(terms, hook="order-select", orders=(mri, xray), selections=["ServiceRequest/x-1"]).record
    assert {o.ref: o.selected for o in record.draft_orders} == {
        "ServiceRequest/mri-1": False, "ServiceRequest/x-1": True}
    assert Concept.LUMBAR_MRI in record.draft_orders[0].concepts


def test_order_sign_considers_every_order(terms):
    record = build(terms, hook="order-sign", orders=(imaging_order("a"), imaging_order("b"))).record
    assert all(o.selected for o in record.draft_orders)


def test_reason_reference_resolves_to_the_condition(terms):
    sciatica = condition("23056005", cid="sci-1")
    order = imaging_order(reasonReference=[{"reference": "Condition/sci-1"}])
    record = build(terms, sciatica, hook="order-sign", orders=(order,)).record
    assert Concept.NERVE_ROOT in record.draft_orders[0].reason_concepts


def test_reason_code_establishes_the_episode_for_that_order_when_the_problem_list_has_none(terms):
    order = imaging_order(reasonCode=[{"coding": [{"system": SNOMED, "code": "279039007"}]}])
    record = build(terms, hook="order-sign", orders=(order,)).record
    assert record.episodes == ()  # the patient's record holds no episode ...
    (episode,) = record.for_order(record.draft_orders[0], EPISODE_CONCEPTS).episodes  # ... the order's view does
    assert episode.onset is None and episode.source == "ServiceRequest/mri-1" and episode.onset_basis == "order-reason"


def test_sick_leave_starts_at_the_period_start(terms):
    leave = finding("sick-leave", None)
    del leave["effectiveDateTime"]
    leave["effectivePeriod"] = {"start": "2026-10-01"}
    (fact,) = build(terms, leave).record.facts_of(Concept.SICK_LEAVE)
    assert fact.start is not None and fact.start.date().isoformat() == "2026-10-01"


def test_annual_review_encounter_is_care(terms):
    review = {"resourceType": "Encounter", "id": "e1", "status": "finished",
              "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
              "type": [{"coding": [{"system": LBP, "code": "annual-review"}]}],
              "subject": {"reference": "Patient/p1"}, "period": {"start": "2026-03-01"}}
    (event,) = build(terms, review).record.care
    assert Concept.ANNUAL_REVIEW in event.concepts


def test_age_from_birth_date(terms):
    today = NOW.date()
    birthday = today.replace(year=today.year - 50)
    tomorrow_50_years_ago = (birthday + timedelta(days=1)).isoformat()
    assert build(terms, patient(birth=tomorrow_50_years_ago)).record.age == 49
    assert build(terms, patient(birth=birthday.isoformat())).record.age == 50


def test_cpt_lumbar_mri_from_the_sandbox_is_recognised(terms):
    order = imaging_order(code="72148", system=CPT)
    (draft,) = build(terms, hook="order-sign", orders=(order,)).record.draft_orders
    assert Concept.LUMBAR_MRI in draft.concepts


def test_data_absent_reason_means_not_documented(terms):
    unknown = finding("saddle-anaesthesia", None)
    unknown["dataAbsentReason"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                               "code": "asked-unknown"}]}
    assert build(terms, unknown).record.status(Concept.SADDLE_ANAESTHESIA) is None
