"""The knowledge base: rule cards from ``cards/``, loaded and checked once at start-up.

A card that does not match ``cards/_meta/rule-card.schema.json``, cites an unknown
guideline, has no rule logic (or logic without a card) stops start-up with a message
naming the file and the JSON pointer, so a content error never reaches a GP.
Loaded objects are read-only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from .record import NO_EPISODE_LIMITS, EpisodeLimits
from .rules import REGISTRY
from .rules.base import Rule
from .wording import sentence_refs

INDICATOR_RANK = {"critical": 0, "warning": 1, "info": 2}


class KnowledgeError(Exception):
    """The knowledge base is inconsistent; the message names the file and the problem."""


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class RuleCard:
    """One rule: its card data (read-only) and its logic."""

    id: str
    data: Mapping[str, Any]
    params: Mapping[str, Any]
    fn: Rule
    path: str

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def hooks(self) -> tuple[str, ...]:
        return tuple(self.data["hooks"])

    @property
    def indicator(self) -> str:
        return str(self.data["indicator"])

    @property
    def priority(self) -> int:
        return int(self.data.get("priority", 50))

    @property
    def routine(self) -> bool:
        """Pathway advice that gives way while a critical card is shown (card sets, ``cardset.py``)."""
        return bool(self.data.get("routine", False))

    @property
    def reminder_days(self) -> float | None:
        """A reminder's own interval before it is shown again with the same facts (``None``: the global one)."""
        days = self.data.get("reminder_days")
        return None if days is None else float(days)

    @property
    def source(self) -> Mapping[str, Any]:
        source: Mapping[str, Any] = self.data["source"]
        return source


@dataclass(frozen=True)
class KnowledgeBase:
    rules: Mapping[str, RuleCard]
    sources: Mapping[str, Any]
    labels: Mapping[str, Any]
    common: Mapping[str, Any]
    #: Concept → days a finding stays current (``_meta/validity.json`` with the site's overrides).
    validity: Mapping[str, int] = field(default_factory=dict)
    #: The guideline sentences cards compose from (``_meta/sentences.json``): key → da, en, source, lines.
    sentences: Mapping[str, Any] = field(default_factory=dict)
    #: Named guideline figures that are not thresholds of any rule (``2–4`` weeks to follow-up…).
    values: Mapping[str, str] = field(default_factory=dict)
    #: When silence in the record ends an open episode or starts a new one (shared parameters
    #: ``episode_inactive_days`` and ``episode_gap_days``; ``None`` = never).
    episode_limits: EpisodeLimits = NO_EPISODE_LIMITS

    def for_hook(self, hook: str) -> list[RuleCard]:
        """Rules that apply to ``hook``, most urgent first, then by priority and id."""
        rules = [r for r in self.rules.values() if hook in r.hooks]
        return sorted(rules, key=lambda r: (INDICATOR_RANK[r.indicator], r.priority, r.id))

    def reminders(self) -> dict[str, float | None]:
        """Reminder (routine) rules and each card's own interval (``None``: the global one), for the card memory."""
        return {r.id: r.reminder_days for r in self.rules.values() if r.routine}

    def label(self, concept: str, lang: str) -> str | None:
        entry = self.labels.get(concept)
        return None if entry is None else str(entry[lang])


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeError(f"{path.name}: cannot read JSON: {exc}") from exc


def _validity(meta: Path, overrides: Mapping[str, Any]) -> Mapping[str, int]:
    """The validity windows, with a site's overrides (``null`` lifts a limit); unknown concepts stop start-up."""
    shipped = _read_json(meta / "validity.json").get("days", {})
    labels = _read_json(meta / "labels.json")
    days: dict[str, int | None] = {**shipped, **overrides}
    for concept, value in days.items():
        if concept not in labels:
            raise KnowledgeError(f"validity: '{concept}' is not a concept of lbp-cds")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise KnowledgeError(f"validity: '{concept}' must be a whole number of days (at least 1) or null")
    return MappingProxyType({k: v for k, v in days.items() if v is not None})


def _text_refs(data: Mapping[str, Any]) -> list[str]:
    """Library keys used by a card's texts, in both languages and all variants."""
    refs: list[str] = []
    for texts in data["texts"].values():
        for fields in (texts, *texts.get("variants", {}).values()):
            refs += [k for name, text in fields.items() if name != "variants" for k in sentence_refs(str(text))]
    return refs


def _check_card_set(rules: Mapping[str, RuleCard]) -> None:
    """``supersedes`` names rules that exist and suggestion ids the superseding card declares."""
    for rule in rules.values():
        offered = {s["id"] for s in rule.data.get("suggestions", ())}
        for entry in rule.data.get("supersedes", ()):
            if entry["rule"] not in rules:
                raise KnowledgeError(f"{rule.path}: /supersedes: unknown rule '{entry['rule']}'")
            missing = set(entry.get("take_suggestions", ())) - offered
            if missing:
                raise KnowledgeError(f"{rule.path}: /supersedes: suggestion(s) {sorted(missing)} not declared")


def load_knowledge(
    cards_dir: Path,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    validity: Mapping[str, Any] | None = None,
) -> KnowledgeBase:
    """Read, validate and freeze every card; apply a site's parameter and validity ``overrides``."""
    meta = cards_dir / "_meta"
    schema = _read_json(meta / "rule-card.schema.json")
    validator = Draft202012Validator(schema)
    sources = _read_json(meta / "sources.json")
    labels = _read_json(meta / "labels.json")
    common = _read_json(meta / "common.json")
    library = _read_json(meta / "sentences.json")
    sentences, values = library["sentences"], {k: str(v["value"]) for k, v in library["values"].items()}
    shared = _read_json(meta / "params.json")
    overrides = dict(overrides or {})
    shared_extra = overrides.pop("*", {})
    unknown_shared = set(shared_extra) - set(shared)
    if unknown_shared:
        raise KnowledgeError(f"RULE_PARAMS: '*' (shared) has no parameter(s) {sorted(unknown_shared)}")
    shared = {**shared, **shared_extra}
    rules: dict[str, RuleCard] = {}
    for path in sorted(cards_dir.glob("*.json")):
        data = _read_json(path)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            pointer = "/" + "/".join(str(p) for p in errors[0].absolute_path)
            raise KnowledgeError(f"{path.name}: {pointer}: {errors[0].message}")
        rule_id = data["id"]
        if path.stem != rule_id:
            raise KnowledgeError(f"{path.name}: /id: '{rule_id}' must match the file name")
        for citation in (data["source"], *data.get("also_sources", ())):
            if citation["guideline"] not in sources:
                raise KnowledgeError(f"{path.name}: /source/guideline: unknown guideline '{citation['guideline']}'")
        unknown_refs = sorted(set(_text_refs(data)) - set(sentences))
        if unknown_refs:
            raise KnowledgeError(f"{path.name}: /texts: unknown sentence(s) {unknown_refs} in _meta/sentences.json")
        if "reminder_days" in data and not data.get("routine"):
            raise KnowledgeError(f"{path.name}: /reminder_days: only a routine card (a reminder) has an interval")
        if rule_id not in REGISTRY:
            raise KnowledgeError(f"{path.name}: no rule logic is registered for '{rule_id}'")
        params = {**shared, **data.get("params", {})}
        extra = overrides.pop(rule_id, {})
        unknown = set(extra) - set(params)
        if unknown:
            raise KnowledgeError(f"RULE_PARAMS: {rule_id} has no parameter(s) {sorted(unknown)}")
        params.update(extra)
        rules[rule_id] = RuleCard(rule_id, _freeze(data), MappingProxyType(params), REGISTRY[rule_id].fn, path.name)
    if overrides:
        raise KnowledgeError(f"RULE_PARAMS: unknown rule id(s) {sorted(overrides)}")
    orphans = sorted(set(REGISTRY) - set(rules))
    if orphans:
        raise KnowledgeError(f"rule logic without a card in {cards_dir.name}/: {orphans}")
    _check_card_set(rules)
    return KnowledgeBase(MappingProxyType(rules), _freeze(sources), _freeze(labels), _freeze(common),
                         _validity(meta, validity or {}), _freeze(sentences), MappingProxyType(values),
                         EpisodeLimits(_days_or_none(shared, "episode_inactive_days"),
                                       _days_or_none(shared, "episode_gap_days")))


def _days_or_none(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KnowledgeError(f"params: '{name}' must be a whole number of days (at least 1) or null")
    return value
