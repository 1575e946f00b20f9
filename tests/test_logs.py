"""Logs: one JSON line per call that an operator can use, and nothing about the patient in any line."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from service import create_app
from service.auth import mint_dev_token
from service.logs import json_formatter
from tests.hookreq import bundle, condition, full_prefetch, hook_request, imaging_order, patient

NAME = "Jens Testesen Hansen"
CPR = "0101701234"
FREE_TEXT = "Faldt af cyklen ved Tisvilde Hegn"
COMMENT = "Naboen Karen Sørensen mener at MR er nødvendig"
ACCESS_TOKEN = "fhir-access-token-never-logged-5f2c"
SECRETS = [NAME, CPR, FREE_TEXT, COMMENT, ACCESS_TOKEN]
BASE = "http://localhost/cds-services"


def identified_patient() -> dict[str, Any]:
    return {**patient(CPR), "name": [{"text": NAME, "family": "Hansen", "given": ["Jens", "Testesen"]}],
            "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": CPR}]}


def request_for(hook: str) -> dict[str, Any]:
    lbp = condition(pid=CPR, note=[{"text": FREE_TEXT}])
    prefetch = full_prefetch(lbp, pid=CPR)
    prefetch["patient"] = identified_patient()
    prefetch["conditions"] = bundle(lbp)
    orders = (imaging_order(pid=CPR, note=[{"text": FREE_TEXT}]),) if hook != "patient-view" else ()
    return hook_request(hook, prefetch=prefetch, orders=orders, pid=CPR,
                        fhirServer="https://ehr.example.dk/fhir",
                        fhirAuthorization={"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300,
                                           "scope": "patient/*.read", "subject": "lbp-cds", "patient": CPR})


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]):
    """Every logger at DEBUG; returns a function giving all log output so far, as the service writes it."""
    caplog.set_level(logging.DEBUG)
    formatter = json_formatter()

    def output() -> str:
        formatted = "\n".join(formatter.format(record) for record in caplog.records)
        return capsys.readouterr().err + "\n" + formatted

    return output


def authed(client, tmp_path, url: str, body: dict[str, Any]):
    token = mint_dev_token(tmp_path, f"{BASE}{url}")
    return client.post(f"/cds-services{url}", json=body, headers={"Authorization": f"Bearer {token}"}), token


def test_no_patient_data_or_token_reaches_the_log_on_any_endpoint(tmp_path, monkeypatch, everything_logged):
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "DATA_DIR": str(tmp_path)})
    client = app.test_client()
    tokens = []
    assert client.get("/cds-services").status_code == 200
    cards = []
    for service, hook in [("lbp-patient-view", "patient-view"), ("lbp-order-select", "order-select"),
                          ("lbp-order-sign", "order-sign")]:
        response, token = authed(client, tmp_path, f"/{service}", request_for(hook))
        tokens.append(token)
        assert response.status_code == 200, response.get_data(as_text=True)
        cards += [(service, c) for c in response.get_json()["cards"]]
    service, card = next((s, c) for s, c in cards if c.get("overrideReasons"))
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z",
                              "overrideReason": {"reason": card["overrideReasons"][0], "userComment": COMMENT}}]}
    response, token = authed(client, tmp_path, f"/{service}/feedback", feedback)
    tokens.append(token)
    assert response.status_code == 200
    # error paths: a 400 that quotes the request back, a 409, a 401, and an unexpected exception
    bad = request_for("order-select")
    bad["context"]["patientId"] = [NAME, CPR]
    assert authed(client, tmp_path, "/lbp-order-select", bad)[0].status_code == 400
    feedback["feedback"][0]["overrideReason"]["userComment"] = COMMENT + "!"
    assert authed(client, tmp_path, f"/{service}/feedback", feedback)[0].status_code == 409
    assert client.post("/cds-services/lbp-order-select", json=request_for("order-select"),
                       headers={"Authorization": f"Bearer {tokens[1]}"}).status_code == 401  # replayed

    import service.hooks

    def crash(*args: Any, **kwargs: Any) -> None:
        raise ValueError(f"cannot handle patient {NAME} ({CPR}): {FREE_TEXT}")

    monkeypatch.setattr(service.hooks, "evaluate_request", crash)
    assert authed(client, tmp_path, "/lbp-order-select", request_for("order-select"))[0].status_code == 500

    log = everything_logged()
    assert '"event": "call"' in log
    leaked = [s for s in [*SECRETS, *tokens] if s in log]
    assert not leaked, leaked
    assert '"type": "ValueError"' in log  # the exception is logged, without its message


def test_a_crashing_rule_is_logged_without_the_exception_message(tmp_path, everything_logged):
    client = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "DATA_DIR": str(tmp_path),
                         "AUTH": "off"}).test_client()

    def broken(record, params):
        raise ZeroDivisionError(f"patient {NAME} {CPR}")

    rule = client.application.extensions["lbp_cds"].knowledge.rules["IMG-NOT-INDICATED"]
    object.__setattr__(rule, "fn", broken)
    assert client.post("/cds-services/lbp-order-select", json=request_for("order-select")).status_code == 200
    log = everything_logged()
    assert "ZeroDivisionError" in log and "IMG-NOT-INDICATED" in log
    assert NAME not in log and CPR not in log


def test_one_line_per_call_says_what_an_operator_needs(tmp_path, capsys):
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}).test_client()
    capsys.readouterr()
    body = request_for("order-select")
    response, _ = authed(client, tmp_path, "/lbp-order-select", body)
    assert response.status_code == 200
    client.get("/cds-services")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    calls = [line for line in lines if line["event"] == "call"]
    assert len(calls) == 2
    hook, discovery = calls
    assert hook["service"] == "lbp-order-select" and hook["hook"] == "order-select"
    assert hook["hookInstance"] == body["hookInstance"]
    assert hook["iss"] == "lbp-cds-dev"
    assert "IMG-NOT-INDICATED" in hook["fired"]
    assert isinstance(hook["data_problems"], int)
    assert hook["status"] == 200 and hook["latency_ms"] >= 0
    assert discovery["status"] == 200 and "iss" not in discovery
