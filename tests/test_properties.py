"""Property-based: whatever hook request or feedback a caller builds, the answer is never a 500.

Hypothesis generates requests shaped like the CDS Hooks models (hook, context, prefetch of
FHIR resources, draft orders; feedback entries) with any JSON — including lone surrogates,
deep nesting, huge numbers — in any place. Derandomized with a bounded number of examples,
so CI runs the same cases every time in well under a minute. ``PREFETCH_ONLY`` keeps any
generated ``fhirServer`` from being contacted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app
from tests.hookreq import ATC, CPT, ICPC2, LBP, LOINC, SNOMED, condition, finding, imaging_order

PROPERTY_SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# Any text, lone surrogates included (st.characters never makes them; json.dumps writes \ud800 escapes).
any_text = st.lists(st.one_of(st.characters(codec=None, exclude_categories=()), st.integers(0xD800, 0xDFFF).map(chr)),
                    max_size=20).map("".join)
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text)
any_json = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)),
    max_leaves=12,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the well-formed value (so that most requests reach the rules), 1 in 25 any JSON."""
    # Not n == 0: Hypothesis favours the ends of a range, and junk should stay the exception.
    return st.integers(1, 25).flatmap(lambda n: any_json if n == 13 else strategy)


ids = maybe(st.from_regex(r"[A-Za-z0-9\-.]{1,12}", fullmatch=True))
dates = maybe(st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat() + "Z"),
                        st.sampled_from(["2026-13-45", "2026", "2026-02", ""])))
coding = st.fixed_dictionaries(
    {"system": maybe(st.sampled_from([SNOMED, CPT, ICPC2, LBP, LOINC, ATC])),
     "code": maybe(st.sampled_from(["279039007", "23056005", "72148", "L03", "N02AX02", "fever",
                                    "saddle-anaesthesia", "386661006"]))},
    optional={"display": any_text},
)
concept = st.fixed_dictionaries({}, optional={"coding": maybe(st.lists(coding, max_size=3)), "text": any_text})
reference = st.fixed_dictionaries({"reference": maybe(st.sampled_from(["Patient/p1", "Patient/other", "Condition/c"]))})
resource = st.fixed_dictionaries(
    {"resourceType": maybe(st.sampled_from(["Patient", "Condition", "Observation", "MedicationRequest",
                                            "ServiceRequest", "Procedure", "Encounter", "Bundle"]))},
    optional={
        "id": ids, "status": maybe(st.sampled_from(["active", "final", "draft", "completed"])),
        "intent": maybe(st.just("order")), "code": maybe(concept), "subject": maybe(reference),
        "clinicalStatus": maybe(concept), "onsetDateTime": dates, "effectiveDateTime": dates,
        "birthDate": dates, "valueBoolean": maybe(st.booleans()), "medicationCodeableConcept": maybe(concept),
        "reasonCode": maybe(st.lists(concept, max_size=2)), "note": any_json,
    },
)
# Resources as an EHR sends them, so that rules fire and cards are rendered from fuzzed values.
realistic = st.one_of(
    st.builds(condition, st.sampled_from(["279039007", "23056005", "202708005"]), onset_days=st.integers(0, 800),
              display=any_text),
    st.builds(finding, st.sampled_from(["saddle-anaesthesia", "fever", "progressive-weakness", "weight-loss"]),
              st.one_of(st.booleans(), st.none())),
    st.builds(imaging_order, oid=st.sampled_from(["mri-1", "x-1"]),
              code=st.sampled_from(["72148", "72131", "72100"]), display=any_text),
)
bundle = st.fixed_dictionaries(
    {"resourceType": st.just("Bundle")},
    optional={"type": maybe(st.just("searchset")),
              "entry": maybe(st.lists(st.fixed_dictionaries({"resource": maybe(st.one_of(realistic, resource))}),
                                     max_size=4))},
)
conditions = st.lists(st.builds(condition, st.sampled_from(["279039007", "23056005", "202708005"]),
                                 onset_days=st.one_of(st.none(), st.integers(0, 800))), min_size=1, max_size=3)
prefetch = st.fixed_dictionaries(
    {key: maybe(st.one_of(bundle, bundle, bundle, st.none()))
     for key in ("conditions", "observations", "medications", "servicerequests", "procedures", "encounters")},
    optional={"patient": maybe(resource), "other": any_json},
).flatmap(lambda keys: maybe(conditions).map(lambda found: {**keys, "conditions": bundle_of(found)}
                                             if isinstance(found, list) and found[:1] != [None] else keys))


orders = st.lists(st.builds(imaging_order, oid=st.sampled_from(["mri-1", "x-1"]),
                            code=st.sampled_from(["72148", "72131", "72100"]), display=any_text),
                  min_size=1, max_size=3).map(lambda found: bundle_of(found))


def bundle_of(resources: list[Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


authorization = st.fixed_dictionaries({"access_token": any_text, "token_type": st.just("Bearer"),
                                       "expires_in": st.integers(0, 3600), "scope": st.just("patient/*.read"),
                                       "subject": st.just("lbp-cds")})


def hook_requests(hook: str) -> st.SearchStrategy[dict[str, Any]]:
    context: dict[str, Any] = {"userId": maybe(st.just("Practitioner/u1")), "patientId": maybe(st.just("p1"))}
    if hook != "patient-view":
        context["draftOrders"] = maybe(st.one_of(orders, bundle))
    if hook == "order-select":
        context["selections"] = maybe(st.lists(maybe(st.sampled_from(["ServiceRequest/mri-1", "MedicationRequest/m"])),
                                               max_size=3))
    return st.fixed_dictionaries(
        {"hook": maybe(st.just(hook)), "hookInstance": st.one_of(st.uuids().map(str), any_text),
         "context": maybe(st.fixed_dictionaries(context)), "prefetch": maybe(prefetch)},
        optional={"extension": maybe(st.just({"lbp-cds-explain": True}))},
    ).flatmap(with_server)


def with_server(body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Sometimes a fhirServer (never contacted: prefetch-only), with or without its token."""
    server = st.fixed_dictionaries({"fhirServer": maybe(st.just("https://ehr.example.dk/fhir"))},
                                   optional={"fhirAuthorization": maybe(authorization)})
    return st.one_of(st.just(body), server.map(lambda extra: {**body, **extra}))


feedback_entry = st.fixed_dictionaries(
    {"card": maybe(any_text), "outcome": maybe(st.sampled_from(["accepted", "overridden"])),
     "outcomeTimestamp": dates},
    optional={
        "acceptedSuggestions": maybe(st.lists(st.fixed_dictionaries({"id": maybe(any_text)}), max_size=2)),
        "overrideReason": maybe(st.fixed_dictionaries(
            {}, optional={"reason": maybe(coding), "userComment": maybe(any_text)})),
    },
)
feedback_requests = st.fixed_dictionaries({"feedback": maybe(st.lists(feedback_entry, max_size=3))})


@pytest.fixture(scope="module")
def caller(tmp_path_factory: pytest.TempPathFactory):
    # Authentication off: the property suite is about the request models behind it (tests/test_auth.py
    # covers the tokens), and with it on every generated body would stop at 401.
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "PREFETCH_ONLY": True, "AUTH": "off",
                      "DATA_DIR": str(tmp_path_factory.mktemp("properties"))})
    return app.test_client()


def assert_no_500(response: Any) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text[:2000]
    assert "Traceback" not in text
    if response.status_code >= 400:
        assert response.get_json()["resourceType"] == "OperationOutcome"


def post(caller: Any, url: str, body: Any) -> Any:
    return caller.post(url, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("service", "hook"), [("lbp-patient-view", "patient-view"),
                                               ("lbp-order-select", "order-select"),
                                               ("lbp-order-sign", "order-sign")])
def test_hook_calls_never_get_a_500(caller, service, hook):
    @PROPERTY_SETTINGS
    @given(body=hook_requests(hook))
    def check(body: dict[str, Any]) -> None:
        response = post(caller, f"/cds-services/{service}", body)
        assert_no_500(response)
        assert response.status_code != 401

    check()


@PROPERTY_SETTINGS
@given(body=feedback_requests)
def test_feedback_never_gets_a_500(caller, body):
    response = post(caller, "/cds-services/lbp-order-sign/feedback", body)
    assert_no_500(response)
    # 404: feedback on a card this service never issued (the generated uuids); 409: a contradiction.
    assert response.status_code in (200, 400, 404, 409)
