"""What a GP sees together: one card per problem, and no routine advice beside an emergency.

Driven by the card files (``routine``, ``supersedes``), never by rule ids in code; every hidden
card is listed in the trace with its reason. The rule page (``source.url``) holds what the card
no longer carries.
"""

from __future__ import annotations

import json
from pathlib import Path

from service.cardset import card_set
from service.knowledge import load_knowledge
from service.rules.base import Finding

ROOT = Path(__file__).resolve().parent.parent
KB = load_knowledge(ROOT / "cards")


def test_cauda_equina_with_an_mri_draft_is_one_card_that_can_remove_the_draft():
    """Review §7.2: RF-CAUDA-EQUINA and IMG-INDICATED-RED-FLAG (acute) said the same thing twice."""
    from datetime import UTC, datetime

    from service.engine import Options, evaluate_request
    from service.registry import SERVICES
    from service.terminology import Terminology

    request = json.loads((ROOT / "docs/requests/review-2-cauda-equina-mri.json").read_text(encoding="utf-8"))
    service = next(s for s in SERVICES.values() if s.hook == request["hook"])
    response = evaluate_request(request, service, KB, Terminology.load(ROOT / "fhir_profiles"),
                                Options(explain=True, strict=True), now=datetime(2026, 11, 22, 12, tzinfo=UTC)).response
    cards = response["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["RF-CAUDA-EQUINA"]
    (card,) = cards
    assert card["indicator"] == "critical" and "akutafdeling" in card["summary"]
    deletes = [a for s in card["suggestions"] for a in s["actions"] if a["type"] == "delete"]
    assert deletes and deletes[0]["resourceId"] == "ServiceRequest/mri-1"
    trace = {e["rule"]: e for e in response["extension"]["lbp-cds-trace"]}
    assert trace["IMG-INDICATED-RED-FLAG"]["fired"] is True  # the rule still fired: only not shown twice
    assert "RF-CAUDA-EQUINA" in trace["IMG-INDICATED-RED-FLAG"]["suppressed"]


def test_routine_advice_and_follow_up_suggestions_give_way_to_a_critical_card():
    cauda = (KB.rules["RF-CAUDA-EQUINA"], Finding("RF-CAUDA-EQUINA", facts={"signs": ("saddle-anaesthesia",)}))
    follow_up = (KB.rules["FU-CLOSER-FOLLOW-UP"], Finding("FU-CLOSER-FOLLOW-UP", suggestions=("plan-follow-up",)))
    early = (KB.rules["IMG-NERVE-ROOT-EARLY"], Finding("IMG-NERVE-ROOT-EARLY", order_ref="ServiceRequest/ct-1",
                                                       suggestions=("remove-order", "plan-follow-up")))
    shown, reasons = card_set([cauda, follow_up, early])
    assert [r.id for r, _ in shown] == ["RF-CAUDA-EQUINA", "IMG-NERVE-ROOT-EARLY"]
    assert "routine advice" in reasons["FU-CLOSER-FOLLOW-UP"] and "RF-CAUDA-EQUINA" in reasons["FU-CLOSER-FOLLOW-UP"]
    assert shown[1][1].suggestions == ("remove-order",)  # no "plan a follow-up in 2–4 weeks" beside it


def test_without_a_critical_card_nothing_is_hidden():
    follow_up = (KB.rules["FU-CLOSER-FOLLOW-UP"], Finding("FU-CLOSER-FOLLOW-UP", suggestions=("plan-follow-up",)))
    exercise = (KB.rules["REF-EXERCISE-THERAPY"], Finding("REF-EXERCISE-THERAPY"))
    shown, reasons = card_set([follow_up, exercise])
    assert shown == [follow_up, exercise] and not reasons


def test_a_superseding_card_only_hides_the_variants_it_names():
    serious = (KB.rules["RF-SERIOUS-PATHOLOGY"], Finding("RF-SERIOUS-PATHOLOGY", facts={"flags": ("malignancy",)}))
    acute = (KB.rules["IMG-INDICATED-RED-FLAG"], Finding("IMG-INDICATED-RED-FLAG", variant="acute",
                                                          indicator="critical", order_ref="ServiceRequest/mri-1"))
    shown, reasons = card_set([acute, serious])
    assert {r.id for r, _ in shown} == {"IMG-INDICATED-RED-FLAG", "RF-SERIOUS-PATHOLOGY"}
    base = (KB.rules["IMG-INDICATED-RED-FLAG"], Finding("IMG-INDICATED-RED-FLAG", order_ref="ServiceRequest/mri-1"))
    shown, reasons = card_set([serious, base])
    assert [r.id for r, _ in shown] == ["RF-SERIOUS-PATHOLOGY"]
    assert shown[0][1].order_ref == "ServiceRequest/mri-1"  # it now speaks for the MRI draft


def test_the_rule_page_is_readable_in_both_languages(client):
    en = client.get("/knowledge/rules/IMG-NOT-INDICATED?lang=en").get_data(as_text=True)
    assert "What the card says" in en and "Red flags the card checks" in en and "L387" in en
    assert "unknown – not absent" in en
    da = client.get("/knowledge/rules/IMG-NOT-INDICATED", headers={"Accept-Language": "da"}).get_data(as_text=True)
    assert "Hvad kortet siger" in da and "ukendt – ikke fraværende" in da and 'lang="da"' in da
    nkr = client.get("/knowledge/rules/REF-SURGICAL-ASSESSMENT-12W?lang=da").get_data(as_text=True)
    assert "ikke længere" in nkr and "DSAM nævner rygkirurgisk vurdering" in nkr
    assert client.get("/knowledge/rules/NO-SUCH-RULE").status_code == 404
    assert "IMG-NOT-INDICATED" in client.get("/knowledge/rules?lang=en").get_data(as_text=True)
