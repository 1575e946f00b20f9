"""Referrals and pathway advice: the right treatment at the right time in the right place.

patient-view rules point to the next step of the pathway (surgical assessment within 12
weeks, back-medicine assessment, supervised exercise); order rules check a draft referral
against the time windows of DSAM 2026 and, for nerve-root pain, the 2016 NKR.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ..concepts import EPISODE_CONCEPTS, Concept
from ..record import DraftOrder, PatientRecord
from .base import Finding, Params, rule
from .common import back_pain_duration, conservative_treatment, improvement, nerve_root_involvement
from .red_flags import acute_flags, serious_flags

SPECIALIST = (Concept.RHEUMATOLOGY, Concept.SURGICAL_ASSESSMENT, Concept.BACK_MEDICINE)
NERVE_ROOT = frozenset({Concept.NERVE_ROOT})


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
    )


@rule("REF-SURGICAL-ASSESSMENT-12W")
def surgical_assessment(record: PatientRecord, params: Params) -> Iterator[Finding]:
    if not nerve_root_involvement(record) or record.care_of([Concept.SURGICAL_ASSESSMENT]):
        return
    duration = back_pain_duration(record, NERVE_ROOT if record.episodes_of(NERVE_ROOT) else EPISODE_CONCEPTS)
    weeks, deadline_weeks = duration.whole_weeks, int(params["deadline_weeks"])
    if duration.onset is None or weeks is None or not record.has(Concept.SEVERE_DISABLING_PAIN):
        return
    if acute_flags(record, params):
        return  # acute referral is due instead (RF-* cards)
    improved = improvement(record, since=duration.onset, min_fall=float(params["min_pain_fall"]))
    if improved.unsatisfactory is False:
        return
    if not int(params["from_weeks"]) <= weeks < deadline_weeks:
        yield Finding("REF-SURGICAL-ASSESSMENT-12W", facts={"weeks": weeks}, fired=False)
        return
    deadline = duration.onset + timedelta(weeks=deadline_weeks)
    yield Finding(
        "REF-SURGICAL-ASSESSMENT-12W",
        facts={"onset": duration.onset, "weeks": weeks, "deadline": deadline, "deadline_weeks": deadline_weeks},
        notes=duration.notes(),
        variant=None if conservative_treatment(record, since=duration.onset) else "no_treatment_documented",
    )


@rule("REF-BACK-MEDICINE")
def back_medicine(record: PatientRecord, params: Params) -> Iterator[Finding]:
    if record.care_of([Concept.BACK_MEDICINE]) or acute_flags(record, params):
        return
    if nerve_root_involvement(record):
        duration = back_pain_duration(record, NERVE_ROOT if record.episodes_of(NERVE_ROOT) else EPISODE_CONCEPTS)
        improved = improvement(record, since=duration.onset, min_fall=float(params["min_pain_fall"]))
        weeks = duration.whole_weeks
        if weeks is not None and weeks >= int(params["nerve_root_min_weeks"]) and improved.unsatisfactory is True:
            yield Finding("REF-BACK-MEDICINE", facts={"onset": duration.onset, "weeks": weeks},
                          notes=duration.notes())
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
    yield Finding("REF-EXERCISE-THERAPY", facts={"onset": duration.onset, "weeks": weeks,
                                                 "exercise_weeks": int(params["exercise_weeks"])},
                  notes=duration.notes())


@rule("REF-PHYSIO-ACUTE")
def physio_acute(record: PatientRecord, params: Params) -> Iterator[Finding]:
    duration = back_pain_duration(record)
    weeks = duration.whole_weeks
    if weeks is None or weeks >= int(params["exercise_weeks"]) or not _non_specific(record, params):
        return
    for order in _selected(record, Concept.PHYSIOTHERAPY, Concept.SUPERVISED_EXERCISE):
        yield Finding("REF-PHYSIO-ACUTE", facts={"onset": duration.onset, "weeks": weeks,
                                                 "exercise_weeks": int(params["exercise_weeks"])},
                      order_ref=order.ref, notes=duration.notes())


@rule("REF-SPECIALIST-ACUTE")
def specialist_acute(record: PatientRecord, params: Params) -> Iterator[Finding]:
    duration = back_pain_duration(record)
    weeks = duration.whole_weeks
    if weeks is None or weeks >= int(params["acute_weeks"]) or not _non_specific(record, params):
        return
    for order in _selected(record, *SPECIALIST):
        kind = next(c for c in SPECIALIST if c in order.concepts)
        yield Finding("REF-SPECIALIST-ACUTE", facts={"onset": duration.onset, "weeks": weeks, "referral": kind},
                      order_ref=order.ref, notes=duration.notes())


@rule("REF-PAIN-CENTRE-EARLY")
def pain_centre_early(record: PatientRecord, params: Params) -> Iterator[Finding]:
    duration = back_pain_duration(record)
    if duration.onset is None or duration.days is None:
        return
    months = duration.days * 12 // 365
    if months >= int(params["min_months"]):
        return
    for order in _selected(record, Concept.PAIN_CENTRE):
        yield Finding("REF-PAIN-CENTRE-EARLY", facts={"onset": duration.onset, "months": months,
                                                      "min_months": int(params["min_months"])},
                      order_ref=order.ref, notes=duration.notes())


def _recent_nerve_root(record: PatientRecord, params: Params) -> int | None:
    """Weeks since onset of nerve-root pain, when it is recent (NKR: up to 12 weeks)."""
    if not nerve_root_involvement(record):
        return None
    duration = back_pain_duration(record, NERVE_ROOT if record.episodes_of(NERVE_ROOT) else EPISODE_CONCEPTS)
    weeks = duration.whole_weeks
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
