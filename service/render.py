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
from .record import PartialDate, PatientRecord, Span
from .rules.base import Finding

UUID_NAMESPACE = uuid.UUID("5b6f4c1e-2d1f-4d8e-9a57-4c2b0d7e8a11")
RULE_SYSTEM = "https://lbp-cds.org/fhir/CodeSystem/rules"
SUMMARY_MAX = 139
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, "|".join(parts)))


class Renderer:
    """Renders findings for one language; knows the labels and standard sentences."""

    def __init__(self, kb: KnowledgeBase, lang: str, base_url: str = "") -> None:
        self.kb = kb
        self.lang = lang
        self.common = kb.common[lang]
        self.base_url = base_url.rstrip("/")

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

    def fill(self, template: str, facts: Mapping[str, Any], markdown: bool = False) -> str:
        return template.format_map({k: self.value(v, markdown) for k, v in facts.items()})

    # -- card parts ----------------------------------------------------------
    def texts(self, rule: RuleCard, finding: Finding) -> tuple[str, str]:
        texts = rule.data["texts"][self.lang]
        variant = texts.get("variants", {}).get(finding.variant, {}) if finding.variant else {}
        summary = self.fill(variant.get("summary", texts["summary"]), finding.facts)
        detail = self.fill(variant.get("detail", texts["detail"]), finding.facts, markdown=True)
        return summary, detail

    def screen_block(self, finding: Finding) -> list[str]:
        screen = finding.screen
        if screen is None:
            return []
        common = self.common
        lines = []
        if screen.found:
            lines.append(common["red_flags_found"].format(items=self.value(screen.found)))
        if screen.screened_negative and not screen.found:
            lines.append(common["red_flag_screen_negative"])
        if screen.absent:
            lines.append(common["red_flags_absent"].format(items=self.value(screen.absent)))
        if screen.history:
            lines.append(common["red_flags_history"].format(items=self.value(screen.history)))
        if screen.missing:
            lines.append(common["red_flags_missing"].format(items=self.value(screen.missing)))
        if not screen.found and not screen.absent and not screen.screened_negative:
            lines.append(common["red_flags_none_documented"])
        return lines

    def source_block(self, rule: RuleCard) -> list[str]:
        citation = rule.source
        source = self.kb.sources[citation["guideline"]]
        lines = [
            self.common["source"].format(
                label=source["label"][self.lang], section=citation["section"],
                lines=str(citation["lines"]).replace("L", ""),
            )
        ]
        if "strength" in citation:
            lines.append(self.common["strength"].format(strength=citation["strength"][self.lang]))
        if not source["in_force"]:
            lines.append(self.common["not_in_force"])
        return lines

    def suggestions(
        self, rule: RuleCard, finding: Finding, record: PatientRecord, hook_instance: str
    ) -> list[dict[str, Any]]:
        wanted = set(finding.suggestions)
        out: list[dict[str, Any]] = []
        for spec in rule.data.get("suggestions", ()):
            if spec["id"] not in wanted:
                continue
            key = stable_uuid(hook_instance, rule.id, finding.order_ref or "", spec["id"])
            actions = [self._action(a, finding, record, key) for a in spec["actions"]]
            if any(a is None for a in actions):
                continue  # e.g. "delete" of an order that has no id the EHR could match
            suggestion: dict[str, Any] = {"label": spec["label"][self.lang], "uuid": key, "actions": actions}
            if "isRecommended" in spec:
                suggestion["isRecommended"] = spec["isRecommended"]
            out.append(suggestion)
        return out

    def _action(
        self, spec: Mapping[str, Any], finding: Finding, record: PatientRecord, key: str
    ) -> dict[str, Any] | None:
        description = spec["description"][self.lang]
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
    def card(self, rule: RuleCard, finding: Finding, record: PatientRecord, hook_instance: str) -> dict[str, Any]:
        summary, detail = self.texts(rule, finding)
        blocks = [detail, *self.screen_block(finding)]
        if finding.not_documented:
            blocks.append(self.common["not_documented"].format(items=self.value(finding.not_documented)))
        blocks += [str(self.common[n]) for n in finding.notes]
        if finding.order_ref:
            order = next((o for o in record.draft_orders if o.ref == finding.order_ref), None)
            name = (order.display if order and order.display else None) or finding.order_ref
            blocks.append(self.common["order_about"].format(order=escape_markdown(name)))
        if record.unavailable:
            blocks.append(self.common["data_unavailable"].format(items=self.join(sorted(record.unavailable))))
        if record.incomplete:
            blocks.append(self.common["data_incomplete"].format(items=self.join(sorted(record.incomplete))))
        blocks += self.source_block(rule)
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
            "detail": "\n\n".join(b for b in blocks if b),
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


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return copy.copy(value)
