"""Run one rule on a record and render what it finds, as the service would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.knowledge import load_knowledge
from service.record import PatientRecord
from service.render import Renderer
from service.rules import REGISTRY
from service.rules.base import Finding
from tests.factories import params_of

KB = load_knowledge(Path(__file__).resolve().parents[2] / "cards")


def run(rule_id: str, record: PatientRecord, **params: Any) -> list[Finding]:
    """The findings that would become cards (near misses left out)."""
    return [f for f in REGISTRY[rule_id].fn(record, params_of(rule_id, **params)) if f.fired]


def cards(rule_id: str, record: PatientRecord, **params: Any) -> list[dict[str, dict[str, Any]]]:
    """Each finding rendered in Danish and English; fails if a text placeholder is missing."""
    out = []
    for finding in run(rule_id, record, **params):
        rendered = {lang: Renderer(KB, lang, "https://cds.example").card(KB.rules[rule_id], finding, record, "h")
                    for lang in ("da", "en")}
        for card in rendered.values():
            assert len(card["summary"]) < 140 and not card["summary"].endswith("…"), card["summary"]
        out.append(rendered)
    return out


def fires(rule_id: str, record: PatientRecord, **params: Any) -> bool:
    return bool(cards(rule_id, record, **params))
