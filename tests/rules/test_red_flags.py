"""Red flags: acute referral first, and never on data that is merely missing."""

from __future__ import annotations

import pytest

from tests.factories import episode, fact, medication, record, strength
from tests.rules.helpers import cards, fires, run

LBP = episode("low-back-pain", weeks=2)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ([fact("saddle-anaesthesia")], True),
        ([fact("cauda-equina")], True),
        ([fact("bladder-dysfunction", days=2)], True),
        ([fact("bowel-dysfunction", days=13)], True),
        ([fact("bladder-dysfunction", days=400)], False),
        ([fact("saddle-anaesthesia", present=False)], False),
        ([], False),
    ],
    ids=["saddle-anaesthesia", "cauda-equina-diagnosis", "new-bladder-dysfunction", "bowel-dysfunction-13-days",
         "incontinence-for-a-year-is-not-new", "saddle-anaesthesia-checked-absent", "nothing-documented"],
)
def test_cauda_equina(facts, expected):
    assert fires("RF-CAUDA-EQUINA", record(episodes=[LBP], facts=facts)) is expected


def test_cauda_equina_card_is_critical_and_names_the_sign():
    (card,) = cards("RF-CAUDA-EQUINA", record(facts=[fact("saddle-anaesthesia")]))
    assert card["da"]["indicator"] == "critical"
    assert "ridebukseområdet" in card["da"]["detail"] and "akutafdeling" in card["da"]["summary"]


@pytest.mark.parametrize(
    ("grades", "expected"),
    [
        ([strength(5, hours=40), strength(3, hours=2)], True),
        ([strength(5, hours=40), strength(4, hours=2)], False),
        ([strength(4, hours=47), strength(2, hours=0)], True),
        ([strength(5, hours=49), strength(3, hours=0)], False),
        ([strength(3, hours=2)], False),
        ([strength(3, hours=40), strength(3, hours=2)], False),
    ],
    ids=["grade-5-to-3-in-38h", "grade-4-is-not-paresis", "47-hours-apart", "49-hours-apart",
         "single-grade-3-no-earlier-grade", "unchanged-grade-3"],
)
def test_acute_paresis_from_strength_grades(grades, expected):
    assert fires("RF-ACUTE-PARESIS", record(strength=grades)) is expected


@pytest.mark.parametrize(("hours", "expected"), [(47, True), (49, False)], ids=["onset-47h-ago", "onset-49h-ago"])
def test_acute_paresis_from_a_paresis_diagnosis(hours, expected):
    assert fires("RF-ACUTE-PARESIS", record(facts=[fact("paresis", days=hours / 24)])) is expected


def test_paresis_threshold_is_configurable():
    grades = [strength(5, hours=30), strength(3, hours=1)]
    assert fires("RF-ACUTE-PARESIS", record(strength=grades))
    assert not fires("RF-ACUTE-PARESIS", record(strength=grades), paresis_max_grade=2)


def test_progressive_deficit():
    assert fires("RF-PROGRESSIVE-DEFICIT", record(facts=[fact("progressive-neurological-deficit")]))
    assert not fires("RF-PROGRESSIVE-DEFICIT", record(facts=[fact("progressive-neurological-deficit", False)]))
    assert not fires("RF-PROGRESSIVE-DEFICIT", record())


@pytest.mark.parametrize(
    ("facts", "meds", "expected"),
    [
        ([fact("malignancy")], [], True),
        ([fact("spinal-infection")], [], True),
        ([fact("vertebral-fracture")], [], True),
        ([fact("trauma"), fact("osteoporosis")], [], True),
        ([fact("trauma")], [medication("systemic-corticosteroid")], True),
        ([fact("trauma")], [], False),
        ([fact("osteoporosis")], [], False),
        ([fact("malignancy", present=False)], [], False),
        ([], [], False),
    ],
    ids=["cancer", "infection", "fracture", "fall-with-osteoporosis", "fall-on-prednisolone", "trauma-alone",
         "osteoporosis-alone", "cancer-checked-absent", "nothing-documented"],
)
def test_serious_pathology(facts, meds, expected):
    assert fires("RF-SERIOUS-PATHOLOGY", record(facts=facts, medications=meds)) is expected


def test_serious_pathology_card_says_what_was_not_documented():
    (card,) = cards("RF-SERIOUS-PATHOLOGY", record(facts=[fact("malignancy"), fact("fever", present=False)]))
    detail = card["da"]["detail"]
    assert "kræft" in detail and "undersøgt og ikke fundet: feber" in detail
    assert "10 af 12 ikke dokumenteret – ukendt, ikke afkræftet" in detail  # infection among them: unknown


@pytest.mark.parametrize(
    ("age", "facts", "onset_weeks", "expected"),
    [
        (50, [fact("night-pain"), fact("morning-stiffness-over-30-min")], 10, True),
        (50, [fact("night-pain")], 10, False),
        (30, [fact("night-pain")], 10, True),
        (46, [fact("night-pain")], 52 * 2, True),
        (50, [fact("night-pain"), fact("axial-spondyloarthritis")], 10, False),
        (50, [fact("night-pain", False), fact("morning-stiffness-over-30-min", False)], 10, False),
    ],
    ids=["two-features", "one-feature", "one-feature-and-onset-at-30", "onset-at-44-two-years-ago",
         "already-diagnosed", "features-checked-absent"],
)
def test_inflammatory_features(age, facts, onset_weeks, expected):
    rec = record(age=age, facts=facts, episodes=[episode("low-back-pain", weeks=onset_weeks)])
    assert fires("RF-INFLAMMATORY", rec) is expected


def test_red_flag_rules_run_on_every_hook():
    from tests.rules.helpers import KB

    for rule_id in ("RF-CAUDA-EQUINA", "RF-ACUTE-PARESIS", "RF-PROGRESSIVE-DEFICIT", "RF-SERIOUS-PATHOLOGY"):
        assert set(KB.rules[rule_id].hooks) == {"patient-view", "order-select", "order-sign"}


def test_paresis_card_with_grades_states_both_grades():
    (finding,) = run("RF-ACUTE-PARESIS", record(strength=[strength(5, hours=30), strength(2, hours=1)]))
    assert finding.facts["grade"] == 2 and finding.facts["earlier_grade"] == 5


def test_only_a_recent_trauma_raises_suspicion_of_fracture():
    old_fall = record(facts=[fact("trauma", days=400), fact("osteoporosis")])
    assert not fires("RF-SERIOUS-PATHOLOGY", old_fall)
    assert fires("RF-SERIOUS-PATHOLOGY", record(facts=[fact("trauma", days=10), fact("osteoporosis")]))


def test_screen_lists_only_current_red_flags():
    from service.rules.red_flags import red_flag_screen
    from tests.factories import params_of

    rec = record(facts=[fact("paresis", days=300), fact("fever", present=False), fact("malignancy")])
    screen = red_flag_screen(rec, params_of("IMG-NOT-INDICATED"))
    assert screen.found == ("malignancy",)
    assert "paresis" not in screen.found and "paresis" not in screen.missing  # old paresis: not a current flag
    assert screen.absent == ("fever",)
    assert "saddle-anaesthesia" in screen.missing
