"""Referrals and pathway advice: the right step at the right week."""

from __future__ import annotations

import pytest

from tests.factories import care, episode, fact, order, pain, record
from tests.rules.helpers import cards, fires

NERVE = "nerve-root-involvement"
SEVERE = fact("severe-disabling-pain")


@pytest.mark.parametrize(
    ("weeks", "days", "facts", "care_events", "expected"),
    [
        (9, 0, [SEVERE], [], True),
        (7, 6, [SEVERE], [], False),
        (8, 0, [SEVERE], [], True),
        (11, 6, [SEVERE], [], True),
        (12, 0, [SEVERE], [], False),
        (9, 0, [], [], False),
        (9, 0, [SEVERE, fact("no-satisfactory-improvement", False)], [], False),
        (9, 0, [SEVERE], [care("surgical-assessment", days=3)], False),
    ],
    ids=["week-9-severe", "7w6d-too-early", "8w", "11w6d", "12w-window-passed", "severe-pain-not-documented",
         "improving", "already-assessed"],
)
def test_surgical_assessment_within_12_weeks(weeks, days, facts, care_events, expected):
    rec = record(episodes=[episode(NERVE, weeks=weeks, days=days)], facts=facts, care=care_events)
    assert fires("REF-SURGICAL-ASSESSMENT-12W", rec) is expected


def test_surgical_card_gives_the_deadline_and_says_the_guideline_is_not_in_force():
    (card,) = cards("REF-SURGICAL-ASSESSMENT-12W", record(episodes=[episode(NERVE, weeks=9)], facts=[SEVERE]))
    da = card["da"]
    assert "i 9 uger" in da["summary"] and "uge 12" in da["summary"]
    # onset 9 weeks before 22 November = 20 September; 12 weeks after onset = 13 December
    assert "20. september 2026" in da["detail"] and "senest 13. december 2026" in da["detail"]
    assert "ikke længere" in da["detail"]  # NKR 2016 no longer in force


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        (record(episodes=[episode(NERVE, weeks=6)], facts=[fact("no-satisfactory-improvement")]), True),
        (record(episodes=[episode(NERVE, weeks=5, days=6)], facts=[fact("no-satisfactory-improvement")]), False),
        (record(episodes=[episode(NERVE, weeks=8)]), False),
        (record(episodes=[episode(NERVE, weeks=8)], pain=[pain(8, days=50), pain(7, days=1)]), True),
        (record(episodes=[episode("spinal-stenosis", weeks=2)], facts=[fact("walking-related-leg-pain")]), True),
        (record(episodes=[episode("spinal-stenosis", weeks=2)]), False),
        (record(episodes=[episode(NERVE, weeks=8)], facts=[fact("no-satisfactory-improvement")],
                care=[care("back-medicine-assessment")]), False),
    ],
    ids=["nerve-root-6w-no-improvement", "5w6d", "improvement-not-documented", "pain-scores-not-falling",
         "stenosis-walking-pain", "stenosis-without-walking-pain", "already-referred"],
)
def test_back_medicine(rec, expected):
    assert fires("REF-BACK-MEDICINE", rec) is expected


@pytest.mark.parametrize(
    ("weeks", "days", "care_events", "expected"),
    [(5, 6, [], False), (6, 0, [], True), (10, 0, [care("physiotherapy", days=20)], False),
     (10, 0, [care("chiropractic", days=100)], True)],
    ids=["5w6d", "6w", "physio-since-onset", "chiropractic-before-this-episode"],
)
def test_exercise_therapy_from_six_weeks(weeks, days, care_events, expected):
    rec = record(episodes=[episode("low-back-pain", weeks=weeks, days=days)], care=care_events)
    assert fires("REF-EXERCISE-THERAPY", rec) is expected


def test_exercise_therapy_is_silent_when_onset_is_unknown():
    assert not fires("REF-EXERCISE-THERAPY", record(episodes=[episode("low-back-pain", weeks=None)]))


PHYSIO = order("physiotherapy", ref="ServiceRequest/pt-1")


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        (record(episodes=[episode("low-back-pain", weeks=5, days=6)], orders=[PHYSIO]), True),
        (record(episodes=[episode("low-back-pain", weeks=6)], orders=[PHYSIO]), False),
        (record(episodes=[episode(NERVE, weeks=2)], orders=[PHYSIO]), False),
        (record(episodes=[episode("low-back-pain", weeks=None)], orders=[PHYSIO]), False),
        # Coded chronic the day it was coded: over 3 months by DSAM's definition (L100), never "acute".
        (record(episodes=[episode("chronic-low-back-pain", weeks=0)], orders=[PHYSIO]), False),
    ],
    ids=["5w6d-non-specific", "6w", "nerve-root", "onset-unknown", "chronic-code-dated-today"],
)
def test_physiotherapy_in_the_acute_phase(rec, expected):
    assert fires("REF-PHYSIO-ACUTE", rec) is expected


@pytest.mark.parametrize(("weeks", "expected"), [(11, True), (12, False)], ids=["11w-acute", "12w-no-longer-acute"])
def test_specialist_referral_for_acute_non_specific_pain(weeks, expected):
    rheuma = order("rheumatology-referral", ref="ServiceRequest/rh-1")
    rec = record(episodes=[episode("low-back-pain", weeks=weeks)], orders=[rheuma])
    assert fires("REF-SPECIALIST-ACUTE", rec) is expected


def test_specialist_referral_with_red_flag_is_not_questioned():
    surgeon = order("surgical-assessment", ref="ServiceRequest/s-1")
    rec = record(episodes=[episode("low-back-pain", weeks=2)], orders=[surgeon], facts=[fact("malignancy")])
    assert not fires("REF-SPECIALIST-ACUTE", rec)


@pytest.mark.parametrize(("weeks", "expected"), [(25, True), (27, False)], ids=["5-months", "6-months"])
def test_pain_centre_before_six_months(weeks, expected):
    rec = record(episodes=[episode("low-back-pain", weeks=weeks)],
                 orders=[order("pain-centre-referral", ref="ServiceRequest/pc-1")])
    assert fires("REF-PAIN-CENTRE-EARLY", rec) is expected


@pytest.mark.parametrize(("weeks", "expected"), [(12, True), (13, False)], ids=["12w-recent", "13w-not-recent"])
def test_acupuncture_for_recent_nerve_root_pain(weeks, expected):
    rec = record(episodes=[episode(NERVE, weeks=weeks)], orders=[order("acupuncture", ref="ServiceRequest/ac-1")])
    assert fires("REF-ACUPUNCTURE", rec) is expected


def test_glucocorticoid_injection_says_when_no_mri_is_documented():
    injection = order("glucocorticoid-injection", ref="ServiceRequest/inj-1")
    (card,) = cards("REF-GLUCOCORTICOID-INJECTION", record(episodes=[episode(NERVE, weeks=4)], orders=[injection]))
    assert card["da"]["indicator"] == "warning" and "ingen MR-skanning" in card["da"]["detail"]
    (with_mri,) = cards("REF-GLUCOCORTICOID-INJECTION", record(episodes=[episode(NERVE, weeks=4)], orders=[injection],
                                                              care=[care("lumbar-mri", days=10)]))
    assert "ingen MR-skanning" not in with_mri["da"]["detail"]
    assert not fires("REF-GLUCOCORTICOID-INJECTION", record(episodes=[episode("low-back-pain", weeks=4)],
                                                            orders=[injection]))
