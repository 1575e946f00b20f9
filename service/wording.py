"""Card templates → text: library sentences, parameters and durations a GP reads naturally.

A card template composes from the sentence library (``[[key]]`` → ``cards/_meta/sentences.json``),
so each guideline sentence is written once per language, and takes every number from the rule's
facts, its parameters (``params.json`` and the card's ``params``) or the library's named
``values`` — never typed — so text and logic cannot drift apart. Format specs say how a number
reads: ``{weeks:dur}`` is "3 uger" up to 12 weeks, then months, then years; ``{months:mon}``
is "1 måned" / "6 måneder"; ``{min_pain_fall:pct}`` is "30 %".
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from .record import AtLeast, Span

SENTENCE_REF = re.compile(r"\[\[([a-z0-9-]+)\]\]")
#: Weeks up to this many are said in weeks; longer durations in months, from 24 months in years.
WEEKS_SAID_AS_WEEKS = 12
MONTHS_SAID_AS_MONTHS = 24
DAYS_PER_MONTH = 30.44
DAYS_PER_YEAR = 365.25


def sentence_refs(template: str) -> list[str]:
    """Library keys a template uses, in order."""
    return SENTENCE_REF.findall(template)


def expand(template: str, sentences: Mapping[str, Any], lang: str) -> str:
    """Replace ``[[key]]`` with the library sentence in ``lang`` (library sentences do not nest)."""
    return SENTENCE_REF.sub(lambda m: str(sentences[m.group(1)][lang]), template)


def placeholders(template: str) -> set[str]:
    """Placeholder names of a template (``{weeks:dur}`` → ``weeks``)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _round(value: float) -> int:
    return int(value + 0.5)


def duration(weeks: int | Span | AtLeast, units: Mapping[str, Any]) -> str:
    """Weeks as a GP says them: "3 uger", "7–11 uger", "4 måneder", "2 år"; 0 weeks as "under 1 uge";
    a lower bound as "mindst 3 måneder"."""
    if isinstance(weeks, AtLeast):
        return str(units["at_least"]).format(duration(weeks.low, units))
    low, high = (weeks.low, weeks.high) if isinstance(weeks, Span) else (int(weeks), int(weeks))
    if high < 1:
        return str(units["under_a_week"])
    if high <= WEEKS_SAID_AS_WEEKS:
        unit, a, b = "week", low, high
    elif _round(high * 7 / DAYS_PER_MONTH) < MONTHS_SAID_AS_MONTHS:
        unit, a, b = "month", _round(low * 7 / DAYS_PER_MONTH), _round(high * 7 / DAYS_PER_MONTH)
    else:
        unit, a, b = "year", _round(low * 7 / DAYS_PER_YEAR), _round(high * 7 / DAYS_PER_YEAR)
    return count(a if a == b else Span(a, b), unit, units)


def count(value: int | Span, unit: str, units: Mapping[str, Any]) -> str:
    """"1 måned", "6 måneder", "2–3 måneder": singular only for exactly one."""
    singular, plural = units[unit]
    if isinstance(value, Span):
        return f"{value.low}–{value.high} {plural}"
    return f"{value} {singular if value == 1 else plural}"


class CardFormatter(string.Formatter):
    """``str.format`` with the unit specs of this module; other values go through ``plain``."""

    def __init__(self, plain: Callable[[Any], str], units: Mapping[str, Any]) -> None:
        self.plain = plain
        self.units = units

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "dur":
            return duration(value, self.units)
        if format_spec == "mon":
            return count(value, "month", self.units)
        if format_spec == "pct":
            return f"{_round(float(value) * 100)} %"
        if format_spec:
            raise ValueError(f"unknown format spec {format_spec!r}")
        return self.plain(value)
