"""Findings → CDS Hooks cards, in the GP's language.

Cards are built as dicts and serialised by Flask's JSON encoder, never from a JSON text
template. Everything is deterministic: the same request gives the same cards, and a
card's ``uuid`` derives from ``hookInstance`` + rule id (+ order), so feedback can be
traced to the rule version that produced the card.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from .knowledge import KnowledgeBase, RuleCard
from .record import AtLeast, PartialDate, PatientRecord, Span
from .rules.base import Finding
from .wording import CardFormatter, expand, sentence_refs

UUID_NAMESPACE = uuid.UUID("5b6f4c1e-2d1f-4d8e-9a57-4c2b0d7e8a11")
RULE_SYSTEM = "https://lbp-cds.org/fhir/CodeSystem/rules"
SUMMARY_MAX = 139
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: A card's text fields in the order they are shown: summary, then the detail's bullets.
TEXT_FIELDS = ("summary", "action", "facts", "more", "on_order")


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, "|".join(parts)))


class Renderer:
    """Renders findings for one language; knows the labels and standard sentences."""

    def __init__(self, kb: KnowledgeBase, lang: str, base_url: str = "") -> None:
        self.kb = kb
        self.lang = lang
        self.common = kb.common[lang]
        self.base_url = base_url.rstrip("/")
        self.formatter = CardFormatter(self.value, self.common["units"])

    # -- values ----------------------------------------------------------------
    def date(self, value: date | datetime) -> str:
        months = self.common["months"]
        return str(self.common["date_format"]).format(
            day=value.day, month=months[value.month - 1], year=value.year
        )

    def join(self, items: Sequence[str]) -> str:
        items = list(items)
        if len(items) <= 1:
            return "".join(items)
        return str(self.common["list_separator"]).join(items[:-1]) + str(self.common["list_last_separator"]) + items[-1]

    def partial(self, value: PartialDate) -> str:
        """A month-only date as "september 2026", a year-only one as "2026": never an invented day."""
        if value.precision == "year":
            return str(value.earliest.year)
        if value.precision == "month":
            return f"{self.common['months'][value.earliest.month - 1]} {value.earliest.year}"
        return self.date(value.earliest)

    def value(self, value: Any, markdown: bool = False) -> str:
        """A fact as text; with ``markdown``, text that is not ours (no label) is escaped."""
        if isinstance(value, (datetime, date)):
            return self.date(value)
        if isinstance(value, PartialDate):
            return self.partial(value)
        if isinstance(value, Span):
            return f"{value.low}–{value.high}"
        if isinstance(value, AtLeast):
            return f"≥ {value.low}"
        if isinstance(value, (list, tuple, set, frozenset)):
            return self.join([self.value(v, markdown) for v in value])
        if isinstance(value, float):
            return str(int(value)) if value.is_integer() else f"{value:.1f}"
        if isinstance(value, str):
            label = self.kb.label(value, self.lang)
            if label:
                return label
            return escape_markdown(value) if markdown else value
        return str(value)

    def inert(self, value: Any) -> Any:
        """A fact made safe for card markdown: text that is not ours (not a concept label) is escaped."""
        if isinstance(value, str) and not self.kb.label(value, self.lang):
            return escape_markdown(value)
        if isinstance(value, (list, tuple)):
            return tuple(self.inert(v) for v in value)
        return value

    def fill(
        self, template: str, facts: Mapping[str, Any], rule: RuleCard | None = None, markdown: bool = False
    ) -> str:
        """Fill a template: library sentences first, then facts, the rule's parameters and named values.

        With ``markdown`` (the detail), facts that came from the request are escaped; our own
        sentences, labels and values are markdown as written.
        """
        if markdown:
            facts = {k: self.inert(v) for k, v in facts.items()}
        text = expand(template, self.kb.sentences, self.lang)
        values: dict[str, Any] = {**self.kb.values}
        if rule is not None:
            values |= {**rule.params, "params": rule.params,
                       "source_tag": self.kb.sources[rule.source["guideline"]]["tag"][self.lang],
                       "source_name": self.kb.sources[rule.source["guideline"]]["name"][self.lang]}
        values |= facts
        return self.formatter.vformat(text, (), values)

    # -- card parts ----------------------------------------------------------
    def fields(self, rule: RuleCard, finding: Finding) -> dict[str, str]:
        """The card's templates in this language, a variant's fields replacing the base ones."""
        texts = rule.data["texts"][self.lang]
        variant = texts.get("variants", {}).get(finding.variant, {}) if finding.variant else {}
        return {k: str(variant.get(k, texts.get(k, ""))) for k in TEXT_FIELDS}

    def texts(self, rule: RuleCard, finding: Finding, record: PatientRecord) -> tuple[str, list[str]]:
        """Summary and the detail's bullets: the action first, then the record facts, then one more line.

        ``on_order`` is said only when the card speaks for a draft order (one it took over from a
        card it supersedes, see ``cardset.py``); ``{order}`` is that order's name.
        """
        fields = self.fields(rule, finding)
        facts = dict(finding.facts)
        if finding.order_ref:
            facts.setdefault("order", self.order_name(finding, record))
        else:
            fields["on_order"] = ""
        summary = self.fill(fields["summary"], facts, rule)
        bullets = [_capital(self.fill(fields[k], facts, rule, markdown=True)) for k in TEXT_FIELDS[1:] if fields[k]]
        return summary, bullets

    def order_name(self, finding: Finding, record: PatientRecord) -> str:
        """The draft order's display name (free text from the request), else its reference."""
        order = next((o for o in record.draft_orders if o.ref == finding.order_ref), None)
        return (order.display if order and order.display else None) or str(finding.order_ref)

    def screen_line(self, rule: RuleCard, finding: Finding) -> str | None:
        """Red flags in one line: found (not already named), checked absent, past only; the rest as a count.

        "Not documented" is never said as "absent": the unknown flags are counted (the list is in
        the trace, the checklist on the rule page). Where the advice rests on no red flag being
        present (``honesty`` in the card file) and nothing at all is documented, the line asks.
        """
        screen = finding.screen
        if screen is None:
            return None
        common = self.common
        named = {v for value in finding.facts.values() if isinstance(value, tuple) for v in value}
        parts = []
        found = [c for c in screen.found if c not in named]
        if found:
            parts.append(common["flags_found"].format(items=self.value(found)))
        if screen.absent:
            parts.append(common["flags_absent"].format(items=self.value(screen.absent)))
        if screen.history:
            parts.append(common["flags_history"].format(items=self.value(screen.history)))
        total = len({*screen.found, *screen.absent, *screen.history, *screen.missing})
        if screen.screened_negative and not screen.found:
            parts.append(common["flags_screen_negative"])
        elif rule.data.get("honesty") and not (screen.found or screen.absent or screen.history):
            parts.append(common["flags_none_documented"])
        elif screen.missing:
            parts.append(common["flags_missing"].format(count=len(screen.missing), total=total))
        if not parts:
            return None
        return str(common["flags_line"]).format(parts=str(common["flags_part_separator"]).join(parts))

    def order_line(self, finding: Finding, record: PatientRecord) -> str | None:
        """Which draft order the card is about, when the GP has more than one selected."""
        if not finding.order_ref or sum(1 for o in record.draft_orders if o.selected) < 2:
            return None
        return str(self.common["order_about"].format(order=escape_markdown(self.order_name(finding, record))))

    def source_line(self, rule: RuleCard, finding: Finding) -> str:
        """One line: the guideline(s) the card's sentences come from, the section, and the rule page."""
        fields = self.fields(rule, finding)
        guidelines = [rule.source["guideline"]]
        for key in (k for text in fields.values() for k in sentence_refs(text)):
            source = self.kb.sentences[key].get("source")
            if source and source not in guidelines:
                guidelines.append(source)
        names = [str(self.kb.sources[g]["short"][self.lang]) for g in guidelines]
        section = rule.source.get("short", {}).get(self.lang)
        line = " · ".join([names[0], *([section] if section else []), *names[1:]])
        url = self.rule_url(rule)
        if url:
            line += " · " + self.common["more_link"].format(url=url)
        return line

    def rule_url(self, rule: RuleCard) -> str | None:
        """The rule page in the card's language; none when the service does not know its own address."""
        return f"{self.base_url}/knowledge/rules/{rule.id}?lang={self.lang}" if self.base_url else None

    def suggestions(
        self, rule: RuleCard, finding: Finding, record: PatientRecord, hook_instance: str
    ) -> list[dict[str, Any]]:
        wanted = set(finding.suggestions)
        out: list[dict[str, Any]] = []
        for spec in rule.data.get("suggestions", ()):
            if spec["id"] not in wanted:
                continue
            key = stable_uuid(hook_instance, rule.id, finding.order_ref or "", spec["id"])
            actions = [self._action(a, rule, finding, record, key) for a in spec["actions"]]
            if any(a is None for a in actions):
                continue  # e.g. "delete" of an order that has no id the EHR could match
            label = self.fill(spec["label"][self.lang], {}, rule)
            suggestion: dict[str, Any] = {"label": label, "uuid": key, "actions": actions}
            if "isRecommended" in spec:
                suggestion["isRecommended"] = spec["isRecommended"]
            out.append(suggestion)
        return out

    def _action(
        self, spec: Mapping[str, Any], rule: RuleCard, finding: Finding, record: PatientRecord, key: str
    ) -> dict[str, Any] | None:
        description = self.fill(spec["description"][self.lang], {}, rule)
        if spec["type"] == "delete-draft":
            if not finding.order_ref or "#" in finding.order_ref:
                return None
            return {"type": "delete", "description": description, "resourceId": finding.order_ref}
        resource = _thaw(spec["resource"])
        resource.setdefault("id", key)
        resource.setdefault("status", "draft")
        if resource["resourceType"] in ("ServiceRequest", "MedicationRequest"):
            resource.setdefault("intent", "proposal")
        if record.patient_id:
            resource.setdefault("subject", {"reference": f"Patient/{record.patient_id}"})
        return {"type": "create", "description": description, "resource": resource}

    # -- the card ----------------------------------------------------------------
    def detail(self, rule: RuleCard, finding: Finding, record: PatientRecord) -> tuple[str, str]:
        """Summary and detail: bullets (action, facts, one more), the honesty line, notes, then the source."""
        summary, bullets = self.texts(rule, finding, record)
        screen = self.screen_line(rule, finding)
        if screen:
            bullets.append(screen)
        if finding.not_documented:
            bullets.append(self.common["not_documented"].format(items=self.value(finding.not_documented)))
        bullets += [str(self.common[n]) for n in finding.notes]
        order = self.order_line(finding, record)
        if order:
            bullets.append(order)
        if record.unavailable:
            bullets.append(self.common["data_unavailable"].format(items=self.join(sorted(record.unavailable))))
        if record.incomplete:
            bullets.append(self.common["data_incomplete"].format(items=self.join(sorted(record.incomplete))))
        body = "\n".join(f"- {b}" for b in bullets if b)
        return summary, f"{body}\n\n{self.source_line(rule, finding)}"

    # -- the card ----------------------------------------------------------------
    def card(self, rule: RuleCard, finding: Finding, record: PatientRecord, hook_instance: str) -> dict[str, Any]:
        summary, detail = self.detail(rule, finding, record)
        source_meta = self.kb.sources[rule.source["guideline"]]
        source: dict[str, Any] = {
            "label": source_meta["label"][self.lang],
            "topic": {"system": RULE_SYSTEM, "code": rule.id, "display": summary_title(rule, self.lang)},
        }
        url = f"{self.base_url}/knowledge/rules/{rule.id}" if self.base_url else source_meta.get("url")
        if url:
            source["url"] = url
        card: dict[str, Any] = {
            "uuid": stable_uuid(hook_instance, rule.id, finding.order_ref or ""),
            "summary": shorten(summary),
            "indicator": finding.indicator or rule.indicator,
            "detail": detail,
            "source": source,
        }
        suggestions = self.suggestions(rule, finding, record, hook_instance)
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = "at-most-one"
        reasons = rule.data.get("overrideReasons", ())
        if reasons:
            card["overrideReasons"] = [
                {"system": r.get("system", "https://lbp-cds.org/fhir/CodeSystem/override-reasons"),
                 "code": r["code"], "display": r["display"][self.lang]}
                for r in reasons
            ]
        extension: dict[str, Any] = {"ruleId": rule.id, "ruleVersion": rule.version}
        if finding.order_ref:
            extension["orderRef"] = finding.order_ref
        card["extension"] = {"dk.lbp-cds.rule": extension}
        return card


def escape_markdown(text: str) -> str:
    """Text from the request (an order's name, a medicine's) made inert in card markdown.

    ``detail`` is GitHub-flavoured markdown: an order named ``[Klik](https://evil)`` or
    ``<img src=x>``, or one with a newline and ``# heading``, would otherwise become a link,
    HTML or structure in the EHR. Every ASCII punctuation mark is backslash-escaped (which
    CommonMark renders as the mark itself), control characters and line breaks become spaces.
    """
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return _PUNCTUATION.sub(r"\\\g<0>", flat)


def summary_title(rule: RuleCard, lang: str) -> str:
    """The rule's stable name in ``lang`` (``source.topic.display``)."""
    return str(rule.data["title"][lang])


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """Cut at a word boundary so the summary stays under the spec's 140 characters."""
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _capital(text: str) -> str:
    """Capitalise a bullet's first letter (library sentences start in lower case), past any ``**``."""
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1:]
    return text


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return copy.copy(value)
