"""Clinical derivations several rules share, so that they agree on what a fact means.

Each answers with what it used, because cards must say why. ``None`` always means
"not documented / cannot tell", never "no".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..concepts import CONSERVATIVE_TREATMENT_CONCEPTS, EPISODE_CONCEPTS, Concept
from ..record import CareEvent, Episode, Measurement, PatientRecord


@dataclass(frozen=True)
class Duration:
    """How long the back pain has lasted, and on what basis."""

    episode: Episode | None
    days: int | None

    @property
    def whole_weeks(self) -> int | None:
        return None if self.days is None else self.days // 7

    @property
    def onset(self) -> datetime | None:
        return None if self.episode is None else self.episode.onset

    def notes(self) -> tuple[str, ...]:
        """Standard sentences that qualify the duration (``cards/_meta/common.json``)."""
        if self.episode is None:
            return ()
        basis = self.episode.onset_basis
        if basis == "recordedDate":
            return ("onset_from_recorded_date",)
        if basis == "onsetPeriod.start":
            return ("onset_from_period",)
        if basis == "unknown":
            if self.episode.source.startswith(("ServiceRequest/", "MedicationRequest/")):
                return ("episode_from_order_reason", "onset_unknown")
            return ("onset_unknown",)
        return ()


def back_pain_duration(record: PatientRecord, concepts: frozenset[str] = EPISODE_CONCEPTS) -> Duration:
    """Duration since the earliest known onset among episodes of ``concepts``.

    With episodes but no onset anywhere, the duration is unknown (``days`` None) and the
    episode is still returned so the card can say why.
    """
    dated = record.earliest_onset(concepts)
    if dated is not None and dated.onset is not None:
        return Duration(dated, (record.now - dated.onset).days)
    undated = record.episodes_of(concepts)
    return Duration(undated[0] if undated else None, None)


def nerve_root_involvement(record: PatientRecord) -> bool:
    """Nerve-root pain: a radiculopathy/sciatica diagnosis or a positive (crossed) SLR."""
    return bool(record.episodes_of([Concept.NERVE_ROOT])) or record.has(Concept.NERVE_ROOT) or any(
        record.has(c) for c in (Concept.STRAIGHT_LEG_RAISE, Concept.CROSSED_STRAIGHT_LEG_RAISE)
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
    """Explicit finding first; else compare the first and latest pain score since ``since``."""
    status = record.status(Concept.NO_SATISFACTORY_IMPROVEMENT)
    if status is not None:
        return Improvement(status, "finding")
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
