"""Operations endpoints in process: /healthz, /readyz, /metrics (what is counted, with which labels)."""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY

from service import create_app
from service.metrics import AUTH_REASON_LABELS, auth_reason
from service.runtime import runtime
from tests.hookreq import condition, full_prefetch, hook_request, imaging_order
from tests.hostile_fhir import running


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_healthz_answers_without_touching_the_store(client, monkeypatch):
    with client.application.app_context():
        monkeypatch.setattr(runtime().storage, "ping", lambda: 1 / 0)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_ready_with_knowledge_value_sets_and_store(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"knowledge": "ok", "valueSets": "ok", "store": "ok"}
    assert body["rules"] > 0 and body["concepts"] > 0


@pytest.mark.parametrize("ping", [lambda: False, lambda: 1 / 0])
def test_readyz_is_503_when_the_store_is_unreachable(client, monkeypatch, ping):
    with client.application.app_context():
        monkeypatch.setattr(runtime().storage, "ping", ping)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["store"] == "failing"


def test_probes_and_scrapes_write_no_log_line(client, capsys):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        client.get(path)
    assert '"call"' not in capsys.readouterr().err


def test_metrics_are_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "# TYPE lbp_cds_http_requests_total counter" in response.get_data(as_text=True)


def test_a_hook_call_counts_request_latency_and_cards_by_rule_and_indicator(client):
    labels = {"endpoint": "hooks.call", "service": "lbp-order-select", "status": "200"}
    before = sample("lbp_cds_http_requests_total", **labels)
    latency_before = sample("lbp_cds_http_request_duration_seconds_count", **labels)
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    cards = client.post("/cds-services/lbp-order-select", json=body).get_json()["cards"]
    assert cards
    assert sample("lbp_cds_http_requests_total", **labels) == before + 1
    assert sample("lbp_cds_http_request_duration_seconds_count", **labels) == latency_before + 1
    text = client.get("/metrics").get_data(as_text=True)
    for card in cards:
        pattern = r'lbp_cds_cards_total\{indicator="' + card["indicator"] + r'",rule_id="[A-Z0-9-]+"\} [1-9]'
        assert re.search(pattern, text)


def test_feedback_outcomes_are_counted_once_stored(client):
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    card = client.post("/cds-services/lbp-order-select", json=body).get_json()["cards"][0]
    labels = {"service": "lbp-order-select", "outcome": "overridden"}
    before = sample("lbp_cds_feedback_outcomes_total", **labels)
    item = {"card": card["uuid"], "outcome": "overridden", "overrideReason": {"reason": card["overrideReasons"][0]},
            "outcomeTimestamp": "2026-11-22T10:00:00Z"}
    assert client.post("/cds-services/lbp-order-select/feedback", json={"feedback": [item]}).status_code == 200
    assert sample("lbp_cds_feedback_outcomes_total", **labels) == before + 1
    unknown = {**item, "card": "no-such-card"}
    assert client.post("/cds-services/lbp-order-select/feedback", json={"feedback": [unknown]}).status_code == 404
    assert sample("lbp_cds_feedback_outcomes_total", **labels) == before + 1


def test_the_fhir_fallback_failures_and_deadline_cuts_are_counted(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "FHIR_DEADLINE": 0.6})
    before = {name: sample(name) for name in ("lbp_cds_fhir_fallback_calls_total", "lbp_cds_fhir_deadline_cuts_total")}
    failed = sample("lbp_cds_fhir_fallback_keys_total", status="fetch-failed")
    for server in running(sleep=30.0):
        body = hook_request("patient-view", fhirServer=server.base("sleep"))
        assert app.test_client().post("/cds-services/lbp-patient-view", json=body).status_code in (200, 412)
    assert sample("lbp_cds_fhir_fallback_calls_total") == before["lbp_cds_fhir_fallback_calls_total"] + 1
    assert sample("lbp_cds_fhir_deadline_cuts_total") == before["lbp_cds_fhir_deadline_cuts_total"] + 1
    assert sample("lbp_cds_fhir_fallback_keys_total", status="fetch-failed") > failed


def test_a_call_with_everything_prefetched_is_no_fallback_call(client):
    before = sample("lbp_cds_fhir_fallback_calls_total")
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    assert client.post("/cds-services/lbp-order-select", json=body).status_code == 200
    assert sample("lbp_cds_fhir_fallback_calls_total") == before


def test_authentication_failures_are_counted_by_reason(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    client = app.test_client()
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    before = {r: sample("lbp_cds_auth_failures_total", reason=r) for r in ("no_token", "malformed")}
    assert client.post("/cds-services/lbp-order-select", json=body).status_code == 401
    assert client.post("/cds-services/lbp-order-select", json=body,
                       headers={"Authorization": "Bearer not.a.jwt"}).status_code == 401
    assert sample("lbp_cds_auth_failures_total", reason="no_token") == before["no_token"] + 1
    assert sample("lbp_cds_auth_failures_total", reason="malformed") == before["malformed"] + 1


@pytest.mark.parametrize(("failure", "reason"), [
    ("no bearer token", "no_token"),
    ("malformed token (DecodeError)", "malformed"),
    ("no kid in the header", "malformed"),
    ("alg 'HS256' not allowed", "algorithm"),
    ("unknown iss 'https://evil'", "unknown_issuer"),
    ("jku 'https://x' not on the list for a", "jku_not_allowed"),
    ("JWK Set at https://x: timeout", "jwks_unavailable"),
    ("unknown kid 'k' for a", "unknown_key"),
    ("key 'k' is not for ES384 signatures", "unusable_key"),
    ("ExpiredSignatureError: Signature has expired", "expired"),
    ("ImmatureSignatureError: The token is not yet valid (iat)", "not_yet_valid"),
    ("InvalidSignatureError: Signature verification failed", "bad_signature"),
    ("MissingRequiredClaimError: Token is missing the \"jti\" claim", "missing_claim"),
    ("InvalidIssuerError: Invalid issuer", "invalid_token"),
    ("aud 'x' is not 'y'", "audience"),
    ("token valid for more than 3600 s", "lifetime_too_long"),
    ("jti is not a string of 1 to 256 characters", "bad_jti"),
    ("jti replayed", "replayed"),
    ("replay cache unavailable", "replay_cache_unavailable"),
    ("something new", "other"),
])
def test_auth_failure_reasons_are_a_closed_set(failure, reason):
    assert auth_reason(failure) == reason
    assert reason in AUTH_REASON_LABELS


def test_labels_never_carry_what_a_caller_sent(client):
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    client.post("/cds-services/no-such-service-PATIENT-123", json=body)
    client.get("/knowledge/rules/NO-SUCH-RULE-PATIENT-123")
    text = client.get("/metrics").get_data(as_text=True)
    assert "PATIENT-123" not in text
    assert 'endpoint="hooks.call",service="",status="404"' in text


def test_a_metrics_token_is_required_when_set(tmp_path):
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off",
                         "METRICS_TOKEN": "s3cret"}).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_metrics_can_be_switched_off(tmp_path):
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "METRICS": "off"}).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/healthz").status_code == 200


def test_a_bad_metrics_setting_stops_start_up(tmp_path):
    with pytest.raises(ValueError, match="LBP_CDS_METRICS"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "METRICS": "maybe"})


@pytest.mark.parametrize("aud", [{}, [], 3, None])
def test_the_demo_token_endpoint_answers_400_to_an_aud_that_is_no_string(client, aud):
    """Found by schemathesis against /openapi.json: ``{"aud": {}}`` was a 500 (unhashable)."""
    assert client.post("/demo/token", json={"aud": aud}).status_code == 400
