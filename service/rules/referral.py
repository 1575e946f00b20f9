"""Referrals and pathway advice: the right treatment at the right time in the right place.

patient-view rules point to the next step of the pathway (surgical assessment within 12
weeks, back-medicine assessment, supervised exercise); order rules check a draft referral
against the time windows of DSAM 2026 and, for nerve-root pain, the 2016 NKR.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ..concepts import Concept
from ..record import DraftOrder, PatientRecord
from .base import Finding, Params, rule
from .common import (
    Duration,
    back_pain_duration,
    conservative_treatment,
    duration_facts,
    episode_duration,
    improvement,
    nerve_root_involvement,
    severe_disabling_pain,
)
from .red_flags import acute_flags, serious_flags, suspected_flags
from .strength import mild_progression

SPECIALIST = (Concept.RHEUMATOLOGY, Concept.SURGICAL_ASSESSMENT, Concept.BACK_MEDICINE)


def _selected(record: PatientRecord, *concepts: str) -> list[DraftOrder]:
    return [o for o in record.orders_of(concepts) if o.selected and o.resource_type == "ServiceRequest"]


def _non_specific(record: PatientRecord, params: Params) -> bool:
    """No nerve-root, stenosis, red-flag or inflammatory diagnosis documented."""
    return not (
        nerve_root_involvement(record)
        or record.episodes_of([Concept.SPINAL_STENOSIS])
        or record.has(Concept.AXIAL_SPONDYLOARTHRITIS)
        or acute_flags(record, params)
        or serious_flags(record, params)
        or suspected_flags(record)
    )


def _surgical_situation(record: PatientRecord, params: Params) -> tuple[Duration, int] | None:
    """Nerve-root pain, severe and disabling in this episode, not improving, no surgical assessment yet.

    Answers ``(duration, whole weeks)``; ``None`` when NKR R10's situation is not documented
    (or acute referral is due instead: the RF-* cards).
    """
    if not nerve_root_involvement(record) or record.care_of([Concept.SURGICAL_ASSESSMENT]):
        return None
    duration = episode_duration(record)
    weeks = duration.whole_weeks
    if duration.onset is None or weeks is None or not severe_disabling_pain(record):
        return None
    if acute_flags(record, params):
        return None
    improved = improvement(record, since=duration.onset, min_fall=float(params["min_pain_fall"]))
    if improved.unsatisfactory is False:
        return None
    return duration, weeks


@rule("REF-SURGICAL-ASSESSMENT-12W")
def surgical_assessment(record: PatientRecord, params: Params) -> Iterator[Finding]:
    situation = _surgical_situation(record, params)
    if situation is None:
        return
    duration, weeks = situation
    deadline_weeks = int(params["deadline_weeks"])
    if not int(params["from_weeks"]) <= weeks < deadline_weeks:
        yield Finding("REF-SURGICAL-ASSESSMENT-12W", facts={"weeks": weeks}, fired=False)
        return
    deadline = (duration.onset or record.now) + timedelta(weeks=deadline_weeks)
    yield Finding(
        "REF-SURGICAL-ASSESSMENT-12W",
        facts={**duration_facts(duration), "deadline": deadline, "deadline_weeks": deadline_weeks},
        notes=duration.notes(),
        variant=None if conservative_treatment(record, since=duration.onset) else "no_treatment_documented",
    )


@rule("REF-SURGICAL-ASSESSMENT-OVERDUE")
def surgical_assessment_overdue(record: PatientRecord, params: Params) -> Iterator[Finding]:
    """Past week 12 with the R10 situation unchanged: the assessment NKR asked for is overdue."""
    situation = _surgical_situation(record, params)
    if situation is None:
        return
    duration, weeks = situation
    deadline_weeks = int(params["deadline_weeks"])
    if weeks < deadline_weeks:
        yield Finding("REF-SURGICAL-ASSESSMENT-OVERDUE", facts={"weeks": weeks}, fired=False)
        return
    yield Finding(
        "REF-SURGICAL-ASSESSMENT-OVERDUE",
        facts={**duration_facts(duration), "deadline_weeks": deadline_weeks},
        notes=duration.notes(),
    )


@rule("REF-BACK-MEDICINE")
def back_medicine(record: PatientRecord, params: Params) -> Iterator[Finding]:
    if record.care_of([Concept.BACK_MEDICINE]) or acute_flags(record, params):
        return
    if nerve_root_involvement(record):
        duration = episode_duration(record)
        improved = improvement(record, since=duration.onset, min_fall=float(params["min_pain_fall"]))
        weeks = duration.whole_weeks
        if weeks is not None and weeks >= int(params["nerve_root_min_weeks"]) and improved.unsatisfactory is True:
            yield Finding("REF-BACK-MEDICINE", facts=duration_facts(duration), notes=duration.notes())
            return
    if record.has(Concept.WALKING_LEG_PAIN) and (record.episodes_of([Concept.SPINAL_STENOSIS])
                                                 or record.has(Concept.SPINAL_STENOSIS)):
        yield Finding("REF-BACK-MEDICINE", facts={}, variant="stenosis")


@rule("REF-EXERCISE-THERAPY")
def exercise_therapy(record: PatientRecord, params: Params) -> Iterator[Finding]:
    duration = back_pain_duration(record)
    weeks = duration.whole_weeks
    if weeks is None or duration.onset is None or acute_flags(record, params) or serious_flags(record, params):
        return
    if weeks < int(params["exercise_weeks"]):
        yield Finding("REF-EXERCISE-THERAPY", facts={"weeks": weeks}, fired=False)
        return
    if conservative_treatment(record, since=duration.onset):
        return
    yield Finding("REF-EXERCISE-THERAPY", facts={**duration_facts(duration),
                                                 "exercise_weeks": int(params["exercise_weeks"])},
                  notes=duration.notes())


@rule("REF-PHYSIO-ACUTE")
def physio_acute(record: PatientRecord, params: Params) -> Iterator[Finding]:
    duration = back_pain_duration(record)
    weeks = duration.weeks_max  # "under 6 weeks" only when the whole range is
    if weeks is None or weeks >= int(params["exercise_weeks"]) or not _non_specific(record, params):
        return
    for order in _selected(record, Concept.PHYSIOTHERAPY, Concept.SUPERVISED_EXERCISE):
        yield Finding("REF-PHYSIO-ACUTE", facts={**duration_facts(duration),
                                                 "exercise_weeks": int(params["exercise_weeks"])},
                      order_ref=order.ref, notes=duration.notes())


@rule("REF-SPECIALIST-ACUTE")
def specialist_acute(record: PatientRecord, params: Params) -> Iterator[Finding]:
    duration = back_pain_duration(record)
    weeks = duration.weeks_max  # "acute" only when the whole range is
    if weeks is None or weeks >= int(params["acute_weeks"]) or not _non_specific(record, params):
        return
    for order in _selected(record, *SPECIALIST):
        kind = next(c for c in SPECIALIST if c in order.concepts)
        yield Finding("REF-SPECIALIST-ACUTE", facts={**duration_facts(duration), "referral": kind},
                      order_ref=order.ref, notes=duration.notes())


@rule("REF-PAIN-CENTRE-EARLY")
def pain_centre_early(record: PatientRecord, params: Params) -> Iterator[Finding]:
    duration = back_pain_duration(record)
    if duration.onset is None or duration.days is None:
        return
    months = duration.days * 12 // 365  # from the earliest possible onset: "under 6 months" must be certain
    if months >= int(params["min_months"]):
        return
    for order in _selected(record, Concept.PAIN_CENTRE):
        yield Finding("REF-PAIN-CENTRE-EARLY", facts={"onset": duration.onset_shown, "months": months,
                                                      "min_months": int(params["min_months"])},
                      order_ref=order.ref, notes=duration.notes())


def _recent_nerve_root(record: PatientRecord, params: Params) -> int | None:
    """Weeks since onset of nerve-root pain, when it is certainly recent (NKR: up to 12 weeks)."""
    if not nerve_root_involvement(record):
        return None
    weeks = episode_duration(record).weeks_max
    if weeks is None or weeks > int(params["recent_weeks"]):
        return None
    return weeks


@rule("REF-ACUPUNCTURE")
def acupuncture(record: PatientRecord, params: Params) -> Iterator[Finding]:
    weeks = _recent_nerve_root(record, params)
    if weeks is None:
        return
    for order in _selected(record, Concept.ACUPUNCTURE):
        yield Finding("REF-ACUPUNCTURE", facts={"weeks": weeks}, order_ref=order.ref)


@rule("REF-GLUCOCORTICOID-INJECTION")
def glucocorticoid_injection(record: PatientRecord, params: Params) -> Iterator[Finding]:
    if not nerve_root_involvement(record):
        return
    mri_done = bool(record.care_of([Concept.LUMBAR_MRI]))
    for order in _selected(record, Concept.GLUCOCORTICOID_INJECTION):
        yield Finding("REF-GLUCOCORTICOID-INJECTION", facts={}, order_ref=order.ref,
                      variant=None if mri_done else "no_mri", suggestions=("remove-order",))


@rule("REF-NEUROLOGIST")
def neurologist(record: PatientRecord, params: Params) -> Iterator[Finding]:
    """Atypical or progressive neurological symptoms without acute alarm signs (DSAM L618, L623)."""
    if acute_flags(record, params) or suspected_flags(record) or serious_flags(record, params):
        return
    if record.care_of([Concept.NEUROLOGY_REFERRAL]):
        return
    if record.has(Concept.ATYPICAL_NEUROLOGY):
        yield Finding("REF-NEUROLOGIST", facts={"symptoms": (Concept.ATYPICAL_NEUROLOGY,)})
        return
    fall = mild_progression(record, params)
    if fall is not None:
        top, last = fall
        yield Finding("REF-NEUROLOGIST", variant="strength",
                      facts={"earlier_grade": int(top.value), "earlier": top.when, "grade": int(last.value),
                             "measured": last.when})
