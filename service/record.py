"""The patient record the rules read: clinical facts only.

A :class:`PatientRecord` is built once per request by :mod:`service.facts` from whatever
FHIR data arrived (prefetch or ``fhirServer``). It holds no FHIR models and no raw JSON
for the rules to poke at: every code has already been mapped onto a
:class:`~service.concepts.Concept` id. Missing data stays missing: :meth:`PatientRecord.status`
answers ``None`` for "not documented", which is never the same as "absent".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

OnsetBasis = Literal["onsetDateTime", "onsetPeriod.start", "recordedDate", "unknown"]


@dataclass(frozen=True)
class Fact:
    """One documented finding: present (``True``) or checked and absent (``False``)."""

    concept: str
    present: bool
    when: datetime | None
    source: str
    #: Start of a period (sick leave): ``effectivePeriod.start`` or ``effectiveDateTime``.
    start: datetime | None = None


@dataclass(frozen=True)
class Episode:
    """A back-pain episode (a Condition, or a draft order's reason when none is listed)."""

    concepts: frozenset[str]
    onset: datetime | None
    onset_basis: OnsetBasis
    source: str


@dataclass(frozen=True)
class Measurement:
    """A numeric observation: muscle strength grade (0–5) or pain score (0–10)."""

    value: float
    when: datetime | None
    source: str


@dataclass(frozen=True)
class CareEvent:
    """Care given or planned: a referral, procedure or encounter, by concept."""

    concepts: frozenset[str]
    when: datetime | None
    source: str
    status: str | None = None


@dataclass(frozen=True)
class Medication:
    """An active (or draft) MedicationRequest classified by ATC class concepts."""

    concepts: frozenset[str]
    authored: datetime | None
    source: str
    display: str | None = None


@dataclass(frozen=True)
class DraftOrder:
    """An order in ``context.draftOrders``.

    ``resource`` is kept only so the card renderer can build suggestions that change
    the order; rules must not read it.
    """

    ref: str
    resource_type: str
    concepts: frozenset[str]
    reason_concepts: frozenset[str]
    display: str | None
    selected: bool
    resource: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class PatientRecord:
    """Everything the rules may know about one patient at one moment."""

    now: datetime
    patient_id: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    episodes: tuple[Episode, ...] = ()
    facts: Mapping[str, tuple[Fact, ...]] = field(default_factory=dict)
    strength: tuple[Measurement, ...] = ()
    pain: tuple[Measurement, ...] = ()
    medications: tuple[Medication, ...] = ()
    care: tuple[CareEvent, ...] = ()
    draft_orders: tuple[DraftOrder, ...] = ()
    #: Data categories that could not be had (e.g. ``"observations"``): their absence
    #: in the record means "unknown", not "none".
    unavailable: frozenset[str] = frozenset()
    #: Data categories read only in part (a deadline or cap cut them): what is in the record
    #: is real, but the absence of anything else means "unknown".
    incomplete: frozenset[str] = frozenset()

    # -- age -----------------------------------------------------------------
    @property
    def age(self) -> int | None:
        """Age in whole years today, ``None`` when the birth date is unknown."""
        if self.birth_date is None:
            return None
        today = self.now.date()
        years = today.year - self.birth_date.year
        if (today.month, today.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    # -- findings ------------------------------------------------------------
    def status(self, concept: str) -> bool | None:
        """``True`` documented present, ``False`` checked and absent, ``None`` not documented.

        A present record wins over an absent one: a red flag once recorded must not be
        hidden by a later "no" (the newest present/absent pair is for a clinician to weigh).
        """
        found = self.facts.get(concept, ())
        if any(f.present for f in found):
            return True
        if found:
            return False
        return None

    def has(self, concept: str) -> bool:
        """True only when the finding is documented as present."""
        return self.status(concept) is True

    def not_documented(self, concepts: Iterable[str]) -> list[str]:
        """The concepts among ``concepts`` with no record at all, in the given order."""
        return [c for c in concepts if self.status(c) is None]

    def checked_absent(self, concepts: Iterable[str]) -> list[str]:
        """The concepts among ``concepts`` recorded as checked and absent."""
        return [c for c in concepts if self.status(c) is False]

    def facts_of(self, concept: str) -> tuple[Fact, ...]:
        return self.facts.get(concept, ())

    # -- episodes ------------------------------------------------------------
    def episodes_of(self, concepts: Iterable[str]) -> list[Episode]:
        wanted = frozenset(concepts)
        return [e for e in self.episodes if e.concepts & wanted]

    def earliest_onset(self, concepts: Iterable[str] | None = None) -> Episode | None:
        """The episode with the earliest known onset (among ``concepts``, if given)."""
        pool = self.episodes if concepts is None else self.episodes_of(concepts)
        dated = [e for e in pool if e.onset is not None]
        if not dated:
            return None
        return min(dated, key=lambda e: e.onset or self.now)

    # -- care and medicines --------------------------------------------------
    def care_of(self, concepts: Iterable[str]) -> list[CareEvent]:
        wanted = frozenset(concepts)
        return [c for c in self.care if c.concepts & wanted]

    def medications_of(self, concepts: Iterable[str]) -> list[Medication]:
        wanted = frozenset(concepts)
        return [m for m in self.medications if m.concepts & wanted]

    def orders_of(self, concepts: Iterable[str]) -> list[DraftOrder]:
        wanted = frozenset(concepts)
        return [o for o in self.draft_orders if o.concepts & wanted]
