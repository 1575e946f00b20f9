"""Build the :class:`~service.record.PatientRecord` from the FHIR data that arrived.

This is where the data contract (``docs/data-contract.md``) becomes code: which status
counts, which date is the onset, when an Observation says "present" or "checked and
absent". Codes become concept ids through the terminology lookup; after this module
nothing looks at a code again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from . import fhir
from .concepts import EPISODE_CONCEPTS, Concept
from .record import CareEvent, DraftOrder, Episode, Fact, Measurement, Medication, OnsetBasis, PatientRecord

ACTIVE_CONDITION = {"active", "recurrence", "relapse"}
NOT_TRUE = {"refuted", "entered-in-error"}
OBSERVATION_OK = {"final", "amended", "corrected", "preliminary"}
MEDICATION_ACTIVE = {"active", "on-hold"}
CARE_STATUS = {"active", "completed", "on-hold"}
PROCEDURE_STATUS = {"completed", "in-progress", "preparation"}
ENCOUNTER_STATUS = {"planned", "arrived", "triaged", "in-progress", "onleave", "finished"}
ORDER_TYPES = {"ServiceRequest", "MedicationRequest"}


class ConceptLookup(Protocol):
    """What the builder needs from :class:`service.terminology.Terminology`."""

    def concepts_in(self, codings: Iterable[Mapping[str, Any]]) -> frozenset[str]: ...


@dataclass
class _Draft:
    """Mutable collector; frozen into a PatientRecord at the end."""

    facts: dict[str, list[Fact]] = field(default_factory=dict)
    episodes: list[Episode] = field(default_factory=list)
    strength: list[Measurement] = field(default_factory=list)
    pain: list[Measurement] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    care: list[CareEvent] = field(default_factory=list)
    condition_concepts: dict[str, frozenset[str]] = field(default_factory=dict)

    def add_fact(self, fact: Fact) -> None:
        self.facts.setdefault(fact.concept, []).append(fact)


@dataclass(frozen=True)
class BuildResult:
    record: PatientRecord
    problems: tuple[str, ...]


def _subject_ok(model: Any, patient_id: str | None) -> bool:
    """False only when the resource names another patient (never mix two patients' data)."""
    subject = getattr(model, "subject", None) or getattr(model, "patient", None)
    ref = getattr(subject, "reference", None) if subject is not None else None
    if not ref or not patient_id:
        return True
    return bool(ref.split("/")[-1] == patient_id)


def _onset(condition: Any) -> tuple[datetime | None, OnsetBasis]:
    if condition.onsetDateTime is not None:
        return fhir.to_datetime(condition.onsetDateTime), "onsetDateTime"
    if condition.onsetPeriod is not None and condition.onsetPeriod.start is not None:
        return fhir.to_datetime(condition.onsetPeriod.start), "onsetPeriod.start"
    if condition.recordedDate is not None:
        return fhir.to_datetime(condition.recordedDate), "recordedDate"
    return None, "unknown"


def _condition(model: Any, terms: ConceptLookup, out: _Draft) -> None:
    if fhir.codes_of(model.verificationStatus) & NOT_TRUE:
        return
    clinical = fhir.codes_of(model.clinicalStatus)
    if clinical and not clinical & ACTIVE_CONDITION:
        return
    concepts = terms.concepts_in(fhir.codings(model.code))
    if not concepts:
        return
    ref = f"Condition/{model.id}" if model.id else "Condition"
    if model.id:
        out.condition_concepts[model.id] = concepts
    onset, basis = _onset(model)
    if concepts & EPISODE_CONCEPTS:
        out.episodes.append(Episode(concepts & EPISODE_CONCEPTS, onset, basis, ref))
    for concept in concepts:
        out.add_fact(Fact(concept, True, onset, ref, start=onset))


def _observation(model: Any, terms: ConceptLookup, out: _Draft) -> None:
    if model.status not in OBSERVATION_OK or model.dataAbsentReason is not None:
        return  # a value the EHR says is unknown is "not documented", never "present"
    concepts = terms.concepts_in(fhir.codings(model.code))
    when = fhir.to_datetime(model.effectiveDateTime)
    start = when
    if model.effectivePeriod is not None:
        start = fhir.to_datetime(model.effectivePeriod.start)
        when = when or fhir.to_datetime(model.effectivePeriod.end) or start
    when = when or fhir.to_datetime(model.issued)
    ref = f"Observation/{model.id}" if model.id else "Observation"
    number = model.valueInteger
    if number is None and model.valueQuantity is not None and model.valueQuantity.value is not None:
        number = float(model.valueQuantity.value)
    if Concept.MUSCLE_STRENGTH in concepts:
        if number is not None and 0 <= number <= 5:
            out.strength.append(Measurement(float(number), when, ref))
        return
    if Concept.PAIN_SCORE in concepts:
        if number is not None and 0 <= number <= 10:
            out.pain.append(Measurement(float(number), when, ref))
        return
    present = model.valueBoolean is not False
    concepts |= terms.concepts_in(fhir.codings(model.valueCodeableConcept))
    for concept in concepts:
        out.add_fact(Fact(concept, present, when, ref, start=start))


def _care(model: Any, terms: ConceptLookup, out: _Draft) -> None:
    rtype = model.__resource_type__
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
    if concepts:
        out.care.append(CareEvent(concepts, when, f"{rtype}/{model.id}", model.status))


def _medication(model: Any, terms: ConceptLookup, out: _Draft) -> None:
    if model.status not in MEDICATION_ACTIVE:
        return
    concepts = terms.concepts_in(fhir.codings(model.medicationCodeableConcept))
    if concepts:
        display = model.medicationCodeableConcept.text if model.medicationCodeableConcept else None
        out.medications.append(
            Medication(concepts, fhir.to_datetime(model.authoredOn), f"MedicationRequest/{model.id}", display)
        )


def _draft_orders(
    context: Mapping[str, Any], hook: str, terms: ConceptLookup, out: _Draft
) -> tuple[list[DraftOrder], list[str]]:
    bundle = context.get("draftOrders") or {}
    selections = set(context.get("selections") or ())
    orders: list[DraftOrder] = []
    problems: list[str] = []
    for index, entry in enumerate(bundle.get("entry") or ()):
        raw = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str) or \
                raw["resourceType"] not in ORDER_TYPES:
            continue
        model, problem = fhir.parse(raw)
        if model is None:
            problems.append(problem or f"draft order {index} skipped")
            continue
        rtype = raw["resourceType"]
        ref = f"{rtype}/{model.id}" if model.id else f"{rtype}/#{index}"
        if rtype == "ServiceRequest":
            code, display = model.code, (model.code.text if model.code else None)
        else:
            code = model.medicationCodeableConcept
            display = code.text if code else None
        codings = fhir.codings(code)
        display = display or next((c.display for c in (code.coding or ()) if c.display), None) if code else None
        reasons = set(terms.concepts_in(fhir.codings(*(model.reasonCode or ()))))
        for reference in model.reasonReference or ():
            target = (reference.reference or "").split("/")[-1]
            reasons |= out.condition_concepts.get(target, frozenset())
        selected = hook != "order-select" or not selections or ref in selections
        orders.append(
            DraftOrder(ref, rtype, terms.concepts_in(codings), frozenset(reasons), display, selected, raw)
        )
    return orders, problems


def _birth_and_sex(patients: list[Any], patient_id: str | None) -> tuple[Any, str | None]:
    chosen = next((p for p in patients if p.id == patient_id), patients[0] if patients else None)
    if chosen is None:
        return None, None
    return fhir.to_date(chosen.birthDate), chosen.gender


def build_record(
    resources: Iterable[Mapping[str, Any]],
    context: Mapping[str, Any],
    hook: str,
    terms: ConceptLookup,
    now: datetime,
    unavailable: Iterable[str] = (),
    incomplete: Iterable[str] = (),
) -> BuildResult:
    """Turn raw FHIR resources and the hook context into one PatientRecord."""
    patient_id = context.get("patientId")
    models, problems = fhir.parse_all(resources)
    out = _Draft()
    patients = []
    handlers = {
        "Condition": _condition,
        "Observation": _observation,
        "MedicationRequest": _medication,
        "ServiceRequest": _care,
        "Procedure": _care,
        "Encounter": _care,
    }
    # Conditions first, so that draft orders' reasonReference can resolve to them.
    models.sort(key=lambda m: m.__resource_type__ != "Condition")
    for model in models:
        rtype = model.__resource_type__
        if rtype == "Patient":
            patients.append(model)
            continue
        if rtype not in handlers:
            continue
        if not _subject_ok(model, patient_id):
            problems.append(f"{rtype}/{model.id} skipped: it belongs to another patient")
            continue
        handlers[rtype](model, terms, out)
    orders, order_problems = _draft_orders(context, hook, terms, out)
    problems += order_problems
    if not out.episodes:
        for order in orders:
            reason = order.reason_concepts & EPISODE_CONCEPTS
            if reason:
                out.episodes.append(Episode(reason, None, "unknown", order.ref))
                break
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
        care=tuple(out.care),
        draft_orders=tuple(orders),
        unavailable=frozenset(unavailable),
        incomplete=frozenset(incomplete),
    )
    return BuildResult(record, tuple(problems))
