"""The knowledge base refuses to start on content errors, naming the file and the place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.knowledge import KnowledgeError, load_knowledge
from service.rules import REGISTRY

CARDS = Path(__file__).resolve().parent.parent / "cards"


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(CARDS, target)
    return target


def first_card(cards: Path) -> tuple[Path, dict]:
    path = sorted(p for p in cards.glob("*.json"))[0]
    return path, json.loads(path.read_text(encoding="utf-8"))


def test_shipped_knowledge_loads_with_a_card_for_every_rule():
    kb = load_knowledge(CARDS)
    assert set(kb.rules) == set(REGISTRY)
    assert len(kb.rules) >= 20


def test_every_card_cites_a_seed_line_and_is_complete_in_both_languages():
    kb = load_knowledge(CARDS)
    for rule in kb.rules.values():
        source = kb.sources[rule.source["guideline"]]
        assert source["seed"].endswith(".txt")
        assert rule.source["lines"].startswith("L")
        for lang in ("da", "en"):
            assert rule.data["texts"][lang]["summary"]
            assert rule.data["texts"][lang].get("action") or rule.data["texts"][lang].get("facts")


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.pop("source"), "source"),
        (lambda d: d.update(indicator="hard-stop"), "/indicator"),
        (lambda d: d["texts"].pop("en"), "/texts"),
        (lambda d: d["source"].update(guideline="NO-SUCH"), "NO-SUCH"),
        (lambda d: d["source"].update(lines="line 12"), "/source/lines"),
        (lambda d: d.update(hooks=["medication-prescribe"]), "/hooks"),
    ],
    ids=["no-source", "bad-indicator", "no-english", "unknown-guideline", "lines-not-cited", "unknown-hook"],
)
def test_a_bad_card_stops_start_up_naming_file_and_pointer(cards, mutate, needle):
    path, data = first_card(cards)
    mutate(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge(cards)
    assert path.name in str(exc.value) and needle in str(exc.value)


def test_a_card_without_logic_stops_start_up(cards):
    path, data = first_card(cards)
    data["id"] = "IMG-NO-LOGIC"
    (cards / "IMG-NO-LOGIC.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="no rule logic"):
        load_knowledge(cards)


def test_logic_without_a_card_stops_start_up(cards):
    path, _ = first_card(cards)
    path.unlink()
    with pytest.raises(KnowledgeError, match="without a card"):
        load_knowledge(cards)


def test_not_json_names_the_file(cards):
    path, _ = first_card(cards)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=path.name):
        load_knowledge(cards)


def test_loaded_knowledge_is_read_only():
    kb = load_knowledge(CARDS)
    rule = next(iter(kb.rules.values()))
    with pytest.raises(TypeError):
        rule.data["indicator"] = "critical"  # type: ignore[index]
