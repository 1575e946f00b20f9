"""Clinical derivations several rules share, so that they agree on what a fact means.

Each answers with what it used, because cards must say why. ``None`` always means
"not documented / cannot tell", never "no". Durations are measured within the *current*
episode; a month-only onset gives a range, and a rule claims "at least N weeks" only when
the whole range is (:attr:`Duration.whole_weeks`) and "under N weeks" only when the whole
range is (:attr:`Duration.weeks_max`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..concepts import CONSERVATIVE_TREATMENT_CONCEPTS, EPISODE_CONCEPTS, Concept
from ..record import AtLeast, CareEvent, Episode, Measurement, PartialDate, PatientRecord, Span


@dataclass(frozen=True)
class Duration:
    """How long the back pain has lasted, and on what basis.

    ``days`` counts from the earliest possible onset, ``days_min`` from the latest possible
    one (they differ for a month- or year-only onset). An episode whose documentation resumed
    after a long gap has only ``days_min``: the pain is documented since then, its start unknown.
    """

    episode: Episode | None
    days: int | None
    days_min: int | None = None

    @property
    def whole_weeks(self) -> int | None:
        """Weeks the pain has certainly lasted (the low end of a range)."""
        low = self.days if self.days_min is None else self.days_min
        return None if low is None else max(low, 0) // 7

    @property
    def weeks_max(self) -> int | None:
        """Weeks the pain may have lasted (the high end of a range)."""
        return None if self.days is None else self.days // 7

    @property
    def is_range(self) -> bool:
        return self.whole_weeks != self.weeks_max

    @property
    def weeks(self) -> int | Span | AtLeast | None:
        """The duration in weeks as a card should state it: a number, a range ("6–10"), or "at least"."""
        low, high = self.whole_weeks, self.weeks_max
        if low is None:
            return None
        if self.episode is not None and self.episode.onset_basis == "chronic-code":
            return AtLeast(low)
        if high is None:
            return low  # only a lower bound (documentation resumed after a gap): the note says so
        return low if low == high else Span(low, high)

    @property
    def onset(self) -> datetime | None:
        return None if self.episode is None else self.episode.onset

    @property
    def onset_shown(self) -> datetime | PartialDate | None:
        return None if self.episode is None else self.episode.onset_date

    def notes(self) -> tuple[str, ...]:
        """Standard sentences that qualify the duration (``cards/_meta/common.json``)."""
        if self.episode is None:
            return ()
        basis = self.episode.onset_basis
        notes: tuple[str, ...] = ()
        if basis == "recordedDate":
            notes = ("onset_from_recorded_date",)
        elif basis == "onsetPeriod.start":
            notes = ("onset_from_period",)
        elif basis == "resumed":
            notes = ("onset_resumed",)
        elif basis == "chronic-code":
            notes = ("onset_chronic_code",)
        elif basis == "order-reason":
            notes = ("episode_from_order_reason", "onset_unknown")
        elif basis == "unknown":
            notes = ("onset_unknown",)
        if self.is_range and basis not in ("resumed", "chronic-code"):
            notes += ("onset_partial",)
        return notes


#: DSAM L100: chronic low back pain has lasted over three months. A chronic code says so, whatever
#: onset date the EHR put on it (often the day it was coded).
CHRONIC_CODE_MIN_DAYS = 91


def back_pain_duration(record: PatientRecord, concepts: frozenset[str] = EPISODE_CONCEPTS) -> Duration:
    """Duration since the earliest known onset among open episodes of ``concepts``.

    With episodes but no onset anywhere, the duration is unknown (``days`` None) and the
    episode is still returned so the card can say why. An open chronic-pain code makes it at
    least three months (``onset_basis`` ``"chronic-code"``): never "too early" for chronic pain.
    """
    recorded = _recorded_duration(record, concepts)
    low = recorded.days if recorded.days_min is None else recorded.days_min
    if low is not None and low >= CHRONIC_CODE_MIN_DAYS:
        return recorded
    chronic = [e for e in record.episodes_of([Concept.CHRONIC_LOW_BACK_PAIN]) if e.concepts & concepts]
    if not chronic:
        return recorded
    episode = recorded.episode if recorded.episode is not None and recorded.episode.onset is not None else chronic[0]
    return Duration(replace(episode, onset_basis="chronic-code", onset_latest=None), None, CHRONIC_CODE_MIN_DAYS)


def _recorded_duration(record: PatientRecord, concepts: frozenset[str]) -> Duration:
    dated = record.earliest_onset(concepts)
    if dated is not None and dated.onset is not None and dated.onset_basis == "resumed":
        # Documented since then, begun when unknown: "at least", never "under".
        return Duration(dated, None, (record.now - dated.onset).days)
    if dated is not None and dated.onset is not None:
        days = (record.now - dated.onset).days
        days_min = None if dated.onset_latest is None else (record.now - dated.onset_latest).days
        return Duration(dated, days, days_min)
    undated = record.episodes_of(concepts)
    return Duration(undated[0] if undated else None, None)


def episode_duration(record: PatientRecord) -> Duration:
    """Duration of the current episode, from its earliest open onset.

    Nerve-root and stenosis windows count from here too: back pain re-coded as sciatica is
    the same episode, and re-coding must not restart the 6-8 week clock (DSAM L398).
    """
    return back_pain_duration(record)


def duration_facts(duration: Duration) -> dict[str, object]:
    """``onset`` and ``weeks`` for the card texts; empty when the onset is unknown."""
    if duration.onset_shown is None or duration.weeks is None:
        return {}
    return {"onset": duration.onset_shown, "weeks": duration.weeks}


def nerve_root_involvement(record: PatientRecord) -> bool:
    """Nerve-root pain now: an open radiculopathy/sciatica episode or a current (crossed) SLR."""
    return bool(record.episodes_of([Concept.NERVE_ROOT])) or any(
        record.has(c) for c in (Concept.NERVE_ROOT, Concept.STRAIGHT_LEG_RAISE, Concept.CROSSED_STRAIGHT_LEG_RAISE)
    )


def conservative_treatment(record: PatientRecord, since: datetime | None = None) -> list[CareEvent]:
    """Physiotherapy, chiropractic or supervised exercise given or planned (after ``since``)."""
    events = record.care_of(CONSERVATIVE_TREATMENT_CONCEPTS)
    if since is not None:
        events = [e for e in events if e.when is None or e.when >= since]
    return events


@dataclass(frozen=True)
class Improvement:
    """Whether the patient has improved satisfactorily, and how we know.

    ``unsatisfactory`` is True (not improved), False (improved) or None (cannot tell).
    ``basis`` is ``"finding"`` (explicit ``no-satisfactory-improvement``) or
    ``"pain-scores"`` (latest score fell by less than ``min_fall`` of the first).
    """

    unsatisfactory: bool | None
    basis: str | None = None
    first: Measurement | None = None
    latest: Measurement | None = None


def improvement(record: PatientRecord, since: datetime | None = None, min_fall: float = 0.30) -> Improvement:
    """The explicit finding of this episode first; else the first and latest pain score since ``since``."""
    finding = record.within_episode(Concept.NO_SATISFACTORY_IMPROVEMENT)
    if finding is not None and (since is None or finding.when is None or finding.when >= since):
        return Improvement(finding.present, "finding")
    scores = sorted(
        (m for m in record.pain if m.when is not None and (since is None or m.when >= since)),
        key=lambda m: m.when or record.now,
    )
    if len(scores) < 2:
        return Improvement(None)
    first, latest = scores[0], scores[-1]
    if first.value <= 0:
        return Improvement(None, "pain-scores", first, latest)
    fall = (first.value - latest.value) / first.value
    return Improvement(fall < min_fall, "pain-scores", first, latest)


def severe_disabling_pain(record: PatientRecord) -> bool:
    """Severe, disabling pain documented within the current episode (NKR R10's condition)."""
    found = record.within_episode(Concept.SEVERE_DISABLING_PAIN)
    return found is not None and found.present
