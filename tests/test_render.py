"""Cards as a GP reads them: language, dates, red-flag honesty, citations, determinism."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.knowledge import load_knowledge
from service.render import TEXT_FIELDS, Renderer, shorten
from service.rules.base import Finding, RedFlagScreen
from service.wording import expand
from tests.factories import order, record
from tests.test_hooks import assert_valid_response

KB = load_knowledge(Path(__file__).resolve().parent.parent / "cards")


def placeholders(rule) -> set[str]:
    names: set[str] = set()
    for lang in ("da", "en"):
        texts = rule.data["texts"][lang]
        for fields in (texts, *texts.get("variants", {}).values()):
            for text in (str(fields.get(k, "")) for k in TEXT_FIELDS):
                text = expand(text, KB.sentences, lang)
                names |= {name for _, name, _, _ in string.Formatter().parse(text) if name}
    names -= {*rule.params, *KB.values, "source_tag", "source_name"}
    return names


def sample_finding(rule, **kw) -> Finding:
    facts = {name: 7 for name in placeholders(rule)}
    return Finding(rule.id, facts=facts, **kw)


@pytest.mark.parametrize("rule_id", sorted(KB.rules))
@pytest.mark.parametrize("lang", ["da", "en"])
def test_every_card_renders_valid_in_both_languages(rule_id, lang):
    rule = KB.rules[rule_id]
    renderer = Renderer(KB, lang, "https://cds.example.dk")
    finding = sample_finding(rule, order_ref="ServiceRequest/order-1",
                             suggestions=tuple(s["id"] for s in rule.data.get("suggestions", ())))
    card = renderer.card(rule, finding, record(orders=[order("lumbar-mri")]), "hook-1")
    assert_valid_response({"cards": [card]})
    source = KB.sources[rule.source["guideline"]]
    # One source line: the guideline and a link to the rule page, which holds the lines and the rationale.
    assert source["short"][lang] in card["detail"].rsplit("\n\n", 1)[1]
    assert f"/knowledge/rules/{rule_id}?lang={lang}" in card["detail"]
    assert card["source"]["topic"]["code"] == rule_id
    assert card["source"]["url"] == f"https://cds.example.dk/knowledge/rules/{rule_id}"


def test_cards_from_the_2016_guideline_say_it_is_no_longer_in_force():
    nkr = [r for r in KB.rules.values() if r.source["guideline"] == "NKR-2016-NERVEROD"]
    assert nkr, "some rules cite the 2016 NKR"
    for rule in nkr:
        card = Renderer(KB, "da").card(rule, sample_finding(rule), record(), "h")
        assert "ikke længere" in card["detail"]  # the source line
        assert "ikke gældende" in card["summary"]  # and the summary, before anything else is read


def test_uuid_is_stable_for_the_same_hook_instance_and_differs_between_calls():
    rule = KB.rules["IMG-NOT-INDICATED"]
    r = Renderer(KB, "da")
    finding = sample_finding(rule, order_ref="ServiceRequest/order-1")
    a = r.card(rule, finding, record(), "hook-1")["uuid"]
    assert a == r.card(rule, finding, record(), "hook-1")["uuid"]
    assert a != r.card(rule, finding, record(), "hook-2")["uuid"]


def test_missing_red_flag_data_is_said_to_be_missing_not_absent():
    rule = KB.rules["IMG-NOT-INDICATED"]
    screen = RedFlagScreen(found=(), absent=("fever",), missing=("saddle-anaesthesia", "malignancy"))
    detail = Renderer(KB, "da").card(rule, sample_finding(rule, screen=screen), record(), "h")["detail"]
    assert "undersøgt og ikke fundet: feber" in detail
    # the unknown flags are counted, not listed, and never called absent (the list is in the trace)
    assert "2 af 3 ikke dokumenteret – ukendt, ikke afkræftet" in detail


def test_nothing_documented_is_never_rendered_as_no_red_flags():
    rule = KB.rules["IMG-NOT-INDICATED"]
    detail = Renderer(KB, "en").card(rule, sample_finding(rule, screen=RedFlagScreen()), record(), "h")["detail"]
    assert "none documented – unknown, not ruled out" in detail


def test_unavailable_data_is_named_on_the_card():
    rule = KB.rules["IMG-NOT-INDICATED"]
    card = Renderer(KB, "da").card(rule, sample_finding(rule), record(unavailable=["observations"]), "h")
    assert "kunne ikke hentes: observations" in card["detail"]


@pytest.mark.parametrize(("lang", "text"), [("da", "30. oktober 2026"), ("en", "30 October 2026")])
def test_dates_are_written_as_a_gp_writes_them(lang, text):
    assert Renderer(KB, lang).value(datetime(2026, 10, 30, tzinfo=UTC)) == text


def test_lists_of_concepts_become_readable_labels():
    text = Renderer(KB, "da").value(("fever", "night-pain", "trauma"))
    assert text == "feber, natlige smerter og traume (inkl. fald)"


def test_long_summary_is_cut_at_a_word_under_140():
    text = shorten("ord " * 60)
    assert len(text) <= 139 and text.endswith("…") and "  " not in text
