"""Follow-up advice: closer follow-up, analgesic review, årsstatus, sick leave."""

from __future__ import annotations

import pytest

from tests.factories import ago, care, episode, fact, medication, pain, record
from tests.rules.helpers import cards, fires

LBP = episode("low-back-pain", weeks=3)


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        (record(episodes=[episode("nerve-root-involvement", weeks=2)]), True),
        (record(episodes=[LBP], facts=[fact("yellow-flag")]), True),
        (record(episodes=[LBP], facts=[fact("blue-flag")]), True),
        (record(episodes=[LBP], facts=[fact("marked-functional-limitation")]), True),
        (record(episodes=[episode("low-back-pain", weeks=5)], facts=[fact("no-satisfactory-improvement")]), True),
        (record(episodes=[episode("low-back-pain", weeks=3)], facts=[fact("no-satisfactory-improvement")]), False),
        (record(episodes=[LBP]), False),
        (record(episodes=[LBP], facts=[fact("yellow-flag", False)]), False),
        (record(episodes=[LBP], facts=[fact("yellow-flag")], care=[care("follow-up-consultation", days=-10)]), False),
        (record(episodes=[episode("low-back-pain", weeks=20)], facts=[fact("yellow-flag")]), False),
        (record(episodes=[episode("chronic-low-back-pain", weeks=1)], facts=[fact("yellow-flag")]), False),
    ],
    ids=["nerve-root", "yellow-flag", "blue-flag", "marked-limitation", "no-improvement-5w",
         "no-improvement-3w-too-early", "uncomplicated", "yellow-flag-checked-absent", "follow-up-already-planned",
         "chronic-pain-goes-to-annual-review", "chronic-code-dated-last-week-too"],
)
def test_closer_follow_up(rec, expected):
    assert fires("FU-CLOSER-FOLLOW-UP", rec) is expected


def test_closer_follow_up_shows_a_high_pain_score_and_offers_a_booking():
    rec = record(episodes=[LBP], facts=[fact("yellow-flag")], pain=[pain(8, days=1)])
    (card,) = cards("FU-CLOSER-FOLLOW-UP", rec)
    assert "smertescore på 8" in card["da"]["detail"]
    assert card["da"]["suggestions"][0]["actions"][0]["type"] == "create"


@pytest.mark.parametrize(
    ("days", "care_events", "expected"),
    [(27, [], False), (28, [], True), (40, [care("follow-up-consultation", days=5)], False),
     (40, [care("follow-up-consultation", days=60)], True)],
    ids=["3w6d", "4w", "reviewed-since", "follow-up-before-the-prescription"],
)
def test_analgesic_review(days, care_events, expected):
    rec = record(episodes=[episode("low-back-pain", weeks=10)],
                 medications=[medication("opioid", days=days, display="Oxycodon")], care=care_events)
    assert fires("FU-ANALGESIC-REVIEW", rec) is expected


def test_a_later_back_pain_contact_is_the_analgesic_review_but_not_todays():
    """DSAM L614 asks for a follow-up; most records show it as another contact for back pain."""
    ten_weeks = episode("low-back-pain", weeks=10)
    opioid = medication("opioid", days=40, display="Oxycodon")
    assert not fires("FU-ANALGESIC-REVIEW", record(episodes=[ten_weeks], medications=[opioid],
                                                   contacts=[ago(days=20), ago(hours=1)]))
    assert fires("FU-ANALGESIC-REVIEW", record(episodes=[ten_weeks], medications=[opioid],
                                               contacts=[ago(days=45), ago(hours=1)]))  # before it, and today


def test_an_analgesic_older_than_the_episode_and_without_a_reason_is_not_reviewed_as_a_back_pain_medicine():
    """Knee osteoarthritis' paracetamol, prescribed before this back pain began, is not this episode's medicine."""
    older = medication("paracetamol", days=120)
    assert not fires("FU-ANALGESIC-REVIEW", record(episodes=[episode("low-back-pain", weeks=6)], medications=[older]))
    for_back = medication("paracetamol", days=120, reasons=["low-back-pain"])
    assert fires("FU-ANALGESIC-REVIEW", record(episodes=[episode("low-back-pain", weeks=6)], medications=[for_back]))
    unknown_onset = episode("low-back-pain", weeks=None)
    assert fires("FU-ANALGESIC-REVIEW", record(episodes=[unknown_onset], medications=[older]))


@pytest.mark.parametrize(
    ("review_days", "expected"),
    [(None, True), (11 * 30, False), (13 * 30, True)],
    ids=["never", "11-months-ago", "13-months-ago"],
)
def test_annual_review_for_chronic_pain(review_days, expected):
    events = [] if review_days is None else [care("annual-review", days=review_days)]
    rec = record(episodes=[episode("low-back-pain", weeks=60)], care=events)
    assert fires("FU-ANNUAL-REVIEW", rec) is expected


def test_annual_review_not_for_acute_pain_but_for_a_chronic_diagnosis():
    assert not fires("FU-ANNUAL-REVIEW", record(episodes=[episode("low-back-pain", weeks=12)]))
    assert fires("FU-ANNUAL-REVIEW", record(episodes=[episode("chronic-low-back-pain", weeks=None)]))


@pytest.mark.parametrize(("start_days", "expected"), [(28, False), (29, True)], ids=["exactly-4-weeks", "4w1d"])
def test_sick_leave_over_four_weeks(start_days, expected):
    rec = record(episodes=[LBP], facts=[fact("sick-leave", start_days=start_days, days=start_days)])
    assert fires("FU-SICK-LEAVE", rec) is expected


def test_back_at_work_silences_the_sick_leave_card():
    facts = [fact("sick-leave", start_days=60, days=60), fact("sick-leave", present=False, days=2)]
    assert not fires("FU-SICK-LEAVE", record(episodes=[LBP], facts=facts))
