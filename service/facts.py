"""Build the :class:`~service.record.PatientRecord` from the FHIR data that arrived.

This is where the data contract (``docs/data-contract.md``) becomes code: which status
counts, which date is the onset, when an episode ends, when an Observation says "present"
or "checked and absent", what an order is for. Codes become concept ids through the
terminology lookup; after this module nothing looks at a code again. Every repair of what
an EHR sent (a time without a zone, a medicine reference that could not be resolved) is
reported as a data problem, never made silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from . import fhir, selection
from .concepts import ANSWER_CONCEPTS, EPISODE_CONCEPTS, HISTORY_OF, Concept
from .record import (
    NO_EPISODE_LIMITS,
    Assertion,
    CareEvent,
    Certainty,
    DraftOrder,
    Episode,
    EpisodeLimits,
    Measurement,
    Medication,
    OnsetBasis,
    PatientRecord,
    Precision,
    UnreadableOrder,
)

ACTIVE_CONDITION = {"active", "recurrence", "relapse"}
ENDED_CONDITION = {"inactive", "remission", "resolved"}
NOT_TRUE = {"refuted", "entered-in-error"}
SUSPECTED = {"provisional", "differential"}
OBSERVATION_OK = {"final", "amended", "corrected", "preliminary"}
#: An amendment outranks what it amends when both carry the same time.
OBSERVATION_RANK = {"preliminary": 0, "final": 1, "amended": 2, "corrected": 2}
MEDICATION_ACTIVE = {"active", "on-hold"}
MEDICATION_RECORDED = MEDICATION_ACTIVE | {"completed", "stopped"}
CARE_STATUS = {"active", "completed", "on-hold"}
PROCEDURE_STATUS = {"completed", "in-progress", "preparation"}
ENCOUNTER_STATUS = {"planned", "arrived", "triaged", "in-progress", "onleave", "finished"}
ORDER_TYPES = {"ServiceRequest", "MedicationRequest"}
#: What a draft order without ``intent`` is read as: an order being written (the sandbox sets none
#: until a drug is picked). The rules do not read ``intent``; R4 requires it, so the parser does.
DRAFT_INTENT = "order"
#: A reason (``reasonCode``/``reasonReference``) that names something lbp-cds does not know (knee
#: osteoarthritis, a local code, free text): an indication *other* than back pain is recorded.
OTHER_REASON = "other-reason"
#: Free-text reasons that are about the back after all (Danish and English).
BACK_WORDS = re.compile(r"(ryg|lænd|laend|iskias|ischias|nerverod|lumb|back|sciatica|radicul)", re.IGNORECASE)
#: Findings that are not back-pain documentation (comorbidity, risk factors): they do not keep an episode open.
NOT_BACK_DOCUMENTATION = frozenset({
    Concept.GI_RISK, Concept.CARDIOVASCULAR_DISEASE, Concept.KIDNEY_DISEASE, Concept.PREGNANCY, Concept.SICK_LEAVE,
})


class ConceptLookup(Protocol):
    """What the builder needs from :class:`service.terminology.Terminology`."""

    def concepts_in(self, codings: Iterable[Mapping[str, Any]]) -> frozenset[str]: ...

    def concepts_of(self, system: str | None, code: str | None) -> frozenset[str]: ...


@dataclass
class _Draft:
    """Mutable collector; frozen into a PatientRecord at the end."""

    terms: ConceptLookup
    facts: dict[str, list[Assertion]] = field(default_factory=dict)
    episodes: list[Episode] = field(default_factory=list)
    strength: list[Measurement] = field(default_factory=list)
    pain: list[Measurement] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    ended_medications: list[Medication] = field(default_factory=list)
    care: list[CareEvent] = field(default_factory=list)
    #: ``Type/id`` → concepts asserted present by that resource (for reasonReference).
    referable: dict[str, frozenset[str]] = field(default_factory=dict)
    #: ``Medication/id`` → ATC class concepts and display (for medicationReference).
    medicines: dict[str, tuple[frozenset[str], str | None]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unreadable: list[UnreadableOrder] = field(default_factory=list)
    #: When something back-pain related was recorded (keeps an episode open, record.open_episodes).
    activity: list[datetime] = field(default_factory=list)
    #: When the patient was seen or booked for back pain (Encounters with a back-pain reason).
    contacts: list[datetime] = field(default_factory=list)

    def active(self, *moments: datetime | None) -> None:
        self.activity += [m for m in moments if m is not None]

    def add(self, assertion: Assertion) -> None:
        self.facts.setdefault(assertion.concept, []).append(assertion)


@dataclass(frozen=True)
class BuildResult:
    record: PatientRecord
    problems: tuple[str, ...]
    #: ``Medication/id`` references no resource in the request answered (fetch them, then rebuild).
    unresolved_medications: tuple[str, ...] = ()
    #: Resources parsed, and resources left unparsed because no rule could use them (service.selection).
    parsed: int = 0
    skipped: int = 0


def _ref(model: Any) -> str:
    rtype = model.__resource_type__
    return f"{rtype}/{model.id}" if model.id else rtype


def _subject_ok(model: Any, patient_id: str | None) -> bool:
    """False only when the resource names another patient (never mix two patients' data)."""
    subject = getattr(model, "subject", None) or getattr(model, "patient", None)
    ref = getattr(subject, "reference", None) if subject is not None else None
    if not ref or not patient_id:
        return True
    return bool(ref.split("/")[-1] == patient_id)


@dataclass(frozen=True)
class _Onset:
    when: datetime | None
    latest: datetime | None
    precision: Precision
    basis: OnsetBasis


def _onset(condition: Any) -> _Onset:
    for value, basis in ((condition.onsetDateTime, "onsetDateTime"),
                         (condition.onsetPeriod.start if condition.onsetPeriod else None, "onsetPeriod.start"),
                         (condition.recordedDate, "recordedDate")):
        moment = fhir.to_moment(value)
        if moment is not None:
            precision: Precision = moment[2]  # type: ignore[assignment]
            return _Onset(moment[0], moment[1], precision, basis)  # type: ignore[arg-type]
    return _Onset(None, None, "day", "unknown")


def _abatement(condition: Any) -> tuple[datetime | None, bool]:
    """``(end, ended)``: the abatement date, and whether the condition has abated at all.

    An abatement counts whatever ``clinicalStatus`` says (FHIR's con-4 invariant ties them);
    a resolved, remitted or inactive status ends it on an unknown date.
    """
    end = fhir.to_datetime(condition.abatementDateTime)
    if end is None and condition.abatementPeriod is not None:
        end = fhir.to_datetime(condition.abatementPeriod.end) or fhir.to_datetime(condition.abatementPeriod.start)
    abated = end is not None or condition.abatementString is not None or condition.abatementAge is not None
    return end, abated or bool(fhir.codes_of(condition.clinicalStatus) & ENDED_CONDITION)


def _condition(model: Any, out: _Draft, now: datetime) -> None:
    verification = fhir.codes_of(model.verificationStatus)
    if verification & NOT_TRUE:
        return
    concepts = out.terms.concepts_in(fhir.codings(model.code))
    if not concepts:
        out.referable[_ref(model)] = frozenset({OTHER_REASON})  # a reason that is not back pain
        return
    ref = _ref(model)
    onset = _onset(model)
    end, abated = _abatement(model)
    resolved = abated and (end is None or end <= now)
    certainty: Certainty = "suspected" if verification & SUSPECTED else "confirmed"
    out.referable[ref] = concepts
    recorded = fhir.to_datetime(model.recordedDate)
    if concepts & EPISODE_CONCEPTS:
        out.active(onset.when, recorded)
    if concepts & EPISODE_CONCEPTS and certainty == "confirmed":
        out.episodes.append(Episode(concepts & EPISODE_CONCEPTS, onset.when, onset.basis, ref, end=end,
                                    ended=abated and end is None,
                                    onset_latest=onset.latest if onset.precision in ("month", "year") else None,
                                    onset_precision=onset.precision, recorded=recorded))
    for concept in concepts:
        if concept in HISTORY_OF:  # "history of cancer" is about the past by its very code
            out.add(Assertion(HISTORY_OF[concept], True, onset.when, ref, history=True))
        out.add(Assertion(concept, True, onset.when, ref, start=onset.when, end=end,
                          history=resolved and end is None, certainty=certainty))


def _answer(model: Any, terms: ConceptLookup) -> bool | None:
    """What the value or interpretation says about the Observation's own code: yes, no, or nothing."""
    if model.valueBoolean is not None:
        return bool(model.valueBoolean)
    coded = terms.concepts_in(fhir.codings(model.valueCodeableConcept, *(model.interpretation or ())))
    if Concept.ANSWER_NO in coded:
        return False
    if Concept.ANSWER_YES in coded:
        return True
    return None


def _measurement_site(model: Any) -> str:
    """The muscle or site a strength grade is about: ``bodySite`` codes or text, else the code's text."""
    site = model.bodySite
    if site is not None:
        codes = sorted(f"{c['system']}|{c['code']}" for c in fhir.codings(site) if c["code"])
        if codes:
            return ",".join(codes)
        if site.text:
            return " ".join(str(site.text).lower().split())
    text = model.code.text if model.code is not None else None
    return " ".join(str(text).lower().split()) if text else ""


def _observation(model: Any, out: _Draft, now: datetime) -> None:
    if model.status not in OBSERVATION_OK or model.dataAbsentReason is not None:
        return  # a value the EHR says is unknown is "not documented", never "present"
    terms = out.terms
    concepts = terms.concepts_in(fhir.codings(model.code)) - ANSWER_CONCEPTS
    period = model.effectivePeriod
    start = fhir.to_datetime(model.effectiveDateTime) or (fhir.to_datetime(period.start) if period else None)
    end = fhir.to_datetime(period.end) if period is not None else None
    when = start or end or fhir.to_datetime(model.issued)
    ref = _ref(model)
    number = model.valueInteger
    if number is None and model.valueQuantity is not None and model.valueQuantity.value is not None:
        number = float(model.valueQuantity.value)
    if concepts - NOT_BACK_DOCUMENTATION:
        out.active(when)
    if Concept.MUSCLE_STRENGTH in concepts:
        if number is not None and 0 <= number <= 5:
            out.strength.append(Measurement(float(number), when, ref, _measurement_site(model)))
        return
    if Concept.PAIN_SCORE in concepts:
        if number is not None and 0 <= number <= 10:
            out.pain.append(Measurement(float(number), when, ref))
        return
    answer = _answer(model, terms)
    valued = concepts and (model.valueString is not None or number is not None)
    if answer is None and valued:
        out.problems.append(f"{ref}: its value is not a yes/no answer; the finding counts as not documented")
        return
    present = answer is not False
    concepts |= terms.concepts_in(fhir.codings(model.valueCodeableConcept)) - ANSWER_CONCEPTS
    rank = OBSERVATION_RANK.get(str(model.status), 0)
    if present:
        out.referable[ref] = concepts
    for concept in concepts:
        out.add(Assertion(concept, present, when, ref, start=start, end=end, rank=rank))


def _care(model: Any, out: _Draft, now: datetime) -> None:
    rtype = model.__resource_type__
    terms = out.terms
    if rtype == "ServiceRequest":
        if model.status not in CARE_STATUS:
            return
        concepts = terms.concepts_in(fhir.codings(model.code))
        when = fhir.to_datetime(model.occurrenceDateTime) or fhir.to_datetime(model.authoredOn)
    elif rtype == "Procedure":
        if model.status not in PROCEDURE_STATUS:
            return
        concepts = terms.concepts_in(fhir.codings(model.code))
        period_start = model.performedPeriod.start if model.performedPeriod is not None else None
        when = fhir.to_datetime(model.performedDateTime) or fhir.to_datetime(period_start)
    else:  # Encounter
        if model.status not in ENCOUNTER_STATUS:
            return
        concepts = terms.concepts_in(fhir.codings(*(model.type or ())))
        when = fhir.to_datetime(model.period.start) if model.period is not None else None
    for_back_pain = bool(out.terms.concepts_in(fhir.codings(*(getattr(model, "reasonCode", None) or ())))
                         & EPISODE_CONCEPTS)
    if concepts or for_back_pain:
        out.active(when)  # care lbp-cds knows is back-pain care, or a contact for back pain
    if rtype == "Encounter" and for_back_pain and when is not None:
        out.contacts.append(when)
    if concepts:
        out.care.append(CareEvent(concepts, when, _ref(model), model.status))


def _medication_resource(model: Any, out: _Draft, now: datetime) -> None:
    out.medicines[_ref(model)] = (out.terms.concepts_in(fhir.codings(model.code)),
                                  model.code.text if model.code is not None else None)


def _medicine_of(model: Any, out: _Draft, unresolved: list[str]) -> tuple[frozenset[str], str | None]:
    """The ATC classes and name of a MedicationRequest's medicine, by code or by reference.

    ``medicationReference`` is resolved to a contained ``#id``, or a Medication elsewhere in
    the request (draft orders, prefetch, fetched). One that cannot be resolved is reported.
    """
    code = model.medicationCodeableConcept
    if code is not None:
        display = code.text or next((c.display for c in (code.coding or ()) if c.display), None)
        return out.terms.concepts_in(fhir.codings(code)), display
    reference = model.medicationReference
    target = getattr(reference, "reference", None) if reference is not None else None
    if not target:
        return frozenset(), None
    if target.startswith("#"):
        for contained in model.contained or ():
            if contained.__resource_type__ == "Medication" and contained.id == target[1:]:
                return out.terms.concepts_in(fhir.codings(contained.code)), (
                    contained.code.text if contained.code is not None else None)
    key = "Medication/" + target.rsplit("Medication/", 1)[-1] if "Medication/" in target else target
    if key in out.medicines:
        return out.medicines[key]
    unresolved.append(key)
    return frozenset(), reference.display


def _reasons(model: Any, out: _Draft) -> frozenset[str]:
    """Concepts of ``reasonCode`` and of what ``reasonReference`` points to (in this request)."""
    reasons: set[str] = set()
    for reason in getattr(model, "reasonCode", None) or ():
        known = out.terms.concepts_in(fhir.codings(reason))
        if not known and (fhir.codings(reason) or reason.text):
            known = frozenset({Concept.LOW_BACK_PAIN if BACK_WORDS.search(str(reason.text or "")) else OTHER_REASON})
        reasons |= known
    contained = {f"#{c.id}": c for c in (getattr(model, "contained", None) or ()) if c.id}
    for reference in getattr(model, "reasonReference", None) or ():
        target = reference.reference or ""
        if target in contained:
            inner = contained[target]
            reasons |= out.terms.concepts_in(fhir.codings(getattr(inner, "code", None))) or {OTHER_REASON}
            continue
        key = "/".join(target.split("/")[-2:])
        if key in out.referable:
            reasons |= out.referable[key]
        elif target:
            out.problems.append(f"{_ref(model)}: reasonReference {key} is not in the request; its reason is unknown")
    return frozenset(reasons - ANSWER_CONCEPTS)


def _medication_request(model: Any, out: _Draft, now: datetime, unresolved: list[str]) -> None:
    if model.status not in MEDICATION_RECORDED:
        return
    reasons = _reasons(model, out)
    authored = fhir.to_datetime(model.authoredOn)
    if reasons & EPISODE_CONCEPTS:
        out.active(authored)  # a prescription for back pain, even one completed since, is back-pain documentation
    concepts, display = _medicine_of(model, out, unresolved)
    if concepts:
        medication = Medication(concepts, authored, _ref(model), display, reasons)
        (out.medications if model.status in MEDICATION_ACTIVE else out.ended_medications).append(medication)


def _draft_entries(context: Mapping[str, Any]) -> list[Any]:
    """The raw resources of ``context.draftOrders`` (``None`` for an entry without one)."""
    bundle = context.get("draftOrders") or {}
    return [entry.get("resource") if isinstance(entry, dict) else None for entry in (bundle.get("entry") or ())]


def _draft_orders(
    context: Mapping[str, Any], hook: str, out: _Draft, now: datetime, unresolved: list[str]
) -> list[DraftOrder]:
    selections = set(context.get("selections") or ())
    raws = _draft_entries(context)
    # Resources beside the orders (a Medication, a Condition the order's reason points to).
    for raw in raws:
        if isinstance(raw, dict) and raw.get("resourceType") in ("Medication", "Condition", "Observation"):
            parsed = fhir.parse_one(raw)
            if parsed.model is not None:
                _HANDLERS[raw["resourceType"]](parsed.model, out, now)
    orders: list[DraftOrder] = []
    for index, raw in enumerate(raws):
        if not isinstance(raw, dict) or raw.get("resourceType") not in ORDER_TYPES:
            continue
        rtype = raw["resourceType"]
        rid = raw.get("id")
        ref = f"{rtype}/{rid}" if isinstance(rid, str) and rid else f"{rtype}/#{index}"
        selected = hook != "order-select" or not selections or ref in selections
        if rtype == "MedicationRequest" and not fhir.prune(
                {k: raw.get(k) for k in ("medicationCodeableConcept", "medicationReference")}):
            # The prescriber has not picked a drug yet (the sandbox's Rx View calls on opening): nothing to check.
            out.problems.append(f"{ref}: no medicine chosen yet; the draft order was not checked")
            continue
        if not raw.get("intent"):
            raw = {**raw, "intent": DRAFT_INTENT}
            out.problems.append(f"{ref}: the draft order has no intent (FHIR R4 requires one); read as "
                                f"'{DRAFT_INTENT}'")
        parsed = fhir.parse_one(raw)
        out.problems += parsed.repairs
        model = parsed.model
        if model is None:
            problem = parsed.problem or f"draft order {index} skipped"
            out.problems.append(problem)
            out.unreadable.append(UnreadableOrder(ref, problem.split(": ", 1)[-1], selected))
            continue
        if rtype == "ServiceRequest":
            code = model.code
            concepts = out.terms.concepts_in(fhir.codings(code))
            display = (code.text or next((c.display for c in (code.coding or ()) if c.display), None)) if code else None
        else:
            concepts, display = _medicine_of(model, out, unresolved)
        reasons = _reasons(model, out)
        if rtype == "MedicationRequest" and not reasons:
            reasons = _renewal_reasons(model, concepts, out)
        orders.append(DraftOrder(ref, rtype, concepts, reasons, display, selected, raw))
    return orders


def _renewal_reasons(model: Any, concepts: frozenset[str], out: _Draft) -> frozenset[str]:
    """What a draft prescription without a reason is for, when it renews one that has a reason.

    The prescription it names (``priorPrescription``), else the active prescriptions of the same
    medicine class: when every one of those with a reason is for something other than back pain
    (knee osteoarthritis), the draft is a renewal for that, not a back-pain medicine.
    """
    prior = getattr(getattr(model, "priorPrescription", None), "reference", None)
    if prior:
        key = "/".join(str(prior).split("/")[-2:])
        named = [m for m in out.medications if m.source == key]
        if named:
            return named[0].reasons
    same = [m for m in out.medications if m.concepts & concepts]
    if same and all(m.reasons and not m.reasons & EPISODE_CONCEPTS for m in same):
        return frozenset().union(*(m.reasons for m in same))
    return frozenset()


def _birth_and_sex(patients: list[Any], patient_id: str | None) -> tuple[Any, str | None]:
    chosen = next((p for p in patients if p.id == patient_id), patients[0] if patients else None)
    if chosen is None:
        return None, None
    return fhir.to_date(chosen.birthDate), chosen.gender


_HANDLERS = {
    "Condition": _condition,
    "Observation": _observation,
    "ServiceRequest": _care,
    "Procedure": _care,
    "Encounter": _care,
    "Medication": _medication_resource,
}
#: Resources others refer to are read first, so references resolve whatever the order sent.
_FIRST = {"Medication": 0, "Condition": 1, "Observation": 2}


def build_record(
    resources: Iterable[Mapping[str, Any]],
    context: Mapping[str, Any],
    hook: str,
    terms: ConceptLookup,
    now: datetime,
    unavailable: Iterable[str] = (),
    incomplete: Iterable[str] = (),
    validity: Mapping[str, int] | None = None,
    episode_limits: EpisodeLimits = NO_EPISODE_LIMITS,
    *,
    everything: bool = False,
) -> BuildResult:
    """Turn raw FHIR resources and the hook context into one PatientRecord.

    ``validity`` is the concept → days table of ``cards/_meta/validity.json`` (loaded once
    with the knowledge base); without it no finding ever expires. Only the resources a rule
    could use are parsed (:mod:`service.selection`); ``everything`` parses them all, the
    reference the selection is tested against.
    """
    patient_id = context.get("patientId")
    raws = list(resources)
    if everything:
        chosen = selection.Selection(tuple(raws), 0)
    else:
        chosen = selection.select(raws, _draft_entries(context), terms)
    models, problems = fhir.parse_all(chosen.kept)
    out = _Draft(terms)
    out.problems += problems
    patients = []
    unresolved: list[str] = []
    models.sort(key=lambda m: _FIRST.get(m.__resource_type__, 9))
    for model in models:
        rtype = model.__resource_type__
        if rtype == "Patient":
            patients.append(model)
            continue
        if rtype not in _HANDLERS and rtype != "MedicationRequest":
            continue
        if not _subject_ok(model, patient_id):
            out.problems.append(f"{rtype}/{model.id} skipped: it belongs to another patient")
            continue
        if rtype == "MedicationRequest":
            _medication_request(model, out, now, unresolved)
        else:
            _HANDLERS[rtype](model, out, now)
    orders = _draft_orders(context, hook, out, now, unresolved)
    missing = tuple(dict.fromkeys(unresolved))
    out.problems += [f"{key} (medicationReference) could not be resolved; that medicine is not classified"
                     for key in missing]
    birth, sex = _birth_and_sex(patients, patient_id)
    record = PatientRecord(
        now=now,
        patient_id=patient_id,
        birth_date=birth,
        sex=sex,
        episodes=tuple(out.episodes),
        facts={k: tuple(v) for k, v in out.facts.items()},
        strength=tuple(sorted(out.strength, key=lambda m: m.when or now)),
        pain=tuple(sorted(out.pain, key=lambda m: m.when or now)),
        medications=tuple(out.medications),
        ended_medications=tuple(out.ended_medications),
        care=tuple(out.care),
        draft_orders=tuple(orders),
        unreadable_orders=tuple(out.unreadable),
        unavailable=frozenset(unavailable),
        incomplete=frozenset(incomplete),
        validity=dict(validity or {}),
        activity=tuple(sorted(set(out.activity))),
        contacts=tuple(sorted(set(out.contacts))),
        episode_limits=episode_limits,
    )
    return BuildResult(record, tuple(dict.fromkeys(out.problems)), missing, len(chosen.kept), chosen.skipped)
