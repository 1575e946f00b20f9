"""Docs kept honest: every setting, rule and value set a user can meet is documented."""

from __future__ import annotations

import json
from pathlib import Path

from service.catalogue import catalogue_markdown, concept_table
from service.concepts import Concept
from service.config import setting_names
from service.knowledge import load_knowledge

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in setting_names() if name not in readme]
    assert not missing


def test_rule_catalogue_is_generated_from_the_cards():
    expected = catalogue_markdown(load_knowledge(ROOT / "cards"))
    actual = (ROOT / "docs/rules.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/rules.md is stale: run python -m service catalogue > docs/rules.md"


def test_the_data_contract_code_table_is_generated_from_the_value_sets():
    folder = ROOT / "fhir_profiles/valuesets"
    table = concept_table([json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))])
    contract = (ROOT / "docs/data-contract.md").read_text(encoding="utf-8")
    assert table in contract, "docs/data-contract.md §5 is stale: paste the output of python -m service codes"


def test_every_rule_is_in_the_clinical_decisions_or_catalogue():
    kb = load_knowledge(ROOT / "cards")
    decisions = (ROOT / "docs/clinical-decisions.md").read_text(encoding="utf-8")
    catalogue = (ROOT / "docs/rules.md").read_text(encoding="utf-8")
    for rule_id in kb.rules:
        assert rule_id in catalogue
    assert "DSAM" in decisions


def test_every_concept_is_in_the_data_contract():
    contract = (ROOT / "docs/data-contract.md").read_text(encoding="utf-8")
    assert not [c.value for c in Concept if c.value not in contract]


def test_readme_rule_params_example_names_a_real_parameter():
    import json
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"`(\{\"[A-Z*-]+\": \{.*?\}\})`", readme)
    assert examples, "README shows a LBP_CDS_RULE_PARAMS example"
    for example in examples:
        load_knowledge(ROOT / "cards", json.loads(example))  # raises on an unknown rule or parameter
