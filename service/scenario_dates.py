"""Moving a scenario in time: every date shifted so that the scenario's ``now`` becomes today.

Scenarios are written on a fixed clock (their ``now``); the service judges against the real
clock. Served by the demo, loaded into a FHIR server or printed as a request, a scenario is
first moved so that it means on any day what it meant on its own: a dateTime moves by exactly
``today − now`` (so "10 hours ago" stays 10 hours ago, whatever the time of day) and a date by
the number of calendar days between the two local dates (so "onset 3 weeks ago" stays 3 weeks
ago). Offsets are kept as written; the instants are what count. Partial dates (``2026-08``)
cannot be moved without changing their meaning, so :func:`check_movable` refuses them and the
example library leaves such scenarios out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CPH = ZoneInfo("Europe/Copenhagen")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
ZONELESS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
PARTIAL = re.compile(r"^\d{4}(-\d{2})?$")
#: Keys whose string values are never dates (codes, ids, references, identifiers).
NOT_DATES = frozenset({"id", "code", "system", "reference", "value", "url", "fullUrl", "display", "text"})
#: Keys that hold FHIR date, dateTime or instant values in the scenarios.
DATE_KEYS = re.compile(r"(Date|DateTime|Instant|^date|^start$|^end$|^authoredOn$|^issued$|^recorded$|^lastUpdated$)")


class NotMovable(ValueError):
    """The scenario holds a date that cannot be moved without changing its meaning."""


@dataclass(frozen=True)
class Shift:
    """How far to move: ``exact`` for dateTimes, ``days`` for dates."""

    exact: timedelta
    days: int

    @classmethod
    def between(cls, scenario_now: datetime, target_now: datetime) -> Shift:
        days = (target_now.astimezone(CPH).date() - scenario_now.astimezone(CPH).date()).days
        # In UTC: two datetimes with the same ZoneInfo subtract as wall clocks, ignoring a DST change.
        return cls(exact=target_now.astimezone(UTC) - scenario_now.astimezone(UTC), days=days)

    def value(self, text: str) -> str:
        """``text`` moved, when it is a full date or a dateTime with a zone; anything else as it is."""
        if DATE.match(text):
            return (date.fromisoformat(text) + timedelta(days=self.days)).isoformat()
        match = DATETIME.match(text)
        if match:
            moved = datetime.fromisoformat(text.replace("Z", "+00:00")) + self.exact
            spec = "microseconds" if match.group(2) else "seconds" if match.group(1) else "minutes"
            out = moved.isoformat(timespec=spec)
            return out[: -len("+00:00")] + "Z" if text.endswith("Z") else out
        return text


def _walk(value: Any, shift: Shift, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, shift, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, shift, key) for v in value]
    if isinstance(value, str) and key not in NOT_DATES and DATE_KEYS.search(key):
        return shift.value(value)
    return value


def shift_resources(value: Any, shift: Shift) -> Any:
    """A copy of ``value`` (resources, requests, bundles) with every date and dateTime moved."""
    return _walk(value, shift)


def check_movable(value: Any, where: str = "") -> None:
    """Raise :class:`NotMovable` naming the first partial or zone-less date in ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and k not in NOT_DATES and DATE_KEYS.search(k) and (
                PARTIAL.match(v) or ZONELESS.match(v)
            ):
                raise NotMovable(f"{where}{k} = {v!r} is partial or has no zone: it cannot be moved in time")
            check_movable(v, f"{where}{k}.")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_movable(v, f"{where}{i}.")
