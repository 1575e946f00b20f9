"""The demo page (/demo): when it is served, what its tokens may do, and that every example scenario
gives the cards its file promises through the public endpoints, with authentication on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service import create_app
from service.demo import DemoError, clients_entry
from service.scenarios import load_library

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = load_library(ROOT / "examples" / "scenarios")
BASE = "http://localhost/cds-services"


def _app(tmp_path: Path, **config):
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path), **config})


def _token(client, url: str) -> str:
    answer = client.post("/demo/token", json={"aud": url})
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["token"])


def _call(client, service: str, body: dict, tail: str = ""):
    url = f"{BASE}/{service}{tail}"
    return client.post(f"/cds-services/{service}{tail}", json=body,
                       headers={"Authorization": f"Bearer {_token(client, url)}"})


def test_first_run_serves_the_demo_with_authentication_on(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()  # the README's command: no clients file, AUTH on
    page = client.get("/demo/")
    assert page.status_code == 200 and b"demo.js" in page.data
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    for name in ("demo.js", "demo.css", "marked.umd.js", "marked.LICENSE.md"):
        with client.get(f"/demo/static/{name}") as answer:
            assert answer.status_code == 200, name
    scenarios = client.get("/demo/scenarios").get_json()["scenarios"]
    assert len(scenarios) == len(LIBRARY) and sum(s["first"] for s in scenarios) == 1


def test_hooks_still_need_a_token(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    request = LIBRARY["042-xray-without-indication"].request(0)
    assert client.post("/cds-services/lbp-order-select", json=request).status_code == 401


def test_token_only_for_this_services_hook_and_feedback_urls(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    for aud in (f"{BASE}/lbp-order-select", f"{BASE}/lbp-patient-view/feedback"):
        assert client.post("/demo/token", json={"aud": aud}).status_code == 200
    for aud in ("https://ehr.example.dk/cds", f"{BASE}", f"{BASE}/unknown", None):
        assert client.post("/demo/token", json={"aud": aud}).status_code == 400


def test_a_demo_token_is_single_use(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    url = f"{BASE}/lbp-patient-view"
    token = _token(client, url)
    body = LIBRARY["067-annual-review-overdue"].request(0)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/cds-services/lbp-patient-view", json=body, headers=headers).status_code == 200
    assert client.post("/cds-services/lbp-patient-view", json=body, headers=headers).status_code == 401


def test_the_demo_client_may_name_no_fhir_server(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    body = LIBRARY["067-annual-review-overdue"].request(0, prefetch=False)
    body["fhirServer"] = "https://fhir.attacker.example/r4"
    body["fhirAuthorization"] = {"access_token": "x", "token_type": "Bearer", "expires_in": 60,
                                 "scope": "patient/*.read", "subject": "lbp-cds"}
    answer = _call(client, "lbp-patient-view", body)
    assert "registered for this client" in json.dumps(answer.get_json())


def test_with_a_clients_file_the_demo_is_off_unless_declared(tmp_path: Path) -> None:
    clients = tmp_path / "clients.json"
    ehr = {"iss": "https://ehr.example.dk", "jwks": {"keys": [{"kty": "EC", "crv": "P-384", "kid": "k1",
           "x": "AAAA", "y": "AAAA"}]}, "fhirServers": ["https://ehr.example.dk/fhir"]}
    clients.write_text(json.dumps({"clients": [ehr]}), encoding="utf-8")
    assert _app(tmp_path, CLIENTS=str(clients)).test_client().get("/demo/").status_code == 404
    with pytest.raises(DemoError, match="declare the demo client"):
        _app(tmp_path, CLIENTS=str(clients), DEMO="on")
    clients.write_text(json.dumps({"clients": [ehr, clients_entry(tmp_path)]}), encoding="utf-8")
    client = _app(tmp_path, CLIENTS=str(clients), DEMO="on").test_client()
    answer = _call(client, "lbp-patient-view", LIBRARY["067-annual-review-overdue"].request(0))
    assert answer.status_code == 200


def test_demo_off_serves_nothing(tmp_path: Path) -> None:
    client = _app(tmp_path, DEMO="off").test_client()
    assert client.get("/demo/").status_code == 404
    assert client.post("/demo/token", json={"aud": f"{BASE}/lbp-order-select"}).status_code == 404


def test_bad_demo_setting_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(DemoError):
        _app(tmp_path, DEMO="maybe")


@pytest.mark.parametrize("sid", sorted(LIBRARY))
def test_every_scenario_shows_its_cards_through_the_public_endpoints(tmp_path: Path, sid: str) -> None:
    """What the page does: the scenario as served today, each call with a demo token, then feedback.

    The card memory is off: a scenario's calls are one consultation, and the memory would rightly not
    repeat at order-select a card patient-view already showed (tests/test_card_memory.py).
    """
    client = _app(tmp_path, CARD_MEMORY="off").test_client()
    served = client.get(f"/demo/scenarios/{sid}").get_json()
    assert served["chart"]["patient"]["id"] == served["patient"]["id"]
    scenario = LIBRARY[sid]
    today = scenario.moved(scenario.now.fromisoformat(served["now"]))
    for index, call in enumerate(today.calls):
        service = {"patient-view": "lbp-patient-view", "order-select": "lbp-order-select",
                   "order-sign": "lbp-order-sign"}[call["hook"]]
        answer = _call(client, service, today.request(index))
        assert answer.status_code == 200, answer.get_json()
        cards = answer.get_json()["cards"]
        got = {(c["extension"]["dk.lbp-cds.rule"]["ruleId"], c["indicator"]) for c in cards}
        wanted = {(e["rule"], e["indicator"]) for e in call["expect"]}
        # Every card shown is one the scenario promises, and a call that promises cards shows some: the
        # patient-view cap and the card set (one card per problem, tests/test_scenarios.py) hide the rest.
        assert got <= wanted and (bool(got) or not wanted), (sid, index, got, wanted)
        for card in cards[:1]:
            feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                                      "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}
            assert _call(client, service, feedback, "/feedback").status_code == 200


def test_served_scenario_is_moved_to_today(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    served = client.get("/demo/scenarios/042-xray-without-indication").get_json()
    episode = served["chart"]["episode"]
    assert episode["weeks"] == 3.0 and [m["weeks"] for m in episode["marks"]] == [6, 8, 12]
    assert served["chart"]["today"] == served["now"][:10]
    assert client.get("/demo/scenarios/nope").status_code == 404


def test_serving_never_imports_the_load_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from service import create_app; create_app({'DATA_DIR': sys.argv[1]}); "
            "print('service.load_fhir' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
