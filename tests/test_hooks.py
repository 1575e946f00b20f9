"""The CDS Hooks protocol as an EHR sees it: discovery, hook calls, errors, CORS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from service import create_app
from service.validate import format_checker
from tests.hookreq import (
    SNOMED,
    bundle,
    condition,
    full_prefetch,
    hook_request,
    imaging_order,
)

RESPONSE_SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "service/schemas/response.schema.json").read_text()
)
RESPONSE = Draft202012Validator(RESPONSE_SCHEMA, format_checker=format_checker())


def assert_no_empty(value: Any, path: str = "$") -> None:
    """The spec: optional fields are omitted, never null, "", [] or {} (except cards: [])."""
    assert value is not None, path
    if isinstance(value, str):
        assert value != "", path
    if isinstance(value, dict):
        assert value, path
        for k, v in value.items():
            assert_no_empty(v, f"{path}.{k}")
    if isinstance(value, list):
        for i, v in enumerate(value):
            assert_no_empty(v, f"{path}[{i}]")


def assert_valid_response(body: dict[str, Any]) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in RESPONSE.iter_errors(body)]
    assert not errors, errors
    for card in body["cards"]:
        assert_no_empty(card)


def assert_outcome(response, status: int, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    text = json.dumps(body)
    assert "Traceback" not in text
    for needle in needles:
        assert needle in text, text
    return body


def mri_request(hook: str = "order-select", onset_days: float = 21, **kw: Any) -> dict[str, Any]:
    return hook_request(hook, prefetch=full_prefetch(condition(onset_days=onset_days)), orders=(imaging_order(),), **kw)


# -- discovery ---------------------------------------------------------------------------


def test_discovery_lists_the_three_services(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s for s in response.get_json()["services"]}
    assert {k: s["hook"] for k, s in services.items()} == {
        "lbp-patient-view": "patient-view",
        "lbp-order-select": "order-select",
        "lbp-order-sign": "order-sign",
    }
    for service in services.values():
        assert service["title"] and service["description"]
        assert service["prefetch"]["conditions"] == "Condition?patient={{context.patientId}}"
        assert service["version"] == "2.0.1"
        assert_no_empty(service)


def test_every_discovered_service_answers_its_hook(client):
    for service in client.get("/cds-services").get_json()["services"]:
        body = hook_request(service["hook"], prefetch=full_prefetch(condition()), orders=(imaging_order(),))
        response = client.post(f"/cds-services/{service['id']}", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert_valid_response(response.get_json())


# -- hook calls --------------------------------------------------------------------------


def test_lumbar_mri_for_three_week_back_pain_gets_a_warning_that_can_drop_the_order(client):
    response = client.post("/cds-services/lbp-order-select", json=mri_request())
    assert response.status_code == 200
    body = response.get_json()
    assert_valid_response(body)
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "IMG-NOT-INDICATED")
    assert card["indicator"] == "warning"
    assert "3 uger" in card["detail"]
    # Nothing documented about red flags: the card must say so, not claim there are none.
    assert "ingen dokumenteret – ukendt, ikke afkræftet" in card["detail"]
    deletes = [a for s in card["suggestions"] for a in s["actions"] if a["type"] == "delete"]
    assert {"type": "delete", "resourceId": "ServiceRequest/mri-1"}.items() <= deletes[0].items()
    assert card["selectionBehavior"] == "at-most-one"


def test_same_request_gives_the_same_cards(tmp_path):
    # The pipeline is deterministic; the card memory (on by default) would hide the repeat on purpose,
    # which tests/test_card_memory.py covers.
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "CARD_MEMORY": "off"})
    client = app.test_client()
    body = mri_request()
    first = client.post("/cds-services/lbp-order-select", json=body).get_json()
    second = client.post("/cds-services/lbp-order-select", json=body).get_json()
    assert first == second


def test_english_when_the_caller_prefers_it(client):
    response = client.post(
        "/cds-services/lbp-order-select", json=mri_request(), headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    card = response.get_json()["cards"][0]
    assert "weeks" in card["detail"]
    assert "uger" not in card["detail"]


def test_sandbox_style_draft_without_bundle_type_and_empty_coding_is_tolerated(client):
    empty_draft = {"resourceType": "ServiceRequest", "id": "example-request-id", "status": "draft",
                   "intent": "order", "code": {"coding": [{}]}, "reasonCode": [],
                   "subject": {"reference": "Patient/p1"}}
    body = hook_request("order-select", prefetch={"conditions": bundle(condition(), with_type=False)},
                        orders=(empty_draft,))
    response = client.post("/cds-services/lbp-order-select", json=body)
    assert response.status_code == 200
    assert_valid_response(response.get_json())


def test_sandbox_pama_reason_code_establishes_the_episode(client):
    order = imaging_order(reasonCode=[{"coding": [{"system": SNOMED, "code": "279039007"}]}])
    body = hook_request("order-select", prefetch={"conditions": None, "patient": None}, orders=(order,))
    body["context"]["selections"] = ["ServiceRequest/mri-1"]
    cards = client.post("/cds-services/lbp-order-select", json=body).get_json()["cards"]
    card = next(c for c in cards if c["source"]["topic"]["code"] == "IMG-NOT-INDICATED")
    assert "begrundelse" in card["detail"]  # the back pain is known only from the order's reason


def test_one_bad_resource_is_skipped_and_reported_not_fatal(client):
    bad = condition(cid="bad-1", onsetDateTime="not-a-date")
    body = hook_request("order-select", prefetch=full_prefetch(condition(), bad), orders=(imaging_order(),))
    response = client.post("/cds-services/lbp-order-select", json=body)
    assert response.status_code == 200
    body = response.get_json()
    assert any("Condition/bad-1" in p for p in body["extension"]["lbp-cds-data-problems"])
    assert any(c["source"]["topic"]["code"] == "IMG-NOT-INDICATED" for c in body["cards"])


def test_client_side_fetch_failure_is_reported_on_the_card(client):
    prefetch = full_prefetch(condition())
    prefetch["observations"] = {"resourceType": "OperationOutcome",
                                "issue": [{"severity": "error", "code": "timeout"}]}
    body = client.post(
        "/cds-services/lbp-order-select",
        json=hook_request("order-select", prefetch=prefetch, orders=(imaging_order(),)),
    ).get_json()
    card = body["cards"][0]
    assert "kunne ikke hentes" in card["detail"] and "observations" in card["detail"]
    assert body["extension"]["lbp-cds-data-problems"]


def test_other_patients_data_is_never_used(client):
    other = condition(cid="other", pid="someone-else", onset_days=400)
    body = hook_request("order-select", prefetch=full_prefetch(other), orders=(imaging_order(),))
    result = client.post("/cds-services/lbp-order-select", json=body).get_json()
    assert any("another patient" in p for p in result["extension"]["lbp-cds-data-problems"])


def test_explain_returns_a_trace_of_every_rule(client):
    body = mri_request(extension={"lbp-cds-explain": True})
    trace = client.post("/cds-services/lbp-order-select", json=body).get_json()["extension"]["lbp-cds-trace"]
    fired = {t["rule"] for t in trace if t["fired"]}
    assert "IMG-NOT-INDICATED" in fired
    assert all("version" in t for t in trace)


def test_required_data_neither_prefetched_nor_fetchable_is_412(client):
    body = hook_request("patient-view")
    assert_outcome(client.post("/cds-services/lbp-patient-view", json=body), 412, "conditions")


def test_null_prefetch_means_no_data_not_412(client):
    body = hook_request("patient-view", prefetch={"conditions": None, "patient": None})
    response = client.post("/cds-services/lbp-patient-view", json=body)
    assert response.status_code == 200
    assert response.get_json()["cards"] == []


# -- errors ------------------------------------------------------------------------------


def test_unknown_service_is_404(client):
    assert_outcome(client.post("/cds-services/nope", json=mri_request()), 404, "nope")


def test_wrong_method_is_405(client):
    response = client.get("/cds-services/lbp-order-select")
    assert_outcome(response, 405)
    assert "POST" in response.headers["Allow"]


def test_body_not_declared_json_is_415(client):
    response = client.post("/cds-services/lbp-order-select", data="hello", content_type="text/plain")
    assert_outcome(response, 415, "application/json")


@pytest.mark.parametrize(
    "raw",
    ["{", "[1,", '{"hook": NaN}', "\xff\xfe"],
    ids=["truncated", "unterminated-array", "nan-constant", "not-utf8"],
)
def test_malformed_json_is_400(client, raw):
    response = client.post("/cds-services/lbp-order-select", data=raw.encode("latin-1"),
                           content_type="application/json")
    assert_outcome(response, 400)


def test_body_over_the_cap_is_413(tmp_path):
    from service import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "MAX_REQUEST_BYTES": 2000})
    body = mri_request()
    body["extension"] = {"padding": "x" * 5000}
    assert_outcome(app.test_client().post("/cds-services/lbp-order-select", json=body), 413, "2000")


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: _without(b, "hookInstance"), "hookInstance"),
        (lambda b: _without(b, "context"), "context"),
        (lambda b: _without(b, "context", "patientId"), "patientId"),
        (lambda b: _without(b, "context", "draftOrders"), "draftOrders"),
        (lambda b: {**b, "hook": "patient-view"}, "patient-view"),
        (lambda b: {**b, "prefetch": [1, 2]}, "prefetch"),
        (lambda b: {**b, "fhirServer": "not a url"}, "fhirServer"),
        (lambda b: {**b, "fhirAuthorization": {"access_token": "t", "token_type": "Bearer", "expires_in": 1,
                                               "scope": "patient/*.read", "subject": "lbp"}}, "fhirServer"),
        (lambda b: {**b, "context": {**b["context"], "selections": "ServiceRequest/mri-1"}}, "selections"),
        (lambda b: {**b, "context": {**b["context"], "draftOrders": {"resourceType": "Patient"}}}, "draftOrders"),
        (lambda b: {**b, "context": {**b["context"], "userId": "Device/1"}}, "userId"),
        (lambda b: [b], "JSON object"),
    ],
    ids=["no-hookInstance", "no-context", "no-patientId", "no-draftOrders", "wrong-hook", "prefetch-array",
         "fhirServer-not-url", "fhirAuthorization-without-fhirServer", "selections-not-array",
         "draftOrders-not-bundle", "userId-not-practitioner", "body-is-array"],
)
def test_malformed_requests_get_400_saying_what_is_wrong(client, mutate, needle):
    response = client.post("/cds-services/lbp-order-select", json=mutate(mri_request()))
    assert_outcome(response, 400, needle)


def test_unexpected_failure_is_a_500_outcome_without_trace(quiet_client, monkeypatch):
    import service.hooks

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service.hooks, "evaluate_request", boom)
    body = assert_outcome(quiet_client.post("/cds-services/lbp-order-select", json=mri_request()), 500)
    assert "secret internal detail" not in json.dumps(body)


# -- CORS --------------------------------------------------------------------------------


def test_no_browser_origin_is_allowed_unless_configured(client):
    response = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight_for_authorization_header_is_answered(tmp_path):
    from service import create_app

    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path),
                         "CORS_ORIGINS": "https://sandbox.cds-hooks.org"}).test_client()
    response = client.options(
        "/cds-services/lbp-order-select",
        headers={"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_configured_origins_are_echoed_with_credentials_and_others_refused(tmp_path):
    from service import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CORS_ORIGINS": "https://ehr.example.dk",
                      "CORS_ALLOW_CREDENTIALS": True})
    client = app.test_client()
    ok = client.get("/cds-services", headers={"Origin": "https://ehr.example.dk"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.example.dk"
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    other = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_wildcard_origin_never_sends_credentials(tmp_path):
    from service import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CORS_ORIGINS": "*",
                      "CORS_ALLOW_CREDENTIALS": True})
    response = app.test_client().get("/cds-services", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


# -- rule pages (card source.url) ----------------------------------------------------------


def test_card_source_url_opens_a_page_with_the_citation(client):
    card = client.post("/cds-services/lbp-order-select", json=mri_request()).get_json()["cards"][0]
    path = card["source"]["url"].split("localhost", 1)[1]
    page = client.get(path)
    assert page.status_code == 200
    assert card["source"]["topic"]["code"] in page.get_data(as_text=True)


def test_patient_view_shows_at_most_three_cards_most_urgent_first_and_traces_the_rest(client):
    from tests.hookreq import finding

    sciatica = condition("23056005", onset_days=70)
    observations = [finding("severe-disabling-pain", oid="o2"),
                    finding("no-satisfactory-improvement", oid="o3"), finding("yellow-flag", oid="o4"),
                    finding("sick-leave", oid="o5", days=40)]
    body = hook_request("patient-view", prefetch=full_prefetch(sciatica, *observations),
                        extension={"lbp-cds-explain": True})
    result = client.post("/cds-services/lbp-patient-view", json=body).get_json()
    assert_valid_response(result)
    indicators = [c["indicator"] for c in result["cards"]]
    assert len(indicators) == 3 and indicators[0] == "warning"
    assert result["cards"][0]["source"]["topic"]["code"] == "REF-SURGICAL-ASSESSMENT-12W"
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert indicators == sorted(indicators, key=rank.__getitem__)
    suppressed = [t["rule"] for t in result["extension"]["lbp-cds-trace"] if "suppressed" in t]
    assert len(suppressed) >= 2, "the cards left out are named in the trace"


def test_explain_setting_adds_the_trace_to_every_response(tmp_path):
    from service import create_app

    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "EXPLAIN": True}).test_client()
    result = client.post("/cds-services/lbp-order-select", json=mri_request()).get_json()
    assert result["extension"]["lbp-cds-trace"]


def test_a_rule_that_crashes_is_reported_and_the_other_rules_still_advise(quiet_client):
    def broken(record, params):
        raise ZeroDivisionError("bug")

    # This app instance is the test's own, so its (frozen) rule can be swapped for a broken one.
    rule = quiet_client.application.extensions["lbp_cds"].knowledge.rules["IMG-XRAY-NO-INDICATION"]
    object.__setattr__(rule, "fn", broken)
    result = quiet_client.post("/cds-services/lbp-order-select", json=mri_request()).get_json()
    problems = result["extension"]["lbp-cds-data-problems"]
    assert any("IMG-XRAY-NO-INDICATION could not be evaluated" in p for p in problems)
    assert any(c["source"]["topic"]["code"] == "IMG-NOT-INDICATED" for c in result["cards"])
