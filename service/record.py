"""The patient record the rules read: a timeline of clinical assertions, not a set of facts.

A :class:`PatientRecord` is built once per request by :mod:`service.facts` from whatever
FHIR data arrived (prefetch or ``fhirServer``). It holds no FHIR models and no raw JSON:
every code has already been mapped onto a :class:`~service.concepts.Concept` id.

A real record is revised: a red flag is recorded at one contact and found absent at the
next, an episode starts and ends, a strength grade falls. So the record keeps every dated
:class:`Assertion` per concept and answers questions about *time*, with one policy
(``docs/clinical-decisions.md``, "What is true now"):

- the **latest** assertion about a concept is the current one, present or absent;
- an assertion older than the concept's **validity window** is no longer current, only
  history (DSAM asks for flags to be reassessed at every contact, 003 L169, L434-L436);
- a resolved condition is history, never current;
- missing data stays missing: :meth:`PatientRecord.status` answers ``None`` for "not
  documented now", which is never the same as "absent".

Rules ask for :meth:`~PatientRecord.current`, :meth:`~PatientRecord.history`,
:meth:`~PatientRecord.within_episode` or a measurement :class:`Series`; they never scan raw lists.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from .concepts import EPISODE_CONCEPTS, Concept

OnsetBasis = Literal["onsetDateTime", "onsetPeriod.start", "recordedDate", "order-reason", "resumed", "chronic-code",
                     "unknown"]
Precision = Literal["year", "month", "day", "instant"]
Certainty = Literal["confirmed", "suspected"]


@dataclass(frozen=True)
class PartialDate:
    """A date known only to a month or a year: the range it may lie in, for cards and durations."""

    earliest: datetime
    latest: datetime
    precision: Precision


@dataclass(frozen=True)
class Span:
    """A whole number known only as a range (weeks since a month-only onset: 6–10)."""

    low: int
    high: int


@dataclass(frozen=True)
class AtLeast:
    """A whole number known only from below (weeks of pain coded chronic: at least 13)."""

    low: int


@dataclass(frozen=True)
class Assertion:
    """One dated statement about a concept: present (``True``) or checked and absent (``False``).

    ``when`` is the clinical time (onset, effective time); ``end`` the time it stopped being
    true (abatement, the end of a sick-leave period). ``history`` marks a condition recorded
    as resolved or in remission: true once, not now. ``certainty`` is ``suspected`` for a
    provisional or differential diagnosis (DSAM's "mistanke om").
    """

    concept: str
    present: bool
    when: datetime | None
    source: str
    #: Start of a period (sick leave): ``effectivePeriod.start`` or ``effectiveDateTime``.
    start: datetime | None = None
    end: datetime | None = None
    history: bool = False
    certainty: Certainty = "confirmed"
    #: Ranking inside one instant: an amendment outranks the entry it amends.
    rank: int = 0


@dataclass(frozen=True)
class Episode:
    """A back-pain episode: a Condition from onset to abatement (or a draft order's reason)."""

    concepts: frozenset[str]
    onset: datetime | None
    onset_basis: OnsetBasis
    source: str
    #: When it ended (abatement); ``ended`` without ``end`` = resolved on an unknown date.
    end: datetime | None = None
    ended: bool = False
    #: Latest possible onset when the onset is a month or a year (``PartialDate``).
    onset_latest: datetime | None = None
    onset_precision: Precision = "day"
    #: When the diagnosis was recorded: the Condition itself vouches for the pain from onset to
    #: here, so silence in the record counts only after it.
    recorded: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        if self.ended:
            return False
        return self.end is None or self.end > now

    @property
    def onset_date(self) -> datetime | PartialDate | None:
        """The onset as a card should state it: a date, or a month or year when that is all we know."""
        if self.onset is None:
            return None
        if self.onset_latest is not None and self.onset_precision in ("month", "year"):
            return PartialDate(self.onset, self.onset_latest, self.onset_precision)
        return self.onset


@dataclass(frozen=True)
class EpisodeLimits:
    """When silence in the record ends an open episode (``cards/_meta/params.json``).

    A problem-list entry is often never closed. DSAM calls pain new (nyopstået) whatever earlier
    episodes there were (003 L99) and chronic only for pain through the last year (L100), so an
    old open entry must not make today's pain years long.
    """

    #: Days without back-pain documentation, up to now, after which the episode is over (``None``: never).
    inactive_days: int | None = None
    #: A silence longer than this between two pieces of back-pain documentation: what follows is a
    #: new episode, counted from its first documentation (``None``: never). Not for a diagnosis of
    #: chronic low back pain: that code itself says the pain is long-standing, and a stable chronic
    #: patient is often not seen for back pain for a year.
    gap_days: int | None = None


#: Documentation never ends an episode: only its own abatement does.
NO_EPISODE_LIMITS = EpisodeLimits()


@dataclass(frozen=True)
class Measurement:
    """A numeric observation: muscle strength grade (0–5) or pain score (0–10)."""

    value: float
    when: datetime | None
    source: str
    #: Which muscle or site (``bodySite`` or the code's text); grades of one site form a series.
    site: str = ""


@dataclass(frozen=True)
class Series:
    """Measurements of one site, oldest first, with the questions rules ask of a series."""

    site: str
    points: tuple[Measurement, ...]

    @property
    def latest(self) -> Measurement | None:
        return self.points[-1] if self.points else None

    def since(self, start: datetime) -> list[Measurement]:
        return [m for m in self.points if m.when is not None and m.when >= start]

    def fall_within(self, end: datetime, window: timedelta) -> tuple[Measurement, Measurement] | None:
        """The largest fall (highest earlier value → the value at ``end``) inside ``window`` before ``end``."""
        at_end = [m for m in self.points if m.when is not None and m.when <= end]
        if not at_end:
            return None
        last = at_end[-1]
        assert last.when is not None
        earlier = [m for m in at_end[:-1] if m.when is not None and last.when - m.when <= window]
        if not earlier:
            return None
        top = max(earlier, key=lambda m: (m.value, m.when))
        return (top, last) if top.value > last.value else None

    def first_at_or_below(self, threshold: float) -> Measurement | None:
        """The first measurement of the current run at or below ``threshold`` (the run reaching now)."""
        first = None
        for m in self.points:
            if m.value <= threshold:
                first = first or m
            else:
                first = None
        return first


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
    #: Concepts of its ``reasonCode``/``reasonReference`` (what it is for, when the EHR says).
    reasons: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DraftOrder:
    """An order in ``context.draftOrders``.

    ``reason_concepts`` come from ``reasonCode`` and ``reasonReference``: clinical information
    about this patient now, which counts as current findings for this order's rules
    (:meth:`PatientRecord.for_order`). ``resource`` is kept only so the card renderer can
    build suggestions that change the order; rules must not read it.
    """

    ref: str
    resource_type: str
    concepts: frozenset[str]
    reason_concepts: frozenset[str]
    display: str | None
    selected: bool
    resource: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class UnreadableOrder:
    """A draft order in ``context.draftOrders`` that could not be read even leniently.

    Its rules cannot speak about it, so the GP is told (a visible card), not only the log.
    """

    ref: str
    reason: str
    selected: bool


def _order_key(assertion: Assertion) -> tuple[int, float, int, int]:
    """Undated first (oldest), then by time; at one instant an amendment, then "present", wins."""
    stamp = assertion.when.timestamp() if assertion.when is not None else 0.0
    return (int(assertion.when is not None), stamp, assertion.rank, int(assertion.present))


@dataclass(frozen=True)
class PatientRecord:
    """Everything the rules may know about one patient at one moment."""

    now: datetime
    patient_id: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    episodes: tuple[Episode, ...] = ()
    facts: Mapping[str, tuple[Assertion, ...]] = field(default_factory=dict)
    strength: tuple[Measurement, ...] = ()
    pain: tuple[Measurement, ...] = ()
    medications: tuple[Medication, ...] = ()
    #: Prescriptions that ended (completed, stopped): what was tried, not what is taken now.
    ended_medications: tuple[Medication, ...] = ()
    care: tuple[CareEvent, ...] = ()
    draft_orders: tuple[DraftOrder, ...] = ()
    #: Draft orders that could not be read, so no rule could check them.
    unreadable_orders: tuple[UnreadableOrder, ...] = ()
    #: Data categories that could not be had (e.g. ``"observations"``): their absence
    #: in the record means "unknown", not "none".
    unavailable: frozenset[str] = frozenset()
    #: Data categories read only in part (a deadline or cap cut them): what is in the record
    #: is real, but the absence of anything else means "unknown".
    incomplete: frozenset[str] = frozenset()
    #: Concept → days a finding stays current (``cards/_meta/validity.json``); absent = no limit.
    validity: Mapping[str, int] = field(default_factory=dict)
    #: When anything back-pain related was recorded (episode diagnoses, back-pain findings, care,
    #: contacts and prescriptions for back pain), sorted: what keeps an episode open.
    activity: tuple[datetime, ...] = ()
    #: When the patient was seen, or is booked, for back pain (Encounters whose reason is back pain), sorted.
    contacts: tuple[datetime, ...] = ()
    #: When silence in the record ends an open episode, or starts a new one.
    episode_limits: EpisodeLimits = NO_EPISODE_LIMITS

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

    # -- what is true now ------------------------------------------------------
    def timeline(self, concept: str) -> tuple[Assertion, ...]:
        """Every assertion about ``concept``, oldest first (undated ones before dated)."""
        return tuple(sorted(self.facts.get(concept, ()), key=_order_key))

    def expired(self, assertion: Assertion) -> bool:
        """Older than its concept's validity window (undated assertions cannot expire)."""
        days = self.validity.get(assertion.concept)
        if days is None or assertion.when is None:
            return False
        return self.now - assertion.when > timedelta(days=days)

    def current(self, concept: str) -> Assertion | None:
        """The assertion that says what is true now, or ``None`` when nothing current is documented.

        The latest assertion wins, present or absent. It is not current when it is history (a
        resolved condition), ended (abatement, a period that is over), in the future, or older
        than the concept's validity window — then the answer is "not documented now".
        """
        live = [a for a in self.timeline(concept) if not a.history and (a.when is None or a.when <= self.now)]
        if not live:
            return None
        latest = live[-1]
        if self.expired(latest) or (latest.end is not None and latest.end <= self.now):
            return None
        return latest

    def status(self, concept: str) -> bool | None:
        """``True`` present now, ``False`` checked and absent now, ``None`` not documented now."""
        found = self.current(concept)
        return None if found is None else found.present

    def has(self, concept: str) -> bool:
        """Present now (confirmed or suspected)."""
        return self.status(concept) is True

    def confirmed(self, concept: str) -> bool:
        """Present now and not merely suspected."""
        found = self.current(concept)
        return found is not None and found.present and found.certainty == "confirmed"

    def suspected(self, concept: str) -> bool:
        """Present now as a suspicion (provisional or differential diagnosis)."""
        found = self.current(concept)
        return found is not None and found.present and found.certainty == "suspected"

    def history(self, concept: str) -> list[Assertion]:
        """Present assertions that are no longer current: resolved, ended or past their window."""
        now = self.current(concept)
        return [a for a in self.timeline(concept) if a.present and a is not now]

    def recent(self, concept: str, days: float) -> bool:
        """Present now and dated within ``days`` (or undated): "nyopstået" symptoms."""
        found = self.current(concept)
        if found is None or not found.present:
            return False
        return found.when is None or self.now - found.when <= timedelta(days=days)

    def not_documented(self, concepts: Iterable[str]) -> list[str]:
        """The concepts among ``concepts`` with nothing current, in the given order."""
        return [c for c in concepts if self.status(c) is None]

    def checked_absent(self, concepts: Iterable[str]) -> list[str]:
        """The concepts among ``concepts`` currently recorded as checked and absent."""
        return [c for c in concepts if self.status(c) is False]

    def facts_of(self, concept: str) -> tuple[Assertion, ...]:
        return self.timeline(concept)

    # -- episodes ------------------------------------------------------------
    def open_episodes(self) -> list[Episode]:
        """Episodes not ended by now: together they are the current episode.

        Documentation decides too (``EpisodeLimits``, ``docs/clinical-decisions.md``): an episode
        with nothing back-pain related (its diagnoses, back-pain findings, back-pain care, contacts
        and prescriptions for back pain) recorded for ``inactive_days`` is over; one whose
        documentation resumes after a silence of more than ``gap_days`` counts from where it
        resumed (``onset_basis`` ``"resumed"``): a problem never closed on the problem list does
        not make new pain years long. An undated episode cannot tell and stays as it is.
        """
        return list(self._open_episodes)

    @cached_property
    def _open_episodes(self) -> tuple[Episode, ...]:
        """Worked out once per record: every duration a rule asks for starts here."""
        episodes = [e for e in self.episodes if e.is_open(self.now)]
        limits = self.episode_limits
        if limits.inactive_days is None and limits.gap_days is None:
            return tuple(episodes)
        out: list[Episode] = []
        for episode in episodes:
            if episode.onset_basis == "order-reason" or episode.onset is None:
                out.append(episode)
                continue
            documented = self._documented_stretch(episode)
            if documented is not None:
                out.append(documented)
        return tuple(out)

    def _documented_stretch(self, episode: Episode) -> Episode | None:
        """``episode`` as its documentation supports it: unchanged, resumed later, or over (``None``)."""
        onset = episode.onset or self.now
        last = max(onset, episode.recorded or onset)
        days = self.episode_limits.gap_days
        standing = Concept.CHRONIC_LOW_BACK_PAIN in episode.concepts
        gap = None if days is None or standing else timedelta(days=days)
        resumed: datetime | None = None
        for moment in self.activity[bisect_right(self.activity, last):]:  # activity is sorted
            if moment > self.now:
                break
            if gap is not None and moment - last > gap:
                resumed = moment
            last = moment
        inactive = self.episode_limits.inactive_days
        if inactive is not None and self.now - last > timedelta(days=inactive):
            return None
        if resumed is None:
            return episode
        return replace(episode, onset=resumed, onset_basis="resumed", onset_latest=None, onset_precision="day")

    def episodes_of(self, concepts: Iterable[str]) -> list[Episode]:
        """Open episodes of ``concepts`` (a closed episode never decides about this one)."""
        wanted = frozenset(concepts)
        return [e for e in self.open_episodes() if e.concepts & wanted]

    def earliest_onset(self, concepts: Iterable[str] | None = None) -> Episode | None:
        """The open episode with the earliest known onset (among ``concepts``, if given).

        Several open episodes are one episode re-coded (low back pain, then sciatica): its
        start is the earliest onset, so re-coding never restarts the clock.
        """
        pool = self.open_episodes() if concepts is None else self.episodes_of(concepts)
        dated = [e for e in pool if e.onset is not None]
        if not dated:
            return None
        return min(dated, key=lambda e: e.onset or self.now)

    def episode_start(self) -> datetime | None:
        """Start of the current episode (earliest open onset); ``None`` when unknown."""
        first = self.earliest_onset()
        return None if first is None else first.onset

    def within_episode(self, concept: str) -> Assertion | None:
        """The current assertion, if it was made within the current episode.

        For findings that are about *this* episode (no satisfactory improvement, severe
        disabling pain): one from an earlier episode does not count.
        """
        found = self.current(concept)
        start = self.episode_start()
        if found is None or start is None or found.when is None:
            return found
        return found if found.when >= start else None

    # -- measurements ----------------------------------------------------------
    def strength_series(self) -> list[Series]:
        """Muscle-strength grades per site, oldest first."""
        by_site: dict[str, list[Measurement]] = {}
        for m in self.strength:
            if m.when is not None:
                by_site.setdefault(m.site, []).append(m)
        return [Series(site, tuple(sorted(points, key=lambda m: m.when or self.now)))
                for site, points in sorted(by_site.items())]

    # -- care and medicines --------------------------------------------------
    def care_of(self, concepts: Iterable[str]) -> list[CareEvent]:
        wanted = frozenset(concepts)
        return [c for c in self.care if c.concepts & wanted]

    def medications_of(self, concepts: Iterable[str]) -> list[Medication]:
        wanted = frozenset(concepts)
        return [m for m in self.medications if m.concepts & wanted]

    def for_back_pain(self, medication: Medication) -> bool:
        """Whether a prescription is a back-pain medicine: its reason says so, or it gives none and
        is not older than this episode (knee osteoarthritis' paracetamol since June is not)."""
        if medication.reasons:
            return bool(medication.reasons & EPISODE_CONCEPTS)
        start = self.episode_start()
        return start is None or medication.authored is None or medication.authored >= start

    def tried_in_episode(self, concepts: Iterable[str]) -> list[Medication]:
        """Back-pain prescriptions of ``concepts`` made in this episode before now, active or ended, oldest first."""
        wanted = frozenset(concepts)
        start = self.episode_start()
        tried = [m for m in (*self.medications, *self.ended_medications)
                 if m.concepts & wanted and m.authored is not None and m.authored < self.now
                 and (start is None or m.authored >= start) and self.for_back_pain(m)]
        return sorted(tried, key=lambda m: m.authored or self.now)

    def orders_of(self, concepts: Iterable[str]) -> list[DraftOrder]:
        wanted = frozenset(concepts)
        return [o for o in self.draft_orders if o.concepts & wanted]

    # -- an order's own reason -------------------------------------------------
    def for_order(self, order: DraftOrder, episode_concepts: frozenset[str]) -> PatientRecord:
        """The record as this order's rules see it: its reasons count as current findings.

        A reason that is a back-pain concept also opens an episode (onset unknown) when none
        is open, so "MRI for sciatica" is judged as back pain even with an empty problem list.
        """
        if not order.reason_concepts:
            return self
        facts = {k: tuple(v) for k, v in self.facts.items()}
        for concept in order.reason_concepts:
            reason = Assertion(concept, True, self.now, order.ref, rank=1)
            facts[concept] = (*facts.get(concept, ()), reason)
        episodes = self.episodes
        back_pain = order.reason_concepts & episode_concepts
        if back_pain:
            opened = [e for e in self.open_episodes() if e.concepts & back_pain]
            if not opened:
                episodes = (*episodes, Episode(back_pain, None, "order-reason", order.ref))
        return replace(self, facts=facts, episodes=episodes)
