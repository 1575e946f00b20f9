"""Client profiles: the requests real EHRs send, answered in the shape each EHR can show and apply.

The requests are the example payloads of ``docs/integration/`` (written from the CDS Hooks
specification, ``sandbox-findings.md`` and Epic's and Oracle Health's public documentation).
Every response a test here gets is checked against its profile's limits
(:func:`service.profiles.violations`), and so is every clinical scenario under every profile.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from service import create_app
from service.engine import Options, evaluate_request
from service.profiles import (
    PAMA_RATING_URL,
    PROFILES,
    ProfileError,
    offered,
    rule_for_topic,
    shape,
    topic_code,
    topic_map,
    violations,
)
from service.registry import SERVICES
from tests.ehr import KB, TERMS
from tests.test_scenarios import SCENARIOS, SERVICE_FOR_HOOK, _request

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs/integration/examples"
SERVICE = {"patient-view": "lbp-patient-view", "order-select": "lbp-order-select", "order-sign": "lbp-order-sign"}


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def client_for(tmp_path: Path, profile: str) -> Any:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "DEFAULT_PROFILE": profile})
    return app.test_client()


def call(client: Any, profile: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a hook request; the answer must be 200 and keep the profile's limits."""
    answer = client.post(f"/cds-services/{SERVICE[body['hook']]}", json=body)
    assert answer.status_code == 200, answer.get_json()
    response: dict[str, Any] = answer.get_json()
    assert violations(response, profile, body["hook"]) == []
    return response


def rules(response: dict[str, Any]) -> list[str]:
    return [c["extension"]["dk.lbp-cds.rule"]["ruleId"] for c in response["cards"]]


# -- the official CDS Hooks sandbox ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sandbox-rx-view-tramadol.json", "sandbox-rx-sign-tramadol.json"])
def test_sandbox_rx_view_and_sign_with_tramadol_get_the_opioid_warning(tmp_path, name):
    response = call(client_for(tmp_path, "sandbox"), "sandbox", example(name))
    assert rules(response) == ["MED-OPIOID"]
    assert response["cards"][0]["indicator"] == "warning"
    problems = response["extension"]["lbp-cds-data-problems"]
    assert any("category is a single object" in p for p in problems)  # repaired, and said so
    assert any("reasonCode is a single object" in p for p in problems)


def test_sandbox_rx_view_before_a_drug_is_picked_is_quiet_and_says_why(tmp_path):
    response = call(client_for(tmp_path, "sandbox"), "sandbox", example("sandbox-rx-view-tab-opened.json"))
    assert response["cards"] == []
    assert response["extension"]["lbp-cds-data-problems"] == [
        "MedicationRequest/request-123: no medicine chosen yet; the draft order was not checked"]


def test_sandbox_imaging_screen_gets_our_rating_where_it_reads_it(tmp_path):
    response = call(client_for(tmp_path, "sandbox"), "sandbox", example("sandbox-pama-mri.json"))
    assert rules(response) == ["IMG-NOT-INDICATED"]
    (action,) = response["extension"]["systemActions"]
    assert response["systemActions"] == [action]
    assert action["type"] == "update" and action["resource"]["id"] == "example-request-id"
    (rating,) = [e for e in action["resource"]["extension"] if e["url"] == PAMA_RATING_URL]
    assert rating["valueCodeableConcept"]["coding"][0]["code"] == "not-appropriate"
    assert action["resource"]["code"] == example("sandbox-pama-mri.json")["context"]["draftOrders"]["entry"][0][
        "resource"]["code"]  # the order as sent, only rated


def test_an_indicated_mri_is_rated_appropriate_in_the_sandbox(tmp_path):
    body = example("sandbox-pama-mri.json")
    saddle = {"resourceType": "Observation", "id": "o-saddle", "status": "final",
              "subject": {"reference": "Patient/lbp1"},
              "code": {"coding": [{"system": "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts",
                                   "code": "saddle-anaesthesia"}]},
              "valueBoolean": True, "effectiveDateTime": "2026-11-22T09:00:00+01:00"}
    body["prefetch"]["observations"] = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": saddle}]}
    response = call(client_for(tmp_path, "sandbox"), "sandbox", body)
    codes = {e["valueCodeableConcept"]["coding"][0]["code"] for a in response["systemActions"]
             for e in a["resource"]["extension"]}
    # The cauda-equina card took over the MRI card (one card per problem) and speaks for the order.
    assert "RF-CAUDA-EQUINA" in rules(response) and codes == {"appropriate"}


def accept(client: Any, service: str, card: dict[str, Any], suggestion: dict[str, Any]) -> Any:
    return client.post(f"/cds-services/{service}/feedback", json={"feedback": [
        {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion["uuid"]}],
         "outcomeTimestamp": "2026-11-23T10:00:00Z"}]})


def test_sandbox_acceptance_of_a_delete_it_cannot_apply_is_stored_as_not_applied(tmp_path):
    client = client_for(tmp_path, "sandbox")
    (card,) = call(client, "sandbox", example("sandbox-pama-mri.json"))["cards"]
    remove = next(s for s in card["suggestions"] if s["actions"][0]["type"] == "delete")
    assert accept(client, "lbp-order-select", card, remove).status_code == 200
    (mri,) = call(client, "sandbox", example("sandbox-rx-view-tramadol.json"))["cards"]
    assert accept(client, "lbp-order-select", mri, mri["suggestions"][0]).status_code == 200
    with client.application.app_context():
        from service.runtime import runtime
        rows = runtime().storage.feedback_rows()
    # The imaging screen never deleted the MRI; the medication screen did clear the drug.
    assert [(r["rule_id"], r["applied"]) for r in rows] == [("IMG-NOT-INDICATED", 0), ("MED-OPIOID", 1)]


def test_offered_marks_only_what_the_sandbox_cannot_apply():
    response = {"cards": [{"uuid": "c1", "suggestions": [
        {"uuid": "s1", "actions": [{"type": "delete", "resourceId": "ServiceRequest/x"}]},
        {"uuid": "s2", "actions": [{"type": "delete", "resourceId": "MedicationRequest/y"}]}]}]}
    assert {k: v["applicable"] for k, v in offered(response, "sandbox").items()} == {"s1": False, "s2": True}
    assert all(v["applicable"] for v in offered(response, "generic").values())


# -- Epic ---------------------------------------------------------------------------------------------------


def test_epic_medication_reference_in_draft_orders_is_classified(tmp_path):
    response = call(client_for(tmp_path, "epic"), "epic", example("epic-order-select-medication-reference.json"))
    assert rules(response) == ["MED-OPIOID"]
    assert "TRAMADOL" in response["cards"][0]["summary"]


def test_epic_imaging_card_keeps_epic_limits_and_still_offers_every_action(tmp_path):
    generic = call(client_for(tmp_path / "g", "generic"), "generic", example("epic-order-select-mri.json"))
    epic = call(client_for(tmp_path / "e", "epic"), "epic", example("epic-order-select-mri.json"))
    (g_card,), (e_card,) = generic["cards"], epic["cards"]
    assert e_card["selectionBehavior"] == "any" and e_card["source"]["topic"]["code"] == "IMGNOTINDICATED"
    g_actions = {json.dumps(a, sort_keys=True) for s in g_card["suggestions"] for a in s["actions"]
                 if a["type"] == "create"}
    e_actions = [a for s in e_card["suggestions"] for a in s["actions"]]
    assert g_actions <= {json.dumps(a, sort_keys=True) for a in e_actions}
    assert [a["type"] for a in e_actions].count("delete") == 1  # "remove the order" once
    assert e_card["suggestions"][0]["uuid"] == g_card["suggestions"][0]["uuid"]


def test_epic_feedback_with_override_reasons_plural_is_read(tmp_path):
    client = client_for(tmp_path, "epic")
    (card,) = call(client, "epic", example("epic-order-select-mri.json"))["cards"]
    answer = client.post("/cds-services/lbp-order-select/feedback", json={"feedback": [{
        "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z",
        "overrideReasons": [{"reason": {"code": "specialist-requested",
                                        "system": "https://lbp-cds.org/fhir/CodeSystem/override-reasons"},
                             "userComment": "Rygkirurg ønsker MR"}]}]})
    assert answer.status_code == 200, answer.get_json()
    with client.application.app_context():
        from service.runtime import runtime
        (row,) = runtime().storage.feedback_rows()
    assert (row["rule_id"], row["override_code"], row["user_comment"]) == (
        "IMG-NOT-INDICATED", "specialist-requested", "Rygkirurg ønsker MR")


def test_epic_accepting_a_split_suggestion_is_accepted_feedback(tmp_path):
    client = client_for(tmp_path, "epic")
    (card,) = call(client, "epic", example("epic-order-select-mri.json"))["cards"]
    create = next(s for s in card["suggestions"] if s["actions"][0]["type"] == "create")
    assert accept(client, "lbp-order-select", card, create).status_code == 200


def test_epic_topic_codes_map_back_to_every_rule():
    topics = topic_map(KB.rules)
    assert len(topics) == len(KB.rules)
    for rule_id in KB.rules:
        assert rule_for_topic(topic_code(rule_id), topics) == rule_id == rule_for_topic(rule_id, topics)
    with pytest.raises(ProfileError):
        topic_map(["IMG-NOT-INDICATED", "IMGNOT-INDICATED"])


# -- Oracle Health: patient-view only -------------------------------------------------------------------


def test_patient_view_only_lists_and_answers_patient_view_only(tmp_path):
    client = client_for(tmp_path, "patient-view-only")
    assert [s["hook"] for s in client.get("/cds-services").get_json()["services"]] == ["patient-view"]
    response = call(client, "patient-view-only", example("oracle-patient-view.json"))
    assert rules(response) == ["RF-CAUDA-EQUINA"]
    refused = client.post("/cds-services/lbp-order-select", json=example("danish-order-select-mri.json"))
    assert refused.status_code == 404


# -- a Danish EHR ------------------------------------------------------------------------------------------


def test_danish_codes_under_their_oids_are_read(tmp_path):
    response = call(client_for(tmp_path, "generic"), "generic", example("danish-order-select-mri.json"))
    assert rules(response) == ["IMG-NOT-INDICATED"]
    assert "lbp-cds-data-problems" not in response.get("extension", {})


def test_an_unknown_profile_stops_start_up(tmp_path):
    with pytest.raises(ProfileError, match="unknown profile 'cerner'"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "DEFAULT_PROFILE": "cerner"})


# -- every clinical scenario, under every profile ----------------------------------------------------------


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_scenario_response_keeps_each_profiles_limits(profile):
    checked = 0
    for stem, scenario in SCENARIOS.items():
        for index, scenario_call in enumerate(scenario["calls"]):
            hook = scenario_call["hook"]
            if profile == "patient-view-only" and hook != "patient-view":
                continue
            service = SERVICES[SERVICE_FOR_HOOK[hook]]
            request = _request(scenario, scenario_call, "prefetch", index)
            result = evaluate_request(request, service, KB, TERMS, Options(strict=True),
                                      now=datetime.fromisoformat(scenario["now"]))
            shaped = shape(result.response, profile, hook, request["context"])
            assert violations(shaped, profile, hook) == [], (stem, index)
            checked += 1
    assert checked > 60


def test_start_up_checks_the_profile_data_against_the_rules():
    from service.profiles import check_knowledge

    assert check_knowledge(KB.rules)["IMGNOTINDICATED"] == "IMG-NOT-INDICATED"
    with pytest.raises(ProfileError, match="unknown rule"):
        check_knowledge([r for r in KB.rules if r != "IMG-NOT-INDICATED"])
