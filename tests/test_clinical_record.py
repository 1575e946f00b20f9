"""A real record is a timeline: negation, recency, episodes, history, measurements, the order's reason.

Each test is a small patient as a Danish GP system sends it, evaluated through the whole
pipeline in prefetch mode and in FHIR-fallback mode; both must give the same advice.
Seed lines: DSAM 2026 = 003, NKR 2016 = 002, SST pathway note = 004.
"""

from __future__ import annotations

import pytest

from tests.ehr import (
    ATC,
    ICPC2,
    INTERPRETATION,
    LBP,
    SKS,
    SNOMED,
    V2_0136,
    at,
    card,
    cc,
    condition,
    day,
    drug,
    finding,
    fired,
    mri,
    observation,
    problems,
    run,
    strength,
)

MODES = pytest.mark.parametrize("mode", ["prefetch", "fallback"])
LBP_3W = condition("lbp", ICPC2, "L03", onset=day(21))
SCIATICA_7W = condition("sci", ICPC2, "L86", onset=day(50))


# -- negation ------------------------------------------------------------------------------
@MODES
@pytest.mark.parametrize(
    "answer",
    [
        {"valueCodeableConcept": cc(SNOMED, "373067005", "No")},
        {"valueCodeableConcept": cc(V2_0136, "N", "No")},
        {"interpretation": [cc(INTERPRETATION, "NEG", "Negative")]},
        {"valueBoolean": False},
    ],
    ids=["snomed-no", "v2-0136-N", "interpretation-NEG", "valueBoolean-false"],
)
def test_a_no_answer_means_checked_and_absent(mode, answer):
    """A saddle-anaesthesia question answered "No" must not raise an acute cauda-equina alarm (DSAM L393)."""
    saddle = observation("saddle", LBP, "saddle-anaesthesia", at(0, 1), **answer)
    response = run("patient-view", [LBP_3W, saddle], mode=mode)
    assert "RF-CAUDA-EQUINA" not in fired(response)


@MODES
def test_a_yes_answer_means_present(mode):
    saddle = observation("saddle", LBP, "saddle-anaesthesia", at(0, 1), valueCodeableConcept=cc(SNOMED, "373066001"))
    response = run("patient-view", [LBP_3W, saddle], mode=mode)
    assert card(response, "RF-CAUDA-EQUINA")["indicator"] == "critical"


def test_an_uninterpretable_value_is_not_documented_and_said():
    saddle = observation("saddle", LBP, "saddle-anaesthesia", at(0, 1), valueString="nej")
    response = run("patient-view", [LBP_3W, saddle])
    assert "RF-CAUDA-EQUINA" not in fired(response)
    assert any("Observation/saddle" in p and "not documented" in p for p in problems(response))


# -- recency: the latest assertion wins --------------------------------------------------
@MODES
def test_present_a_year_ago_absent_today_is_absent_today(mode):
    """DSAM L169, L434-L436: flags are reassessed at every contact; today's examination is what counts."""
    old = finding("saddle-old", "saddle-anaesthesia", at(365), True)
    today = finding("saddle-today", "saddle-anaesthesia", at(0, 2), False)
    response = run("order-select", [LBP_3W, old, today], [mri()], mode=mode)
    assert fired(response) == ["IMG-NOT-INDICATED"]
    detail = card(response, "IMG-NOT-INDICATED")["detail"]
    assert "undersøgt og ikke fundet: føleforstyrrelser i ridebukseområdet" in detail


@MODES
def test_absent_last_month_present_today_is_present(mode):
    before = finding("saddle-before", "saddle-anaesthesia", at(30), False)
    today = finding("saddle-today", "saddle-anaesthesia", at(0, 2), True)
    assert "RF-CAUDA-EQUINA" in fired(run("patient-view", [LBP_3W, before, today], mode=mode))


def test_a_red_flag_past_its_window_is_history_not_absent():
    """Saddle anaesthesia recorded 20 days ago and not reassessed: not current, and never 'absent'."""
    old = finding("saddle", "saddle-anaesthesia", at(20), True)
    response = run("order-select", [LBP_3W, old], [mri()])
    assert "RF-CAUDA-EQUINA" not in fired(response)
    detail = card(response, "IMG-NOT-INDICATED")["detail"]
    assert "kun tidligere dokumenteret (ikke aktuelt vurderet): føleforstyrrelser i ridebukseområdet" in detail
    assert "undersøgt og ikke fundet" not in detail


def test_entered_in_error_and_cancelled_never_count():
    wrong = finding("saddle", "saddle-anaesthesia", at(0, 1), True, status="entered-in-error")
    cancelled = finding("bladder", "bladder-dysfunction", at(0, 1), True, status="cancelled")
    assert "RF-CAUDA-EQUINA" not in fired(run("patient-view", [LBP_3W, wrong, cancelled]))


def test_an_amendment_replaces_the_preliminary_entry_at_the_same_time():
    preliminary = finding("saddle-p", "saddle-anaesthesia", at(0, 3), True, status="preliminary")
    amended = finding("saddle-a", "saddle-anaesthesia", at(0, 3), False, status="amended")
    assert "RF-CAUDA-EQUINA" not in fired(run("patient-view", [LBP_3W, preliminary, amended]))


# -- episodes -----------------------------------------------------------------------------
@MODES
def test_a_closed_episode_does_not_decide_about_the_current_one(mode):
    """Last year's sciatica (abated, no clinicalStatus) and its 'no improvement' must not make today's MRI indicated."""
    last_year = condition("sci-2025", ICPC2, "L86", onset=day(420), clinical=None, abatementDateTime=day(330))
    stale = finding("nsi-2025", "no-satisfactory-improvement", at(360), True)
    response = run("order-select", [last_year, stale, LBP_3W], [mri()], mode=mode)
    assert fired(response) == ["IMG-NOT-INDICATED"]
    assert "(3 uger)" in card(response, "IMG-NOT-INDICATED")["detail"]


@MODES
def test_abatement_without_clinical_status_ends_the_episode(mode):
    """A 3-week episode is measured from its own onset, not from an abated one two years back."""
    old = condition("lbp-2024", ICPC2, "L03", onset=day(730), clinical=None, abatementDateTime=day(700))
    response = run("order-select", [old, LBP_3W], [mri()], mode=mode)
    detail = card(response, "IMG-NOT-INDICATED")["detail"]
    assert "(3 uger)" in detail and "104 uger" not in detail


def test_recoding_back_pain_as_sciatica_does_not_restart_the_clock():
    first = condition("lbp", ICPC2, "L03", onset=day(70))
    recoded = condition("sci", ICPC2, "L86", onset=day(20))  # re-coded three weeks ago
    nsi = finding("nsi", "no-satisfactory-improvement", at(2), True)
    assert "IMG-NERVE-ROOT-INDICATED" in fired(run("order-select", [first, recoded, nsi], [mri()]))


def test_an_ended_sick_leave_is_not_ongoing():
    leave = observation("leave", LBP, "sick-leave", at(0), valueBoolean=True)
    del leave["effectiveDateTime"]
    leave["effectivePeriod"] = {"start": day(60), "end": day(10)}
    assert "FU-SICK-LEAVE" not in fired(run("patient-view", [LBP_3W, leave]))
    leave["effectivePeriod"] = {"start": day(60), "end": day(-10)}
    assert "FU-SICK-LEAVE" in fired(run("patient-view", [LBP_3W, leave]))


# -- history that matters --------------------------------------------------------------------
@MODES
@pytest.mark.parametrize("status", ["resolved", "remission"])
def test_previous_cancer_is_history_not_current_cancer_and_is_not_dropped(mode, status):
    """SST 004 L407-L409: previous cancer raises the risk; it is listed, not called current cancer."""
    cancer = condition("ca", SKS, "DC795", onset=day(1500), clinical=status)
    response = run("order-select", [LBP_3W, cancer], [mri()], mode=mode)
    assert "RF-SERIOUS-PATHOLOGY" not in fired(response)
    detail = card(response, "IMG-NOT-INDICATED")["detail"]
    assert "kun tidligere dokumenteret (ikke aktuelt vurderet): kræft" in detail
    assert "også registreret" not in detail  # not listed as a current red flag


@MODES
def test_a_suspected_cancer_is_an_acute_work_up(mode):
    """DSAM L391, L644: a provisional diagnosis of cancer is 'mistanke om cancer'."""
    suspected = condition("ca-susp", SKS, "DC795", onset=day(3), verification="provisional")
    response = run("patient-view", [LBP_3W, suspected], mode=mode)
    assert "RF-SUSPECTED-SERIOUS" in fired(response) and "RF-SERIOUS-PATHOLOGY" not in fired(response)
    assert card(response, "RF-SUSPECTED-SERIOUS")["indicator"] == "critical"


# -- measurements over diagnoses -------------------------------------------------------------
@MODES
def test_a_grade_4_measured_after_a_paresis_diagnosis_is_no_acute_paresis(mode):
    """DSAM L305: grade 4 is mild root involvement; L394/L644 need grade ≤ 3 within 48 h."""
    foot_drop = condition("fd", SNOMED, "6077001", onset=at(0, 20))
    measured = strength("str-1", 4, at(0, 2))
    response = run("patient-view", [SCIATICA_7W, foot_drop, measured], mode=mode)
    assert "RF-ACUTE-PARESIS" not in fired(response) and "RF-PARESIS-NON-ACUTE" not in fired(response)


def test_a_grade_3_measured_after_a_paresis_diagnosis_is_stated_on_the_card():
    foot_drop = condition("fd", SNOMED, "6077001", onset=at(0, 20))
    measured = strength("str-1", 3, at(0, 2))
    response = run("patient-view", [SCIATICA_7W, foot_drop, measured])
    assert "målt siden: grad 3" in card(response, "RF-ACUTE-PARESIS")["detail"]


@MODES
def test_a_falling_strength_series_is_a_progressive_deficit(mode):
    """DSAM L395, L644: 5 → 4 → 3 → 2 over twelve days is a progressive deficit: acute referral."""
    series = [strength(f"s{i}", grade, at(days)) for i, (grade, days) in enumerate([(5, 12), (4, 8), (3, 4), (2, 0.1)])]
    response = run("patient-view", [SCIATICA_7W, *series], mode=mode)
    assert "RF-PROGRESSIVE-DEFICIT" in fired(response)
    progressive = card(response, "RF-PROGRESSIVE-DEFICIT")
    assert progressive["indicator"] == "critical" and "grad 5" in progressive["summary"] + progressive["detail"]
    assert "til 2" in progressive["summary"]


def test_grades_of_two_muscles_are_not_one_falling_series():
    left = strength("l", 5, at(3), site="Dorsalfleksion venstre fod")
    right = strength("r", 4, at(0, 1), site="Dorsalfleksion højre fod")
    response = run("patient-view", [SCIATICA_7W, left, right])
    assert not {"RF-PROGRESSIVE-DEFICIT", "REF-NEUROLOGIST", "RF-ACUTE-PARESIS"} & set(fired(response))


def test_a_grade_3_that_is_not_new_gets_a_non_acute_hospital_assessment():
    """DSAM L305, L647: grade ≤ 3 needs hospital assessment; not new and not falling, it is not acute."""
    grades = [strength("s1", 3, at(20)), strength("s2", 3, at(3))]
    response = run("patient-view", [SCIATICA_7W, *grades])
    assert "RF-PARESIS-NON-ACUTE" in fired(response) and "RF-ACUTE-PARESIS" not in fired(response)
    assert card(response, "RF-PARESIS-NON-ACUTE")["indicator"] == "warning"


def test_a_one_grade_fall_without_alarm_signs_suggests_a_neurologist():
    """DSAM L618, L623: progressive symptoms without acute alarm signs → practising neurologist."""
    grades = [strength("s1", 5, at(10)), strength("s2", 4, at(1))]
    response = run("patient-view", [SCIATICA_7W, *grades])
    assert "REF-NEUROLOGIST" in fired(response) and "RF-PROGRESSIVE-DEFICIT" not in fired(response)


# -- the order's own reason -------------------------------------------------------------------
@MODES
def test_an_mri_for_cauda_equina_is_judged_on_its_reason(mode):
    """The problem list holds plain back pain; the order says SKS DG834 cauda equina: acute, not 'not indicated'."""
    order = mri(reasonCode=[cc(SKS, "DG834", "Cauda equina syndrom")])
    response = run("order-select", [LBP_3W], [order], mode=mode)
    assert fired(response) == ["IMG-INDICATED-RED-FLAG"]
    assert card(response, "IMG-INDICATED-RED-FLAG")["indicator"] == "critical"


@MODES
def test_an_mri_for_nerve_root_compression_at_week_7_without_improvement_is_indicated(mode):
    order = mri(reasonCode=[cc(SKS, "DM511", "Lumbal diskusprolaps med radikulopati")])
    lbp_7w = condition("lbp", ICPC2, "L03", onset=day(50))
    nsi = finding("nsi", "no-satisfactory-improvement", at(1), True)
    assert fired(run("order-select", [lbp_7w, nsi], [order], mode=mode)) == ["IMG-NERVE-ROOT-INDICATED"]


def test_a_reason_reference_to_a_condition_counts_for_the_order():
    ces = condition("ces", SKS, "DG834", onset=at(0, 5))
    order = mri(reasonReference=[{"reference": "Condition/ces"}])
    assert fired(run("order-sign", [LBP_3W, ces], [order])).count("IMG-INDICATED-RED-FLAG") == 1


# -- medicines by reference ------------------------------------------------------------------
PREGABALIN = {"resourceType": "Medication", "id": "lyrica", "code": cc(ATC, "N03AX16", "Pregabalin")}


@MODES
def test_a_medication_reference_is_resolved_from_the_medications_data(mode):
    order = drug("rx-1", medicationReference={"reference": "Medication/lyrica"})
    response = run("order-select", [LBP_3W, PREGABALIN], [order], mode=mode)
    assert "MED-GABAPENTINOID" in fired(response)


def test_a_medication_reference_is_resolved_from_a_contained_or_draft_medication():
    contained = drug("rx-1", medicationReference={"reference": "#m"}, contained=[{**PREGABALIN, "id": "m"}])
    assert "MED-GABAPENTINOID" in fired(run("order-select", [LBP_3W], [contained]))
    beside = drug("rx-2", medicationReference={"reference": "Medication/lyrica"})
    assert "MED-GABAPENTINOID" in fired(run("order-select", [LBP_3W], [beside, PREGABALIN]))


def test_an_unresolved_medication_reference_is_reported_not_guessed():
    order = drug("rx-1", medicationReference={"reference": "Medication/unknown"})
    response = run("order-select", [LBP_3W], [order])
    assert not [r for r in fired(response) if r.startswith("MED-")]
    assert any("Medication/unknown" in p for p in problems(response))


# -- standard codes for comorbidity ---------------------------------------------------------
@MODES
@pytest.mark.parametrize(("system", "code"), [(ICPC2, "K77"), (SKS, "DN184"), (ICPC2, "W78")],
                         ids=["icpc2-heart-failure", "sks-ckd", "icpc2-pregnancy"])
def test_nsaid_caution_from_standard_codes(mode, system, code):
    """DSAM L610: caution with NSAID in heart, kidney disease, pregnancy — coded as a Danish EHR codes them."""
    comorbidity = condition("co", system, code, onset=day(100))
    response = run("order-select", [LBP_3W, comorbidity], [drug("ibu", "M01AE01")], mode=mode)
    assert "MED-NSAID-CAUTION" in fired(response)


def test_nsaid_caution_from_an_anticoagulant_at_full_depth():
    warfarin = {**drug("w", "B01AA03"), "status": "active", "authoredOn": day(200)}
    assert "MED-NSAID-CAUTION" in fired(run("order-select", [LBP_3W, warfarin], [drug("ibu", "M01AE01")]))


# -- dates ----------------------------------------------------------------------------------
def test_a_time_without_zone_is_danish_local_time_and_said():
    saddle = finding("saddle", "saddle-anaesthesia", (at(0, 3))[:19], True)  # "2026-11-22T07:15:00"
    response = run("patient-view", [LBP_3W, saddle])
    assert "RF-CAUDA-EQUINA" in fired(response)
    assert any("Observation/saddle" in p and "Europe/Copenhagen" in p for p in problems(response))


def test_a_summer_time_without_zone_gets_the_summer_offset():
    from service import fhir

    model, _ = fhir.parse({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                           "effectiveDateTime": "2026-07-01T09:00:00"})
    assert model is not None and model.effectiveDateTime.utcoffset().total_seconds() == 7200


def test_a_month_only_onset_is_a_range_and_the_card_says_so():
    """Onset "2026-09": 7–11 weeks. 'At least 6 weeks' is certain; the exact week is not."""
    lbp = condition("lbp", ICPC2, "L03", onset="2026-09")
    response = run("order-select", [lbp], [mri()])
    detail = card(response, "IMG-NOT-INDICATED")["detail"]
    assert "september 2026" in detail and "7–11 uger" in detail and "1. september" not in detail
    assert "interval" in detail


def test_a_range_that_straddles_a_threshold_claims_neither_side():
    """Onset "2026-10": 3–7 weeks. Neither 'under 6 weeks' nor 'from 6 weeks' may be claimed."""
    lbp = condition("lbp", ICPC2, "L03", onset="2026-10")
    physio = {"resourceType": "ServiceRequest", "id": "pt", "status": "draft", "intent": "order",
              "code": cc(SNOMED, "308447003"), "subject": {"reference": "Patient/p1"}}
    assert "REF-PHYSIO-ACUTE" not in fired(run("order-select", [lbp], [physio]))
    assert "REF-EXERCISE-THERAPY" not in fired(run("patient-view", [lbp]))


# -- the new rules' near misses ---------------------------------------------------------------
def test_surgical_assessment_overdue_after_week_12():
    """NKR 2016 R10 (L100-L102, no longer in force): within 12 weeks; past it the assessment is overdue."""
    sciatica = condition("sci", ICPC2, "L86", onset=day(13 * 7))
    severe = finding("sev", "severe-disabling-pain", at(3), True)
    nsi = finding("nsi", "no-satisfactory-improvement", at(3), True)
    response = run("patient-view", [sciatica, severe, nsi])
    assert "REF-SURGICAL-ASSESSMENT-OVERDUE" in fired(response)
    assert "REF-SURGICAL-ASSESSMENT-12W" not in fired(response)
    assert "ikke længere gældende" in card(response, "REF-SURGICAL-ASSESSMENT-OVERDUE")["detail"]


def test_surgical_assessment_overdue_is_silent_when_done_or_improving():
    sciatica = condition("sci", ICPC2, "L86", onset=day(13 * 7))
    severe = finding("sev", "severe-disabling-pain", at(3), True)
    improving = finding("nsi", "no-satisfactory-improvement", at(1), False)
    assert "REF-SURGICAL-ASSESSMENT-OVERDUE" not in fired(run("patient-view", [sciatica, severe, improving]))


def test_neurologist_is_silent_when_an_alarm_sign_is_present():
    atypical = finding("atyp", "atypical-neurological-symptoms", at(2), True)
    saddle = finding("saddle", "saddle-anaesthesia", at(0, 1), True)
    assert "REF-NEUROLOGIST" in fired(run("patient-view", [SCIATICA_7W, atypical]))
    assert "REF-NEUROLOGIST" not in fired(run("patient-view", [SCIATICA_7W, atypical, saddle]))


def test_a_medicine_missing_from_the_prefetch_is_read_from_the_fhir_server():
    """Prefetch came without the Medication (no _include): the service reads Medication/{id} itself."""
    from service.engine import Options, evaluate_request
    from service.registry import SERVICES
    from tests.ehr import KB, NOW, TERMS, FakeFhirServer, request

    order = drug("rx-1", medicationReference={"reference": "Medication/lyrica"})
    body = request("order-select", [LBP_3W], [order])
    body["fhirServer"] = "https://fhir.region.example.dk/r4"
    server = FakeFhirServer([PREGABALIN])
    result = evaluate_request(body, SERVICES["lbp-order-select"], KB, TERMS, Options(explain=True, strict=True),
                              now=NOW, source=server)
    assert server.queries == ["Medication/lyrica"]
    assert "MED-GABAPENTINOID" in fired(result.response)
    assert not problems(result.response)
