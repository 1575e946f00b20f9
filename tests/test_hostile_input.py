"""Requests built to hurt: deep nesting, invalid Unicode, too many orders, markup in free text."""

from __future__ import annotations

import json
import re

from tests.hookreq import condition, finding, full_prefetch, hook_request, imaging_order

FEEDBACK = "/cds-services/lbp-order-sign/feedback"


def post(client, url: str, text: str):
    return client.post(url, data=text.encode("utf-8"), content_type="application/json")


def order_select(**kwargs) -> dict:
    return hook_request("order-select", prefetch=full_prefetch(condition(), finding("saddle-anaesthesia", False)),
                        orders=(imaging_order(),), **kwargs)


def test_arrays_nested_500_deep_inside_a_resource_are_400_not_a_crash(quiet_client, caplog):
    body = order_select()
    body["prefetch"]["conditions"]["entry"][0]["resource"]["note"] = json.loads("[" * 500 + "]" * 500)
    response = post(quiet_client, "/cds-services/lbp-order-select", json.dumps(body))
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.get_json()["issue"][0]["diagnostics"]
    assert "Traceback" not in caplog.text


def test_nesting_too_deep_for_the_parser_is_400(quiet_client):
    response = post(quiet_client, "/cds-services/lbp-order-select", "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400


def test_a_lone_surrogate_in_hook_instance_is_400(quiet_client):
    text = json.dumps(order_select()).replace('"hookInstance": "', '"hookInstance": "\\ud800', 1)
    response = post(quiet_client, "/cds-services/lbp-order-select", text)
    assert response.status_code == 400
    assert "$.hookInstance" in response.get_json()["issue"][0]["diagnostics"]


def test_a_lone_surrogate_in_feedback_is_400_and_nothing_is_stored(quiet_client):
    text = ('{"feedback": [{"card": "c-\\udfff", "outcome": "accepted", "acceptedSuggestions": [{"id": "s"}],'
            ' "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}')
    response = post(quiet_client, FEEDBACK, text)
    assert response.status_code == 400
    assert "Unicode" in response.get_json()["issue"][0]["diagnostics"]


def test_a_valid_surrogate_pair_is_fine(quiet_client):
    body = order_select()
    text = json.dumps(body).replace('"hookInstance": "', '"hookInstance": "\\ud83d\\ude00', 1)
    assert post(quiet_client, "/cds-services/lbp-order-select", text).status_code == 200


def test_too_many_draft_orders_are_400(client):
    orders = tuple(imaging_order(oid=f"mri-{i}") for i in range(51))
    body = hook_request("order-sign", prefetch=full_prefetch(condition()), orders=orders)
    response = client.post("/cds-services/lbp-order-sign", json=body)
    assert response.status_code == 400
    assert "at most 50" in response.get_json()["issue"][0]["diagnostics"]


def test_cards_per_response_are_capped_and_the_cut_is_reported(app):
    app.config["MAX_CARDS"] = 5
    orders = tuple(imaging_order(oid=f"mri-{i}") for i in range(12))
    body = hook_request("order-sign", prefetch=full_prefetch(condition()), orders=orders,
                        extension={"lbp-cds-explain": True})
    answer = app.test_client().post("/cds-services/lbp-order-sign", json=body).get_json()
    assert len(answer["cards"]) == 5
    assert any("7 further card(s) not shown" in p for p in answer["extension"]["lbp-cds-data-problems"])
    assert any("suppressed" in entry for entry in answer["extension"]["lbp-cds-trace"])


def test_order_names_cannot_inject_markdown_into_cards(client):
    evil = "MR [Klik her](https://evil.example) <img src=x onerror=alert(1)>\n\n# Akut **henvis**"
    # Two selected orders: then each card names the order it is about, in its detail.
    orders = (imaging_order(display=evil), imaging_order(oid="mri-2"))
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=orders)
    answer = client.post("/cds-services/lbp-order-select", json=body).get_json()
    detail = next(c["detail"] for c in answer["cards"]
                  if c["extension"]["dk.lbp-cds.rule"].get("orderRef") == "ServiceRequest/mri-1")
    line = next(b for b in detail.split("\n") if b.startswith("- Gælder ordinationen: "))
    assert "\n" not in line  # no heading or list smuggled in on a line of its own
    assert not re.search(r"(?<!\\)[<>\[\]()*#]", line), line  # every markup character escaped
    assert r"\[Klik her\]\(https\:\/\/evil\.example\)" in line


def test_medicine_names_are_escaped_in_the_detail(client):
    from tests.hookreq import ATC

    order = {"resourceType": "MedicationRequest", "id": "med-1", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/p1"},
             "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "N02AX02"}], "text": "Tramadol *50*"}}
    other = {**order, "id": "med-2", "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "N02AX02"}]}}
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(order, other))
    answer = client.post("/cds-services/lbp-order-select", json=body).get_json()
    card = next(c for c in answer["cards"]
                if c["extension"]["dk.lbp-cds.rule"].get("orderRef") == "MedicationRequest/med-1")
    assert r"Tramadol \*50\*" in card["detail"]
    assert "Tramadol *50*" not in card["detail"]
    assert "Tramadol *50*" in card["summary"]  # the summary is plain text (CDS Hooks), shown as written
