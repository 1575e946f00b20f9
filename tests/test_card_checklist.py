"""Cards as a GP's checklist: every rule, every variant, both languages, read in five seconds.

Each card is rendered with typical facts (``service/cardbook.py``) and checked the way a GP would
read it: is the action in the summary or the first line, does the detail fit the word budget, is
anything left unfilled? The authoring rules keep text and logic from drifting apart: no number is
typed into a card text, no sentence is written twice, and Danish and English have the same shape.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from service.cardbook import body, render_all, words
from service.knowledge import load_knowledge
from service.record import AtLeast, Span
from service.render import TEXT_FIELDS
from service.wording import SENTENCE_REF, duration, placeholders, sentence_refs

ROOT = Path(__file__).resolve().parent.parent
KB = load_knowledge(ROOT / "cards")
RENDERED = render_all(KB)
#: Words in the detail before the one-line source: about ten seconds at 200 words a minute.
DETAIL_WORDS = 40
CRITICAL_WORDS = 30
SUMMARY_CHARS = 90
#: A summary that must carry "(NKR 2016, ikke gældende)" may run this long.
SUMMARY_CHARS_WITH_TAG = 100
BULLETS = 3
#: What counts as saying what to do: an imperative, or the guideline's verdict on the order.
ACTION = {
    "da": r"\b(henvis|overvej|planlæg|tilbyd|igangsæt|vurder|fjern|følg op|støt|fortsæt|afklar|angiv|mål|brug|"
          r"seponér|anbefales( generelt)? ikke|ikke rutinemæssigt|sjældent førstevalg|først efter|kun ved|"
          r"kun efter|forsigtighed|kan være indiceret|ikke indiceret|indiceret ved)\b",
    "en": r"\b(refer|consider|book|offer|start|check|remove|follow up|encourage|continue|establish|give|test|use|"
          r"stop|assess|(generally )?not recommended|not routinely|rarely the first choice|only after|only for|caution|"
          r"may be indicated|not indicated|indicated if|keep active)\b",
}
MALFORMED = ("{", "}", "[[", "]]", "None", "()", "  ", " ,", " .", "****", "nan")


def ids(item) -> str:
    return f"{item.rule_id}-{item.variant or 'base'}-{item.lang}"


@pytest.mark.parametrize("item", RENDERED, ids=ids)
def test_the_action_is_in_the_summary_or_the_first_line(item):
    first = body(item.card["detail"]).split("\n")[0]
    text = f"{item.card['summary']}\n{first}".lower()
    assert re.search(ACTION[item.lang], text), f"no action in the summary or first line:\n{text}"


@pytest.mark.parametrize("item", RENDERED, ids=ids)
def test_the_detail_fits_the_word_budget(item):
    limit = CRITICAL_WORDS if item.card["indicator"] == "critical" else DETAIL_WORDS
    count = words(body(item.card["detail"]))
    assert count <= limit, f"{count} words (budget {limit}):\n{item.card['detail']}"


@pytest.mark.parametrize("item", RENDERED, ids=ids)
def test_the_summary_reads_in_five_seconds(item):
    summary = item.card["summary"]
    tagged = KB.sources[KB.rules[item.rule_id].source["guideline"]]["tag"][item.lang] in summary
    limit = SUMMARY_CHARS_WITH_TAG if tagged else SUMMARY_CHARS
    assert len(summary) <= limit, f"{len(summary)} characters: {summary}"


@pytest.mark.parametrize("item", RENDERED, ids=ids)
def test_nothing_is_left_unfilled_or_malformed(item):
    text = re.sub(r"\]\(https://[^)]*\)", "]", f"{item.card['summary']}\n{item.card['detail']}")
    for bad in MALFORMED:
        assert bad not in text, f"{bad!r} in:\n{text}"
    for label in (s["label"] for s in item.card.get("suggestions", ())):
        assert not any(bad in label for bad in MALFORMED), label


@pytest.mark.parametrize("item", RENDERED, ids=ids)
def test_the_detail_is_at_most_three_bullets_then_the_source_line(item):
    rule = KB.rules[item.rule_id]
    texts = rule.data["texts"][item.lang]
    chosen = {**texts, **(texts.get("variants", {}).get(item.variant, {}) if item.variant else {})}
    assert sum(1 for f in ("action", "facts", "more") if chosen.get(f)) <= BULLETS
    source_line = item.card["detail"].rsplit("\n\n", 1)[1]
    assert "\n" not in source_line and KB.sources[rule.source["guideline"]]["short"][item.lang] in source_line


@pytest.mark.parametrize("item", [r for r in RENDERED if KB.rules[r.rule_id].source["guideline"]
                                  == "NKR-2016-NERVEROD"], ids=ids)
def test_cards_resting_on_a_withdrawn_guideline_say_so_in_the_summary(item):
    tag = KB.sources["NKR-2016-NERVEROD"]["tag"][item.lang]
    assert tag in item.card["summary"]


# -- authoring -----------------------------------------------------------------------------


def card_templates():
    """(rule, lang, where, template) for every text a card file holds, suggestions included."""
    for rule in KB.rules.values():
        for lang in ("da", "en"):
            texts = rule.data["texts"][lang]
            for name, fields in (("base", texts), *texts.get("variants", {}).items()):
                for field in TEXT_FIELDS:
                    if fields.get(field):
                        yield rule.id, lang, f"{name}.{field}", str(fields[field])
            for suggestion in rule.data.get("suggestions", ()):
                yield rule.id, lang, f"suggestion {suggestion['id']}", str(suggestion["label"][lang])
                for action in suggestion["actions"]:
                    yield rule.id, lang, f"suggestion {suggestion['id']} action", str(action["description"][lang])
            yield rule.id, lang, "title", str(rule.data["title"][lang])


def test_no_number_is_typed_into_a_card_text():
    """Thresholds come from params, guideline figures from the library's values: never typed."""
    typed = [(r, lang, where, t) for r, lang, where, t in card_templates()
             if re.search(r"\d", re.sub(r"\{[^}]*\}", "", t))]
    assert not typed, typed


def test_no_number_is_typed_into_a_library_sentence():
    typed = []
    for key, entry in KB.sentences.items():
        for lang in ("da", "en"):
            text = re.sub(r"\{[^}]*\}", "", str(entry[lang])).replace("over 80 %", "")
            if re.search(r"\d", text):
                typed.append((key, lang))
    assert not typed, "use a {parameter} or a named value (sentences.json 'values'): " + str(typed)


def test_named_values_are_not_parameters():
    shared = set(next(iter(KB.rules.values())).params)
    assert not set(KB.values) & shared


def _sentences(template: str) -> list[str]:
    text = SENTENCE_REF.sub(" ", template)
    text = re.sub(r"\{[^}]*\}", "#", text).replace("**", "")
    return [s.strip().lower() for s in re.split(r"(?<=[.!?])\s", text) if len(s.split()) >= 5]


def test_no_sentence_is_written_twice():
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rule, lang, where, template in card_templates():
        if where.startswith("suggestion") or where == "title":
            continue
        for sentence in _sentences(template):
            seen[(lang, sentence)].append(f"{rule} {where}")
    for key, entry in KB.sentences.items():
        for lang in ("da", "en"):
            for sentence in _sentences(str(entry[lang])):
                seen[(lang, sentence)].append(f"library {key}")
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    assert not twice, twice


def test_danish_and_english_have_the_same_shape():
    for rule in KB.rules.values():
        da, en = rule.data["texts"]["da"], rule.data["texts"]["en"]
        assert set(da.get("variants", {})) == set(en.get("variants", {})), rule.id
        for name, fields_da in (("base", da), *da.get("variants", {}).items()):
            fields_en = en if name == "base" else en["variants"][name]
            assert set(fields_da) - {"variants"} == set(fields_en) - {"variants"}, (rule.id, name)
            for field in TEXT_FIELDS:
                a, b = str(fields_da.get(field, "")), str(fields_en.get(field, ""))
                assert placeholders(a) == placeholders(b), (rule.id, name, field)
                assert sentence_refs(a) == sentence_refs(b), (rule.id, name, field)
        for s_da, s_en in zip(rule.data.get("suggestions", ()), rule.data.get("suggestions", ()), strict=True):
            assert placeholders(s_da["label"]["da"]) == placeholders(s_en["label"]["en"]), rule.id
    for key, entry in KB.sentences.items():
        assert placeholders(str(entry["da"])) == placeholders(str(entry["en"])), key


def test_every_library_sentence_is_used_and_cites_its_lines():
    used = {k for _, _, _, t in card_templates() for k in sentence_refs(t)}
    used |= {k for rule in KB.rules.values() for k in rule.data.get("page", ())}
    assert set(KB.sentences) == used, set(KB.sentences) ^ used
    for key, entry in KB.sentences.items():
        if entry.get("source"):
            assert entry["source"] in KB.sources and re.fullmatch(r"L\d+(-L\d+)?(, L\d+(-L\d+)?)*", entry["lines"]), key


@pytest.mark.parametrize(
    ("weeks", "da", "en"),
    [(0, "under 1 uge", "under 1 week"), (1, "1 uge", "1 week"), (3, "3 uger", "3 weeks"), (12, "12 uger", "12 weeks"),
     (13, "3 måneder", "3 months"), (16, "4 måneder", "4 months"), (104, "2 år", "2 years"),
     (156, "3 år", "3 years"), (Span(7, 11), "7–11 uger", "7–11 weeks"), (Span(11, 15), "3 måneder", "3 months"),
     (Span(14, 22), "3–5 måneder", "3–5 months"), (AtLeast(13), "mindst 3 måneder", "at least 3 months")],
)
def test_durations_read_as_a_gp_says_them(weeks, da, en):
    assert duration(weeks, KB.common["da"]["units"]) == da
    assert duration(weeks, KB.common["en"]["units"]) == en


def test_cards_md_is_generated_from_the_cards(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv("LBP_CDS_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["cards"])
    assert result.exit_code == 0, result.stdout
    actual = (ROOT / "docs/cards.md").read_text(encoding="utf-8")
    assert actual == result.stdout, "docs/cards.md is stale: run python -m service cards > docs/cards.md"
    for rule_id in KB.rules:
        assert f"### {rule_id}" in actual
