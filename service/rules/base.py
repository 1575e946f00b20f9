"""What a rule is, what it returns, and the one registry of rules.

A rule is ``fn(record, params) -> Iterable[Finding]``: zero findings when it does not
fire, one per draft order for order rules. ``params`` are the rule's thresholds from
its card file (``cards/<RULE-ID>.json`` → ``params``), possibly overridden by the site's
configuration, so no number a clinician may want to tune is written in code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..record import PatientRecord

Params = Mapping[str, Any]
Rule = Callable[[PatientRecord, Params], Iterable["Finding"]]


@dataclass(frozen=True)
class RedFlagScreen:
    """What was checked for red flags, and with what result.

    ``found`` are documented present now, ``absent`` checked and documented absent now,
    ``history`` documented only in the past, ``missing`` have nothing current. ``screened_negative`` is an explicit
    ``red-flag-screen`` = false ("screened, none found"). Cards list all three, so that
    "no red flags documented" is never rendered as "no red flags".
    """

    found: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    #: Documented in the past only (a previous cancer, an old fall): not now, and never "absent".
    history: tuple[str, ...] = ()
    screened_negative: bool = False

    @property
    def any_found(self) -> bool:
        return bool(self.found)


@dataclass(frozen=True)
class Finding:
    """A rule that fired, with the facts it used.

    ``facts`` fill the placeholders of the card texts (``{weeks}``, ``{onset}``…);
    values may be ints, strings, datetimes or tuples of concept ids (rendered as
    localised labels). ``notes`` are keys of standard sentences in ``cards/_common.json``
    (e.g. ``"onset_from_recorded_date"``) that qualify the facts.
    """

    rule_id: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    screen: RedFlagScreen | None = None
    #: The draft order the finding is about (``"ServiceRequest/abc"``), for order hooks.
    order_ref: str | None = None
    #: Overrides the card's default indicator (e.g. imaging where acute referral is due).
    indicator: str | None = None
    #: Ids of suggestions (declared in the card file) that apply to this finding.
    suggestions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: Concepts the rule would have weighed but which are not documented (shown as unknown).
    not_documented: tuple[str, ...] = ()
    #: Text variant key when a card has more than one (``texts.<lang>.variants``).
    variant: str | None = None
    #: ``False`` for a near miss a rule reports only for the explain trace; never a card.
    fired: bool = True


@dataclass(frozen=True)
class RegisteredRule:
    rule_id: str
    fn: Rule


REGISTRY: dict[str, RegisteredRule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    """Register ``fn`` as the logic of ``rule_id``; its texts come from ``cards/``."""

    def register(fn: Rule) -> Rule:
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id} registered twice")
        REGISTRY[rule_id] = RegisteredRule(rule_id, fn)
        return fn

    return register
