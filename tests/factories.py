"""Builders for clinical test cases: a record reads like the case it describes.

``NOW`` is fixed so that "3 weeks ago" means the same in every run. Card parameters are
read from ``cards/`` so tests follow the thresholds a clinician would edit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from service.record import (
    Assertion,
    CareEvent,
    DraftOrder,
    Episode,
    Measurement,
    Medication,
    OnsetBasis,
    PatientRecord,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CARDS = Path(__file__).resolve().parent.parent / "cards"


def params_of(rule_id: str, **overrides: Any) -> dict[str, Any]:
    """The rule's parameters as shipped (shared ``_meta/params.json`` + its card), with overrides."""
    shared = json.loads((CARDS / "_meta" / "params.json").read_text(encoding="utf-8"))
    data = json.loads((CARDS / f"{rule_id}.json").read_text(encoding="utf-8"))
    return {**shared, **data.get("params", {}), **overrides}


def ago(*, weeks: float = 0, days: float = 0, hours: float = 0) -> datetime:
    return NOW - timedelta(weeks=weeks, days=days, hours=hours)


def episode(
    *concepts: str,
    weeks: float | None = None,
    days: float = 0,
    basis: OnsetBasis | None = None,
    source: str = "Condition/lbp-1",
) -> Episode:
    """A back-pain episode that began ``weeks`` (+ ``days``) ago; ``weeks=None`` = onset unknown."""
    onset = None if weeks is None else ago(weeks=weeks, days=days)
    return Episode(
        concepts=frozenset(concepts or ("low-back-pain",)),
        onset=onset,
        onset_basis=basis or ("unknown" if onset is None else "onsetDateTime"),
        source=source,
    )


#: The validity windows as shipped (``cards/_meta/validity.json``).
VALIDITY = json.loads((CARDS / "_meta" / "validity.json").read_text(encoding="utf-8"))["days"]


def fact(concept: str, present: bool = True, *, days: float = 1, start_days: float | None = None,
         end_days: float | None = None, history: bool = False, suspected: bool = False) -> Assertion:
    """An assertion about ``concept`` recorded ``days`` ago (present, or checked and absent)."""
    return Assertion(
        concept=concept,
        present=present,
        when=ago(days=days),
        source=f"Observation/{concept}-{days}",
        start=None if start_days is None else ago(days=start_days),
        end=None if end_days is None else ago(days=end_days),
        history=history,
        certainty="suspected" if suspected else "confirmed",
    )


def strength(grade: int, *, hours: float = 0, days: float = 0, site: str = "") -> Measurement:
    return Measurement(float(grade), ago(hours=hours, days=days), f"Observation/strength-{grade}-{hours}-{days}", site)


def pain(score: float, *, days: float) -> Measurement:
    return Measurement(float(score), ago(days=days), f"Observation/pain-{score}-{days}")


def care(*concepts: str, days: float = 7, status: str | None = "completed") -> CareEvent:
    return CareEvent(frozenset(concepts), ago(days=days), f"ServiceRequest/{concepts[0]}", status)


def medication(*concepts: str, days: float = 7, display: str | None = None,
               reasons: Iterable[str] = ()) -> Medication:
    return Medication(frozenset(concepts), ago(days=days), f"MedicationRequest/{concepts[0]}", display,
                      frozenset(reasons))


def order(
    *concepts: str,
    ref: str = "ServiceRequest/order-1",
    reasons: Iterable[str] = (),
    selected: bool = True,
    display: str | None = None,
) -> DraftOrder:
    rtype = ref.split("/", 1)[0]
    return DraftOrder(
        ref=ref,
        resource_type=rtype,
        concepts=frozenset(concepts),
        reason_concepts=frozenset(reasons),
        display=display,
        selected=selected,
        resource={"resourceType": rtype, "id": ref.split("/", 1)[1], "status": "draft"},
    )


def record(
    *,
    age: int | None = 45,
    episodes: Iterable[Episode] = (),
    facts: Iterable[Assertion] = (),
    strength: Iterable[Measurement] = (),
    pain: Iterable[Measurement] = (),
    medications: Iterable[Medication] = (),
    care: Iterable[CareEvent] = (),
    orders: Iterable[DraftOrder] = (),
    unavailable: Iterable[str] = (),
    sex: str | None = None,
    ended_medications: Iterable[Medication] = (),
    contacts: Iterable[datetime] = (),
) -> PatientRecord:
    """A patient aged ``age`` today with the given clinical facts."""
    by_concept: dict[str, list[Assertion]] = {}
    for f in facts:
        by_concept.setdefault(f.concept, []).append(f)
    birth = None if age is None else date(NOW.year - age, 1, 1)
    frozen: Mapping[str, tuple[Assertion, ...]] = {k: tuple(v) for k, v in by_concept.items()}
    return PatientRecord(
        now=NOW,
        patient_id="p1",
        birth_date=birth,
        sex=sex,
        episodes=tuple(episodes),
        facts=frozen,
        strength=tuple(strength),
        pain=tuple(pain),
        medications=tuple(medications),
        ended_medications=tuple(ended_medications),
        care=tuple(care),
        draft_orders=tuple(orders),
        unavailable=frozenset(unavailable),
        validity=VALIDITY,
        contacts=tuple(sorted(contacts)),
    )
