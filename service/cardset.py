"""Card sets: what a GP sees together in one hook call, decided by the card files, not by rule ids in code.

Rules stay independent and pure; this step runs after them and before rendering:

1. While a ``critical`` card is shown, cards marked ``routine`` (pathway advice such as "plan a
   follow-up in 2–4 weeks") are suppressed, and suggestions marked ``routine`` are dropped from the
   other cards: a follow-up plan never stands beside an acute referral.
2. One problem, one card: a card whose file ``supersedes`` another (optionally only some of its
   variants) hides that card when both would show. It takes over the hidden card's draft order and
   the listed suggestions (``take_suggestions``), so "remove the outpatient MRI" is still offered.

Every suppressed card is reported with its reason; the trace lists it, so nothing the rules found
is lost — only not shown twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .knowledge import RuleCard
from .rules.base import Finding

Fired = list[tuple[RuleCard, Finding]]


def indicator(rule: RuleCard, finding: Finding) -> str:
    return finding.indicator or rule.indicator


def _routine_suggestions(rule: RuleCard) -> set[str]:
    return {s["id"] for s in rule.data.get("suggestions", ()) if s.get("routine")}


def _matches(entry: Mapping[str, Any], finding: Finding) -> bool:
    variants = entry.get("variants")
    return variants is None or finding.variant in variants


def card_set(fired: Fired) -> tuple[Fired, dict[str, str]]:
    """The cards to show (findings possibly taking over an order) and, per hidden rule id, why."""
    reasons: dict[str, str] = {}
    kept: Fired = list(fired)
    critical = [rule.id for rule, finding in kept if indicator(rule, finding) == "critical"]
    if critical:
        shown_by = ", ".join(dict.fromkeys(critical))
        for rule, _ in kept:
            if rule.routine and indicator(rule, _) != "critical":
                reasons[rule.id] = f"routine advice while the critical card {shown_by} is shown"
        kept = [(r, f) for r, f in kept if r.id not in reasons]
        kept = [(r, replace(f, suggestions=tuple(s for s in f.suggestions if s not in _routine_suggestions(r))))
                for r, f in kept]
    for index, (rule, finding) in enumerate(kept):
        for entry in rule.data.get("supersedes", ()):
            for other_index, (other, other_finding) in enumerate(kept):
                if other.id != entry["rule"] or other_index == index or not _matches(entry, other_finding):
                    continue
                if other_finding.order_ref and finding.order_ref and other_finding.order_ref != finding.order_ref:
                    continue  # this card already speaks for another order; the other card stays
                if other_finding.order_ref and not finding.order_ref:
                    take = tuple(entry.get("take_suggestions", ()))
                    finding = replace(finding, order_ref=other_finding.order_ref,
                                      suggestions=tuple(dict.fromkeys((*finding.suggestions, *take))))
                    kept[index] = (rule, finding)
                reasons[other.id] = f"same problem as {rule.id}, which says it more specifically"
                kept[other_index] = (other, replace(other_finding, fired=False))
    return [(r, f) for r, f in kept if f.fired], reasons
