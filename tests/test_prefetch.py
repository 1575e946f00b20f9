"""Prefetch semantics as the spec defines them, with the caller's FHIR server mocked."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from service.prefetch import FetchSettings, PrefetchUnavailable, expand_template, gather
from tests.hookreq import bundle, condition, patient

BASE = "https://ehr.example.dk/fhir"
TEMPLATES = {"patient": "Patient/{{context.patientId}}", "conditions": "Condition?patient={{context.patientId}}"}
AUTH = {"access_token": "secret-token-123", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
        "subject": "lbp-cds"}


def request(prefetch=None, **extra):
    body = {"hook": "patient-view", "hookInstance": "h", "context": {"patientId": "p1", "userId": "Practitioner/u1"}}
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body


@responses.activate
def test_missing_key_is_fetched_with_the_bearer_token():
    responses.get(f"{BASE}/Patient/p1", json=patient())
    responses.get(f"{BASE}/Condition", json=bundle(condition()))
    result = gather(request(fhirServer=BASE, fhirAuthorization=AUTH), TEMPLATES)
    assert {k: r.status for k, r in result.keys.items()} == {"patient": "fetched", "conditions": "fetched"}
    assert all(c.request.headers["Authorization"] == "Bearer secret-token-123" for c in responses.calls)
    assert sorted(c.request.url.removeprefix(BASE) for c in responses.calls) == ["/Condition?patient=p1", "/Patient/p1"]


@responses.activate
def test_null_means_no_data_and_nothing_is_fetched():
    result = gather(request({"patient": None, "conditions": None}, fhirServer=BASE), TEMPLATES)
    assert {r.status for r in result.keys.values()} == {"no-data"}
    assert len(responses.calls) == 0


@responses.activate
def test_operation_outcome_is_the_clients_failure_and_is_not_retried():
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    result = gather(request({"patient": patient(), "conditions": outcome}, fhirServer=BASE), TEMPLATES)
    assert result.keys["conditions"].status == "client-error"
    assert len(responses.calls) == 0
    assert result.incomplete()


@responses.activate
def test_operation_outcome_for_a_required_key_is_unavailable():
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    with pytest.raises(PrefetchUnavailable, match="conditions"):
        gather(request({"patient": patient(), "conditions": outcome}), TEMPLATES, required={"conditions"})


@responses.activate
def test_pages_are_followed_and_bounded():
    def page(n: int, last: bool) -> dict:
        body = bundle(condition(cid=f"c{n}"))
        if not last:
            body["link"] = [{"relation": "next", "url": f"{BASE}/Condition?patient=p1&page={n + 1}"}]
        return body

    for n, query in ((1, {"patient": "p1"}), (2, {"patient": "p1", "page": "2"}), (3, {"patient": "p1", "page": "3"})):
        responses.get(f"{BASE}/Condition", json=page(n, n == 3), match=[responses.matchers.query_param_matcher(query)])
    full = gather(request({"patient": None}, fhirServer=BASE), TEMPLATES)
    assert [r["id"] for r in full.keys["conditions"].resources] == ["c1", "c2", "c3"]
    capped = gather(request({"patient": None}, fhirServer=BASE), TEMPLATES, settings=FetchSettings(max_pages=2))
    assert len(capped.keys["conditions"].resources) == 2
    # Stopping at the page cap is said out loud: the data is incomplete, not complete.
    assert capped.keys["conditions"].status == "incomplete"
    assert "incomplete" in (capped.keys["conditions"].problem or "") and "pages" in capped.keys["conditions"].problem


@responses.activate
def test_next_link_to_another_host_never_gets_the_token():
    body = bundle(condition())
    body["link"] = [{"relation": "next", "url": "https://evil.example/steal"}]
    responses.get(f"{BASE}/Condition", json=body)
    result = gather(request({"patient": None}, fhirServer=BASE, fhirAuthorization=AUTH), TEMPLATES)
    assert all("evil" not in c.request.url for c in responses.calls)
    # The page that was read is kept, the rest is reported as unknown.
    assert result.keys["conditions"].status == "incomplete"
    assert [r["id"] for r in result.keys["conditions"].resources] == ["lbp-1"]


@pytest.mark.parametrize(
    ("reply", "logged"),
    [
        ({"status": 500, "json": {}}, "HTTP 500"),
        ({"status": 401, "json": {}}, "HTTP 401"),
        ({"body": "<html>not json</html>", "status": 200}, "not JSON"),
        ({"body": requests.ConnectTimeout()}, "ConnectTimeout"),
        ({"body": requests.ConnectionError("refused")}, "ConnectionError"),
        ({"json": {"hello": "world"}, "status": 200}, "not a FHIR resource"),
    ],
    ids=["server-error", "unauthorized", "html", "timeout", "refused", "not-fhir"],
)
@responses.activate
def test_fetch_failures_read_the_same_to_the_caller_and_are_logged(reply, logged, caplog):
    """A closed port, a silent one and an HTTP error must not be told apart: no port scanner."""
    responses.get(f"{BASE}/Condition", **reply)
    result = gather(request({"patient": None}, fhirServer=BASE, fhirAuthorization=AUTH), TEMPLATES)
    assert result.keys["conditions"].status == "fetch-failed"
    failed = "'conditions' was not prefetched and could not be fetched from fhirServer"
    assert result.keys["conditions"].problem == failed
    assert logged in caplog.text
    assert "secret-token-123" not in json.dumps(result.problems()) + caplog.text


@responses.activate
def test_required_key_fetched_fine_is_ok_and_missing_optional_key_without_server_is_not_fetched():
    responses.get(f"{BASE}/Condition", json=bundle(condition()))
    assert gather(request({"patient": None}, fhirServer=BASE), TEMPLATES, required={"conditions"})
    result = gather(request({"conditions": bundle()}), TEMPLATES, required={"conditions"})
    assert result.keys["patient"].status == "not-fetched"


def test_required_key_with_no_prefetch_and_no_server_is_unavailable():
    with pytest.raises(PrefetchUnavailable) as exc:
        gather(request(), TEMPLATES, required={"conditions"})
    assert exc.value.keys == ["conditions"]


@responses.activate
def test_keys_are_fetched_in_parallel_and_all_arrive():
    templates = {f"k{i}": f"Observation?patient={{{{context.patientId}}}}&code=c{i}" for i in range(6)}
    responses.get(f"{BASE}/Observation", json=bundle())
    result = gather(request(fhirServer=BASE), templates)
    assert {r.status for r in result.keys.values()} == {"fetched"}
    assert len(responses.calls) == 6


def test_template_tokens():
    context = {"patientId": "p1", "userId": "PractitionerRole/r-9", "encounterId": "e1"}
    assert expand_template("Encounter/{{context.encounterId}}", context) == "Encounter/e1"
    assert expand_template("PractitionerRole/{{userPractitionerRoleId}}", context) == "PractitionerRole/r-9"
    assert expand_template("Practitioner/{{userPractitionerId}}", context) is None
    assert expand_template("Patient/{{context.patientId}}", {"patientId": "p1&_format=xml"}) is None


def test_bundle_without_type_and_a_bare_resource_are_accepted():
    untyped = bundle(condition(), with_type=False)
    result = gather(request({"patient": patient(), "conditions": untyped}), TEMPLATES)
    assert [r["id"] for r in result.resources()] == ["p1", "lbp-1"]


@pytest.mark.parametrize("encoding", ["gzip", "br"])
@responses.activate
def test_a_body_that_does_not_decode_is_a_plain_failure_not_a_crash(encoding, caplog):
    responses.get(f"{BASE}/Condition", body=b"\x1f\x8bnot really gzip", headers={"Content-Encoding": encoding})
    result = gather(request({"patient": None}, fhirServer=BASE), TEMPLATES)
    assert result.keys["conditions"].status == "fetch-failed"
    assert "Traceback" not in caplog.text and "unexpectedly" not in caplog.text


@responses.activate
def test_a_later_page_that_fails_leaves_the_earlier_pages_marked_incomplete():
    first = bundle(condition(cid="c1"))
    first["link"] = [{"relation": "next", "url": f"{BASE}/Condition?patient=p1&page=2"}]
    responses.get(f"{BASE}/Condition", json=first, match=[responses.matchers.query_param_matcher({"patient": "p1"})])
    responses.get(f"{BASE}/Condition", status=500,
                  match=[responses.matchers.query_param_matcher({"patient": "p1", "page": "2"})])
    result = gather(request({"patient": None}, fhirServer=BASE), TEMPLATES)
    assert result.keys["conditions"].status == "incomplete"
    assert [r["id"] for r in result.keys["conditions"].resources] == ["c1"]
    assert "a later page could not be read" in (result.keys["conditions"].problem or "")


NOT_FOUND = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}


@responses.activate
def test_a_read_of_a_resource_the_server_does_not_have_is_no_data():
    responses.get(f"{BASE}/Patient/p1", status=404, json=NOT_FOUND)
    responses.get(f"{BASE}/Condition", json=bundle(condition()))
    result = gather(request(fhirServer=BASE), TEMPLATES)
    assert result.keys["patient"].status == "fetched" and result.keys["patient"].resources == ()


@pytest.mark.parametrize(
    ("path", "reply"),
    [("/Condition", {"status": 404, "json": NOT_FOUND}),
     ("/Patient/p1", {"status": 404, "body": "<h1>Not Found</h1>"})],
    ids=["search-endpoint-missing", "not-a-fhir-server"],
)
@responses.activate
def test_a_404_that_does_not_mean_no_such_resource_is_a_failure_not_empty_data(path, reply):
    """A wrong base URL must not read as "the patient has no conditions"."""
    responses.get(f"{BASE}/Patient/p1", json=patient())
    responses.get(f"{BASE}/Condition", json=bundle(condition()))
    responses.replace(responses.GET, f"{BASE}{path}", **reply)
    result = gather(request(fhirServer=BASE), TEMPLATES)
    key = "conditions" if path == "/Condition" else "patient"
    assert result.keys[key].status == "fetch-failed"
