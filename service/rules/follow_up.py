"""Follow-up: closer follow-up, the analgesic review, the yearly review (årsstatus), sick leave.

These cards point to a step the GP coordinates as "tovholder" (DSAM 2026 L491); each stays
silent when the record shows the step is already planned or done.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from ..concepts import ANALGESIC_CONCEPTS, EPISODE_CONCEPTS, Concept
from ..record import PatientRecord
from .base import Finding, Params, rule
from .common import back_pain_duration, improvement, nerve_root_involvement

CLOSER_TRIGGERS = (Concept.NERVE_ROOT, Concept.YELLOW_FLAG, Concept.BLUE_FLAG, Concept.MARKED_LIMITATION)


def _follow_up_planned(record: PatientRecord, since_days: float) -> bool:
    """A follow-up consultation planned, or held within ``since_days``.

    Documented as a follow-up (the consultation's type), or as what it is in most records:
    another contact for back pain in this episode, booked or held within ``since_days``.
    """
    limit = record.now - timedelta(days=since_days)
    if any(e.when is None or e.when >= limit for e in record.care_of([Concept.FOLLOW_UP])):
        return True
    start = record.episode_start()
    contacts = [t for t in record.contacts if start is None or t >= start]
    if any(t > record.now for t in contacts):
        return True  # booked
    return len(contacts) >= 2 and contacts[-1] >= limit


@rule("FU-CLOSER-FOLLOW-UP")
def closer_follow_up(record: PatientRecord, params: Params) -> Iterator[Finding]:
    if not record.episodes_of(EPISODE_CONCEPTS) or _follow_up_planned(record, float(params["planned_within_days"])):
        return
    duration = back_pain_duration(record)
    if duration.whole_weeks is not None and duration.whole_weeks >= int(params["chronic_weeks"]):
        return  # chronic pain: the yearly review and the care package apply instead
    reasons: list[str] = []
    if nerve_root_involvement(record):
        reasons.append(Concept.NERVE_ROOT)
    reasons += [c for c in CLOSER_TRIGGERS[1:] if record.has(c)]
    improved = improvement(record, since=duration.onset, min_fall=float(params["min_pain_fall"]))
    weeks = duration.whole_weeks
    if improved.unsatisfactory is True and weeks is not None and weeks >= int(params["no_improvement_weeks"]):
        reasons.append(Concept.NO_SATISFACTORY_IMPROVEMENT)
    if not reasons:
        return
    facts: dict[str, object] = {"reasons": tuple(reasons)}
    start = duration.onset
    high = [m for m in record.pain if m.value >= float(params["high_pain_score"])
            and (start is None or (m.when is not None and m.when >= start))]
    variant = None
    if high:
        facts["pain_score"] = high[-1].value
        variant = "high_pain"
    yield Finding("FU-CLOSER-FOLLOW-UP", facts=facts, variant=variant, suggestions=("plan-follow-up",))


def _reviewed_since(record: PatientRecord, prescribed: datetime) -> bool:
    """A review after ``prescribed``: a follow-up or annual review, or another back-pain contact.

    The contact must be at least a day before now: today's consultation is the one the card asks
    to be the review.
    """
    if any(e.when is not None and prescribed < e.when <= record.now
           for e in record.care_of([Concept.FOLLOW_UP, Concept.ANNUAL_REVIEW])):
        return True
    return any(prescribed < t <= record.now - timedelta(days=1) for t in record.contacts)


@rule("FU-ANALGESIC-REVIEW")
def analgesic_review(record: PatientRecord, params: Params) -> Iterator[Finding]:
    if not record.episodes_of(EPISODE_CONCEPTS):
        return
    review_days = 7 * int(params["review_weeks"])
    for medication in record.medications_of(ANALGESIC_CONCEPTS):
        if medication.authored is None or not record.for_back_pain(medication):
            continue
        days = (record.now - medication.authored).days
        if days < review_days:
            continue
        if _reviewed_since(record, medication.authored):
            continue
        kind = next(c for c in (Concept.OPIOID, Concept.GABAPENTINOID, Concept.BENZODIAZEPINE,
                                Concept.MUSCLE_RELAXANT, Concept.NSAID, Concept.PARACETAMOL)
                    if c in medication.concepts)
        yield Finding("FU-ANALGESIC-REVIEW", facts={"medicine": medication.display or kind,
                                                    "since": medication.authored, "weeks": days // 7,
                                                    "review_weeks": int(params["review_weeks"])})


@rule("FU-ANNUAL-REVIEW")
def annual_review(record: PatientRecord, params: Params) -> Iterator[Finding]:
    duration = back_pain_duration(record)
    chronic = bool(record.episodes_of([Concept.CHRONIC_LOW_BACK_PAIN])) or (
        duration.whole_weeks is not None and duration.whole_weeks >= int(params["chronic_weeks"])
    )
    if not chronic:
        return
    limit = record.now - timedelta(days=int(params["interval_days"]))
    reviews = sorted(e.when for e in record.care_of([Concept.ANNUAL_REVIEW]) if e.when)
    if reviews and reviews[-1] >= limit:
        return
    if reviews:
        yield Finding("FU-ANNUAL-REVIEW", facts={"last_review": reviews[-1]}, variant="overdue")
    else:
        yield Finding("FU-ANNUAL-REVIEW", facts={})


@rule("FU-SICK-LEAVE")
def sick_leave(record: PatientRecord, params: Params) -> Iterator[Finding]:
    """On sick leave now, for longer than ``weeks``: consecutive certificates count as one leave."""
    current = record.current(Concept.SICK_LEAVE)
    if current is None or not current.present:
        return  # none recorded, the leave has ended, or the latest record says the patient is back at work
    start = None
    for assertion in reversed(record.timeline(Concept.SICK_LEAVE)):
        if not assertion.present:
            break
        begun = assertion.start or assertion.when
        if begun is not None and (start is None or begun < start):
            start = begun
    if start is None:
        return
    days = (record.now - start).days
    if days <= 7 * int(params["weeks"]):
        return
    yield Finding("FU-SICK-LEAVE", facts={"since": start, "weeks": days // 7})
