"""Every card a GP can see, rendered with representative facts (``docs/cards.md``, checklist tests).

Each rule's every text variant is rendered in both languages from sample facts, so a clinician
reviews all texts in one place and the tests check every rendering against the card budget. The
samples are typical values (a 3-week episode, an MRI draft, tramadol), not a patient; the three
example patients of the card review are evaluated end to end from ``docs/requests/review-*.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .knowledge import KnowledgeBase, RuleCard
from .record import DraftOrder, PatientRecord
from .render import TEXT_FIELDS, Renderer
from .rules.base import Finding, RedFlagScreen
from .rules.red_flags import SCREENED
from .wording import expand, placeholders

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
ORDER_REF = "ServiceRequest/example-order"
#: A typical value for each placeholder a rule's facts fill.
SAMPLE: Mapping[str, Any] = {
    "imaging": "lumbar-mri", "onset": datetime(2026, 10, 26, tzinfo=UTC), "weeks": 3, "since": datetime(2026, 11, 15,
                                                                                                        tzinfo=UTC),
    "min_weeks": 6, "max_weeks": 8, "checked": ("vertebral-fracture", "spondylolisthesis", "spondylolysis",
                                                "osteoporosis"),
    "flags": ("malignancy", "unexplained-weight-loss"), "signs": ("saddle-anaesthesia",), "medicine": "Tramadol 50 mg",
    "risks": ("anticoagulant",), "age": 72, "reasons": ("nerve-root-involvement",), "pain_score": 8,
    "first_score": 7, "latest_score": 6, "months": 2, "min_months": 6, "referral": "rheumatology-referral",
    "deadline": datetime(2026, 12, 28, tzinfo=UTC), "deadline_weeks": 12, "grade": 2, "earlier_grade": 4,
    "max_grade": 3, "window_hours": 48, "recorded": datetime(2026, 11, 15, tzinfo=UTC),
    "earlier": datetime(2026, 11, 9, tzinfo=UTC), "measured": datetime(2026, 11, 15, tzinfo=UTC),
    "features": ("night-pain", "morning-stiffness-over-30-min"), "count": 3, "onset_age": 29,
    "symptoms": ("atypical-neurological-symptoms",), "risk": ("osteoporosis",), "last_review": datetime(2025, 9, 3,
                                                                                                       tzinfo=UTC),
    "exercise_weeks": 6, "review_weeks": 4,
}
#: Where a variant needs other values to be the situation it describes.
SAMPLE_FOR: Mapping[tuple[str, str | None], Mapping[str, Any]] = {
    ("IMG-NOT-INDICATED", "subacute"): {"weeks": 8},
    ("IMG-NERVE-ROOT-EARLY", "improving"): {"weeks": 7}, ("IMG-NERVE-ROOT-EARLY", "improvement_not_documented"):
        {"weeks": 7},
    ("IMG-NERVE-ROOT-INDICATED", None): {"weeks": 7}, ("IMG-NERVE-ROOT-INDICATED", "pain_scores"): {"weeks": 7},
    ("IMG-STENOSIS-EARLY", "improving"): {"weeks": 9}, ("IMG-STENOSIS-EARLY", "improvement_not_documented"):
        {"weeks": 9},
    ("IMG-STENOSIS-INDICATED", None): {"weeks": 10}, ("IMG-STENOSIS-INDICATED", "pain_scores"): {"weeks": 10},
    ("IMG-INDICATED-RED-FLAG", "acute"): {"flags": ("saddle-anaesthesia",)},
    ("REF-BACK-MEDICINE", None): {"weeks": 7}, ("REF-EXERCISE-THERAPY", None): {"weeks": 8},
    ("REF-SURGICAL-ASSESSMENT-12W", None): {"weeks": 9},
    ("REF-SURGICAL-ASSESSMENT-12W", "no_treatment_documented"): {"weeks": 9},
    ("REF-SURGICAL-ASSESSMENT-OVERDUE", None): {"weeks": 16}, ("FU-SICK-LEAVE", None): {"weeks": 6},
    ("FU-ANALGESIC-REVIEW", None): {"weeks": 5}, ("RF-SERIOUS-PATHOLOGY", None): {"flags": ("malignancy",)},
    ("RF-SERIOUS-PATHOLOGY", "both"): {"flags": ("malignancy",)},
    ("RF-SUSPECTED-SERIOUS", None): {"flags": ("malignancy",)}, ("RF-PARESIS-NON-ACUTE", None): {"grade": 3},
    ("REF-ACUPUNCTURE", None): {"weeks": 4}, ("RF-ACUTE-PARESIS", "diagnosis_and_grade"): {"grade": 3},
    ("RF-PROGRESSIVE-DEFICIT", "grades"): {"earlier_grade": 5},
    ("MED-PARACETAMOL-MONOTHERAPY", None): {"medicine": "Panodil 500 mg"},
    ("MED-PARACETAMOL-MONOTHERAPY", "first"): {"medicine": "Panodil 500 mg"},
    ("MED-NSAID-CAUTION", None): {"medicine": "Ibuprofen 400 mg"},
    ("MED-NSAID-CAUTION", "age_only"): {"medicine": "Ibuprofen 400 mg"},
    ("MED-NSAID-CAUTION", "age_and_risks"): {"medicine": "Ibuprofen 400 mg"},
    ("MED-GABAPENTINOID", None): {"medicine": "Pregabalin 75 mg"},
    ("MED-MUSCLE-RELAXANT", None): {"medicine": "Klorzoxazon 250 mg"},
    ("MED-BENZODIAZEPINE", None): {"medicine": "Diazepam 5 mg"},
    ("ORDER-UNREADABLE", None): {"order": "MedicationRequest/rx-1",
                                 "reason": "MedicationRequest/rx-1 skipped: subject: Field required"},
}
#: Where a rule's windows differ from the sample's (the stenosis window is 8–12 weeks).
SAMPLE_FOR_RULE: Mapping[str, Mapping[str, Any]] = {
    "IMG-STENOSIS-EARLY": {"min_weeks": 8, "max_weeks": 12},
    "IMG-STENOSIS-INDICATED": {"min_weeks": 8, "max_weeks": 12},
}
#: Rules whose findings carry a red-flag screen (the imaging and red-flag rules).
SCREENING_PREFIXES = ("IMG-", "RF-")
NO_SCREEN = ("RF-INFLAMMATORY",)


@dataclass(frozen=True)
class Rendered:
    rule_id: str
    variant: str | None
    lang: str
    card: dict[str, Any]


def variants(rule: RuleCard) -> list[str | None]:
    """The base text and every variant the card file declares."""
    return [None, *rule.data["texts"]["da"].get("variants", {})]


def sample_finding(kb: KnowledgeBase, rule: RuleCard, variant: str | None) -> Finding:
    """A finding with typical facts for every placeholder the variant's texts use."""
    names: set[str] = set()
    texts = rule.data["texts"]["da"]
    chosen = {**texts, **(texts.get("variants", {}).get(variant, {}) if variant else {})}
    for field in TEXT_FIELDS:
        names |= placeholders(expand(str(chosen.get(field, "")), kb.sentences, "da"))
    values = {**SAMPLE, **SAMPLE_FOR_RULE.get(rule.id, {}), **SAMPLE_FOR.get((rule.id, variant), {})}
    facts = {n: values[n] for n in names if n in values and n not in rule.params and n not in kb.values}
    screen = None
    if has_screen(rule):
        named = {v for value in facts.values() if isinstance(value, tuple) for v in value}
        found = tuple(c for c in SCREENED if c in named)
        screen = RedFlagScreen(found=found, missing=tuple(c for c in SCREENED if c not in found))
    hooks = rule.hooks
    order = ORDER_REF if "patient-view" not in hooks else None
    indicator = "critical" if variant == "acute" else None
    not_documented = ("gastrointestinal-risk", "kidney-disease") if rule.id == "MED-NSAID-CAUTION" else ()
    return Finding(rule.id, facts=facts, screen=screen, order_ref=order, variant=variant, indicator=indicator,
                   suggestions=tuple(s["id"] for s in rule.data.get("suggestions", ())),
                   not_documented=not_documented)


def has_screen(rule: RuleCard) -> bool:
    """Whether the rule's findings carry a red-flag screen (the imaging and red-flag rules)."""
    return rule.id.startswith(SCREENING_PREFIXES) and rule.id not in NO_SCREEN


def record_for_samples() -> PatientRecord:
    order = DraftOrder(ORDER_REF, "ServiceRequest", frozenset({"lumbar-mri"}), frozenset(), "MR-skanning af lænd",
                       True)
    return PatientRecord(now=NOW, draft_orders=(order,))


def render_all(kb: KnowledgeBase, base_url: str = "https://cds.example.dk") -> list[Rendered]:
    """Every rule × variant × language, rendered as the service would."""
    out = []
    record = record_for_samples()
    for rule in sorted(kb.rules.values(), key=lambda r: r.id):
        for variant in variants(rule):
            finding = sample_finding(kb, rule, variant)
            for lang in ("da", "en"):
                card = Renderer(kb, lang, base_url).card(rule, finding, record, "cardbook")
                out.append(Rendered(rule.id, variant, lang, card))
    return out


def words(markdown: str) -> int:
    """Words a GP reads: markdown markers and link targets left out."""
    text = re.sub(r"\]\([^)]*\)", "]", markdown)
    return len([w for w in re.sub(r"[*_\[\]#>-]+", " ", text).split() if re.search(r"\w", w)])


def body(detail: str) -> str:
    """The detail without its one-line source (the part the word budget counts)."""
    return detail.rsplit("\n\n", 1)[0]


def _quote(markdown: str) -> list[str]:
    return [f"> {line}" if line else ">" for line in markdown.split("\n")]


def _card_lines(card: Mapping[str, Any]) -> list[str]:
    lines = [f"> **{card['summary']}** · _{card['indicator']}_", ">", *_quote(card["detail"])]
    labels = [s["label"] for s in card.get("suggestions", ())]
    if labels:
        lines += [">", "> " + " · ".join(f"[{label}]" for label in labels)]
    return lines


def example_cards(requests: list[tuple[str, Mapping[str, Any]]], lang: str) -> list[tuple[str, list[dict[str, Any]],
                                                                                         list[str]]]:
    """Evaluate the review's example patients (``docs/requests/review-*.json``) at ``NOW``."""
    from .engine import Options, evaluate_request
    from .registry import SERVICES
    from .runtime import runtime

    state = runtime()
    out = []
    for name, request in requests:
        service = next(s for s in SERVICES.values() if s.hook == request["hook"])
        checked = state.validators.hook_request(service.hook, dict(request))
        result = evaluate_request(checked, service, state.knowledge, state.terminology,
                                  Options(language=lang, explain=True, base_url="https://cds.example.dk"), now=NOW)
        trace = result.response.get("extension", {}).get("lbp-cds-trace", [])
        hidden = [f"{e['rule']}: {e['suppressed']}" for e in trace if e.get("suppressed")]
        out.append((name, list(result.response["cards"]), hidden))
    return out


def cards_markdown(kb: KnowledgeBase, examples: Mapping[str, list[tuple[str, list[dict[str, Any]], list[str]]]]
                   ) -> str:
    """docs/cards.md: the review's three patients, then every rule's every variant in da and en."""
    rendered = render_all(kb)
    lines = [
        "# Every card a GP can see",
        "",
        "Generated by `python -m service cards > docs/cards.md`; do not edit by hand (a test checks it is current).",
        "Texts live in `cards/*.json` and the sentence library `cards/_meta/sentences.json`. Values in the",
        "examples are typical facts (`service/cardbook.py`), not a patient. Word counts are the detail without",
        "its source line; the budget is 40 words (see `tests/test_card_checklist.py`).",
        "",
        "## The three patients of the card review",
        "",
    ]
    for lang in ("da", "en"):
        for name, cards, hidden in examples.get(lang, []):
            lines += [f"### {name} ({lang})", ""]
            for card in cards:
                lines += [*_card_lines(card), "", f"_{words(body(card['detail']))} words_", ""]
            if hidden:
                lines += ["Suppressed (trace): " + "; ".join(hidden), ""]
    lines += ["## Every rule", ""]
    for rule in sorted(kb.rules.values(), key=lambda r: r.id):
        lines += [f"### {rule.id}", ""]
        for item in (r for r in rendered if r.rule_id == rule.id):
            label = item.variant or "base"
            lines += [f"**{label} ({item.lang})** — {len(item.card['summary'])} characters, "
                      f"{words(body(item.card['detail']))} words", "", *_card_lines(item.card), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def review_requests(folder: Path) -> list[tuple[str, Mapping[str, Any]]]:
    return [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(folder.glob("review-*.json"))]
