"""Muscle strength read from the numbers: acute paresis, progression, a paresis that is not new.

DSAM grades strength 0–5 (003 L290-L305): grade 4 is mild nerve-root involvement, grade 3 or
below a significant paresis for hospital assessment; grade ≤ 3 arisen within 48 hours, and
progressive deficits, need acute referral (L394-L395, L644). A diagnosis ("paresis", "foot
drop") says less than a grade measured after it, so a later measurement overrides it in both
directions, and the result says which it used (``basis``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..concepts import Concept
from ..record import Measurement, PatientRecord, Series
from .base import Params


@dataclass(frozen=True)
class Paresis:
    """What the record says about a paresis now, and from what."""

    basis: str  # "grades" | "diagnosis" | "diagnosis-and-grade"
    since: datetime | None
    grade: int | None = None
    earlier_grade: int | None = None
    site: str = ""


def _window(params: Params) -> timedelta:
    return timedelta(hours=float(params["paresis_window_hours"]))


def _latest_after(record: PatientRecord, moment: datetime) -> Measurement | None:
    """The weakest of the latest grades measured (per site) at or after ``moment``."""
    latest = [s.since(moment)[-1] for s in record.strength_series() if s.since(moment)]
    return min(latest, key=lambda m: m.value) if latest else None


def acute_paresis(record: PatientRecord, params: Params) -> Paresis | None:
    """Grade ≤ ``paresis_max_grade`` arisen within ``paresis_window_hours``.

    From the numbers: the run of low grades that reaches now began within the window and
    follows a higher grade measured within the window before it. From a diagnosis: a current
    paresis / foot drop with onset within the window — unless a grade measured since is above
    the threshold (then it is not an acute paresis whatever the diagnosis says).
    """
    window, max_grade = _window(params), float(params["paresis_max_grade"])
    for series in record.strength_series():
        low = series.first_at_or_below(max_grade)
        if low is None or low.when is None or record.now - low.when > window:
            continue
        fall = series.fall_within(low.when, window)
        if fall is not None:
            latest = series.latest or low
            return Paresis("grades", low.when, int(latest.value), int(fall[0].value), series.site)
    diagnosis = record.current(Concept.PARESIS)
    if diagnosis is None or not diagnosis.present or diagnosis.when is None:
        return None
    if not timedelta(0) <= record.now - diagnosis.when <= window:
        return None
    measured = _latest_after(record, diagnosis.when)
    if measured is None:
        return Paresis("diagnosis", diagnosis.when)
    if measured.value > max_grade:
        return None
    return Paresis("diagnosis-and-grade", diagnosis.when, int(measured.value), site=measured.site)


def _recent_falls(record: PatientRecord, params: Params) -> Iterator[tuple[Series, Measurement, Measurement]]:
    """Per series whose latest grade is within ``progression_window_days``: its largest fall in that window.

    An old fall is history, not now, so the latest grade itself must be recent.
    """
    window = timedelta(days=float(params["progression_window_days"]))
    for series in record.strength_series():
        latest = series.latest
        if latest is None or latest.when is None or record.now - latest.when > window:
            continue
        fall = series.fall_within(latest.when, window)
        if fall is not None:
            yield series, fall[0], fall[1]


def measured_progression(record: PatientRecord, params: Params) -> tuple[Series, Measurement, Measurement] | None:
    """A falling series: ≥ ``progression_min_fall`` grades lost within ``progression_window_days``."""
    min_fall = float(params["progression_min_fall"])
    falls = _recent_falls(record, params)
    return next(((s, top, last) for s, top, last in falls if top.value - last.value >= min_fall), None)


def mild_progression(record: PatientRecord, params: Params) -> tuple[Measurement, Measurement] | None:
    """A smaller fall within the window that stays above the paresis threshold (5 → 4)."""
    max_grade = float(params["paresis_max_grade"])
    return next(((top, last) for _, top, last in _recent_falls(record, params) if last.value > max_grade), None)


def current_paresis(record: PatientRecord, params: Params) -> Paresis | None:
    """A paresis of grade ≤ threshold now, new or not.

    The weakest latest grade measured within ``strength_current_days``; or a current paresis
    diagnosis no grade measured since contradicts.
    """
    max_grade = float(params["paresis_max_grade"])
    recent = record.now - timedelta(days=float(params["strength_current_days"]))
    latest = [s.latest for s in record.strength_series() if s.latest and s.latest.when and s.latest.when >= recent]
    if latest:
        weakest = min(latest, key=lambda m: m.value)
        if weakest.value <= max_grade:
            return Paresis("grades", weakest.when, int(weakest.value), site=weakest.site)
    diagnosis = record.current(Concept.PARESIS)
    if diagnosis is None or not diagnosis.present:
        return None
    measured = _latest_after(record, diagnosis.when) if diagnosis.when else None
    if measured is not None and measured.value > max_grade:
        return None
    return Paresis("diagnosis", diagnosis.when, None if measured is None else int(measured.value))
