"""Only a fhirServer the calling client may use receives a request — with its token or at all."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import responses

from service import hooks
from service.fhir_servers import normalise_base, refusal, under_base
from service.prefetch import FetchSettings, PrefetchUnavailable, gather
from tests.hookreq import bundle, condition, full_prefetch, hook_request, imaging_order, patient

LISTED = "https://ehr.example.dk/fhir"
TEMPLATES = {"patient": "Patient/{{context.patientId}}", "conditions": "Condition?patient={{context.patientId}}"}


def request(server: str, **extra) -> dict:
    return {"hook": "patient-view", "hookInstance": "h", "fhirServer": server,
            "fhirAuthorization": {"access_token": "tok", "token_type": "Bearer", "expires_in": 60, "scope": "x",
                                  "subject": "s"},
            "context": {"patientId": "p1"}, **extra}


@pytest.mark.parametrize(
    "server",
    [
        "https://attacker.example/fhir",
        "https://ehr.example.dk/fhir-admin",
        "https://ehr.example.dk/",
        "https://ehr.example.dk:8443/fhir",
        "http://ehr.example.dk/fhir",
        "https://user:pw@ehr.example.dk/fhir",
        "https://ehr.example.dk/fhir/../admin",
        "https://ehr.example.dk/fhir?x=1",
        "http://169.254.169.254/latest/meta-data",
    ],
)
@responses.activate
def test_an_unlisted_server_receives_no_request(server):
    result = gather(request(server, prefetch={"conditions": bundle(condition())}), TEMPLATES,
                    settings=FetchSettings(allowed_servers=(LISTED,)))
    assert len(responses.calls) == 0
    assert result.keys["patient"].status == "not-fetched"
    assert "nothing was fetched" in (result.keys["patient"].problem or "")
    # What was prefetched still counts.
    assert result.keys["conditions"].status == "prefetched"


@responses.activate
def test_a_listed_server_is_asked_whatever_the_spelling_of_its_base_url():
    responses.get(f"{LISTED}/Patient/p1", json=patient())
    responses.get(f"{LISTED}/Condition", json=bundle(condition()))
    result = gather(request("HTTPS://EHR.example.dk:443/fhir/"), TEMPLATES,
                    settings=FetchSettings(allowed_servers=("https://ehr.example.dk/fhir/",)))
    assert {r.status for r in result.keys.values()} == {"fetched"}
    assert len(responses.calls) == 2


@responses.activate
def test_required_data_from_an_unlisted_server_is_412_and_nothing_is_sent():
    with pytest.raises(PrefetchUnavailable, match="not one of the FHIR servers registered for this client"):
        gather(request("https://attacker.example/fhir"), TEMPLATES, required={"conditions"},
               settings=FetchSettings(allowed_servers=(LISTED,)))
    assert len(responses.calls) == 0


@pytest.mark.parametrize("allowed", [None, ()])
@responses.activate
def test_without_an_allowlist_http_goes_only_to_loopback(allowed):
    result = gather(request("http://ehr.example.dk/fhir"), TEMPLATES, settings=FetchSettings(allowed_servers=allowed))
    assert len(responses.calls) == 0
    assert "must use https" in (result.keys["conditions"].problem or "")


@responses.activate
def test_prefetch_only_mode_never_fetches():
    result = gather(request(LISTED), TEMPLATES, settings=FetchSettings(prefetch_only=True, allowed_servers=(LISTED,)))
    assert len(responses.calls) == 0
    assert "prefetch-only" in (result.keys["conditions"].problem or "")


def test_next_links_only_under_the_same_base():
    base = normalise_base(LISTED)
    assert base == LISTED
    assert under_base(f"{LISTED}/Condition?patient=p1&page=2", base)
    assert under_base(f"{LISTED}?_getpages=abc", base)
    for link in (
        "https://ehr.example.dk/fhir-other/Condition",
        "https://ehr.example.dk/fhir/../admin",
        "https://ehr.example.dk/fhir/%2e%2e/admin",
        "https://evil.example/fhir/Condition",
        "https://ehr.example.dk@evil.example/fhir/Condition",
        "http://ehr.example.dk/fhir/Condition",
        "https://ehr.example.dk/fhir/Condition\\@evil.example",
        "https://ehr.example.dk:444/fhir/Condition",
    ):
        assert not under_base(link, base), link


def test_refusal_texts_say_nothing_about_the_network():
    assert refusal("https://localhost/fhir", None) is None
    assert refusal("http://127.0.0.1:8080/fhir", None) is None
    assert refusal("http://[::1]:8080/fhir", ()) is None
    assert refusal("ftp://ehr.example.dk/fhir", None) == "fhirServer is not a plain http(s) base URL"


# -- how the HTTP layer obtains the allowlist -------------------------------------------------
def test_the_allowlist_is_the_verified_clients_fhir_servers(app):
    with app.test_request_context("/cds-services/lbp-patient-view"):
        assert hooks.allowed_fhir_servers() is None
        hooks.g.client = SimpleNamespace(fhir_servers=[LISTED])
        assert hooks.allowed_fhir_servers() == (LISTED,)


@responses.activate
def test_a_hook_call_naming_an_unlisted_server_gets_cards_from_prefetch_and_the_problem(client, monkeypatch):
    monkeypatch.setattr(hooks, "allowed_fhir_servers", lambda: (LISTED,))
    prefetch = full_prefetch(condition())
    del prefetch["observations"]
    body = hook_request("order-select", prefetch=prefetch, orders=(imaging_order(),),
                        fhirServer="https://attacker.example/fhir")
    response = client.post("/cds-services/lbp-order-select", json=body)
    assert len(responses.calls) == 0
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["cards"]
    assert any("observations" in p and "registered for this client" in p
               for p in answer["extension"]["lbp-cds-data-problems"])
    assert all("Data kunne ikke hentes: observations" in c["detail"] for c in answer["cards"])


@responses.activate
def test_prefetch_only_mode_set_in_the_environment_sends_nothing(monkeypatch, tmp_path):
    from service import create_app

    monkeypatch.setenv("LBP_CDS_PREFETCH_ONLY", "1")
    client = create_app({"TESTING": True, "AUTH": "off", "DATA_DIR": str(tmp_path)}).test_client()
    body = hook_request("order-select", orders=(imaging_order(),), fhirServer=LISTED)
    response = client.post("/cds-services/lbp-order-select", json=body)
    assert len(responses.calls) == 0
    assert response.status_code == 412
    assert "prefetch-only" in response.get_json()["issue"][0]["diagnostics"]
