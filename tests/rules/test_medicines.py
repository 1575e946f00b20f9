"""Back-pain medicines ordered: what DSAM 2026 says, and no more."""

from __future__ import annotations

import pytest

from tests.factories import episode, fact, medication, order, record
from tests.rules.helpers import cards, fires

LBP = episode("low-back-pain", weeks=2)


def drug(concept: str, ref: str = "MedicationRequest/m-1", display: str | None = None):
    return order(concept, ref=ref, display=display)


@pytest.mark.parametrize(
    ("rule_id", "concept"),
    [("MED-OPIOID", "opioid"), ("MED-GABAPENTINOID", "gabapentinoid"), ("MED-MUSCLE-RELAXANT", "muscle-relaxant"),
     ("MED-BENZODIAZEPINE", "benzodiazepine")],
    ids=["opioid", "gabapentinoid", "muscle-relaxant", "benzodiazepine"],
)
def test_discouraged_medicines_get_a_card_for_back_pain_patients_only(rule_id, concept):
    assert fires(rule_id, record(episodes=[LBP], orders=[drug(concept)]))
    assert not fires(rule_id, record(orders=[drug(concept)]))  # no back pain known: indication unknown
    unselected = order(concept, ref="MedicationRequest/x", selected=False)
    assert not fires(rule_id, record(episodes=[LBP], orders=[unselected]))


def test_opioid_card_names_the_drug_and_the_exit_plan():
    (card,) = cards("MED-OPIOID", record(episodes=[LBP], orders=[drug("opioid", display="Tramadol 50 mg")]))
    assert "Tramadol 50 mg" in card["da"]["summary"] and "seponering" in card["da"]["detail"]
    assert card["da"]["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/m-1"


def test_gabapentinoid_card_mentions_the_guidelines_own_exception():
    (card,) = cards("MED-GABAPENTINOID", record(episodes=[LBP], orders=[drug("gabapentinoid")]))
    assert "neuropatisk" in card["da"]["detail"]


def test_paracetamol_alone_but_not_with_an_nsaid():
    assert fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], orders=[drug("paracetamol")]))
    both = [drug("paracetamol"), drug("nsaid", ref="MedicationRequest/m-2")]
    assert not fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], orders=both))
    assert not fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], orders=[drug("paracetamol")],
                                                           medications=[medication("nsaid")]))


@pytest.mark.parametrize(
    ("age", "facts", "meds", "expected"),
    [
        (45, [fact("kidney-disease")], [], True),
        (45, [fact("gastrointestinal-risk")], [], True),
        (45, [fact("pregnancy")], [], True),
        (45, [], [medication("anticoagulant")], True),
        (64, [], [], False),
        (65, [], [], True),
        (45, [fact("kidney-disease", False)], [], False),
        (45, [], [], False),
    ],
    ids=["kidney-disease", "gi-risk", "pregnancy", "anticoagulated", "age-64", "age-65", "kidneys-checked-fine",
         "nothing-documented"],
)
def test_nsaid_caution(age, facts, meds, expected):
    rec = record(age=age, episodes=[LBP], facts=facts, medications=meds, orders=[drug("nsaid")])
    assert fires("MED-NSAID-CAUTION", rec) is expected


def test_nsaid_card_lists_what_it_could_not_check():
    rec = record(age=70, episodes=[LBP], medications=[medication("anticoagulant")], orders=[drug("nsaid")])
    (card,) = cards("MED-NSAID-CAUTION", rec)
    detail = card["da"]["detail"]
    assert "blodfortyndende" in detail and "70 år" in card["da"]["summary"]
    assert "Ikke dokumenteret" in detail and "nyresygdom" in detail


def test_nsaid_age_threshold_is_configurable():
    rec = record(age=66, episodes=[LBP], orders=[drug("nsaid")])
    assert fires("MED-NSAID-CAUTION", rec)
    assert not fires("MED-NSAID-CAUTION", rec, older_age=70)
