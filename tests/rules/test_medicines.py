"""Back-pain medicines ordered: what DSAM 2026 says, and no more."""

from __future__ import annotations

import pytest

from service.facts import OTHER_REASON
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


def test_the_first_paracetamol_of_an_episode_gets_no_card_it_is_dsams_first_choice():
    """DSAM L606/L585: paracetamol first, short and as needed; the card is for what comes after."""
    assert not fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], orders=[drug("paracetamol")]))
    # A site that wants the evidence box at every first prescription (the card's former behaviour).
    (card,) = cards("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], orders=[drug("paracetamol")]),
                    first_prescription=True)
    assert "monoterapi" in card["da"]["summary"] and "førstevalg" in card["da"]["detail"]


def test_paracetamol_again_in_this_episode_without_an_nsaid_gets_the_stepwise_advice():
    tried = medication("paracetamol", days=10)
    (card,) = cards("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], medications=[tried],
                                                          orders=[drug("paracetamol", display="Pamol 500 mg")]))
    assert card["da"]["summary"].startswith("Pamol 500 mg igen")
    assert "NSAID" in card["da"]["summary"] and "ikke optitrering" in card["da"]["detail"]
    assert "consider an NSAID, or stop" in card["en"]["summary"]
    # A course that has ended counts as tried too.
    assert fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], ended_medications=[tried],
                                                       orders=[drug("paracetamol")]))
    # An NSAID alongside, ordered or taken, is the next step already.
    both = [drug("paracetamol"), drug("nsaid", ref="MedicationRequest/m-2")]
    assert not fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], medications=[tried], orders=both))
    assert not fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], orders=[drug("paracetamol")],
                                                           medications=[tried, medication("nsaid")]))


def test_paracetamol_from_before_this_episode_or_for_something_else_is_not_a_try_for_this_pain():
    before = medication("paracetamol", days=30)  # the episode began 14 days ago
    for_knee = medication("paracetamol", days=10, reasons=[OTHER_REASON])
    for earlier in (before, for_knee):
        assert not fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[LBP], medications=[earlier],
                                                               orders=[drug("paracetamol")]))


def test_paracetamol_card_keeps_to_acute_pain_as_dsams_evidence_box_does():
    tried = medication("paracetamol", days=10)
    long_pain = episode("low-back-pain", weeks=20)
    chronic = episode("chronic-low-back-pain", weeks=2)
    for ep in (long_pain, chronic):
        assert not fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[ep], medications=[tried],
                                                               orders=[drug("paracetamol")]))
    # Twelve weeks is still acute in DSAM (up to three months, L99).
    assert fires("MED-PARACETAMOL-MONOTHERAPY", record(episodes=[episode("low-back-pain", weeks=12)],
                                                       medications=[tried], orders=[drug("paracetamol")]))


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
