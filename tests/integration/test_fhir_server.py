"""Prefetch fallback against a real FHIR server: the card is built from data the service fetched."""

from __future__ import annotations

import pytest

from service.prefetch import gather
from service.registry import SERVICES
from tests.hookreq import SNOMED, condition, finding, hook_request, imaging_order, patient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loaded(fhir_server, put):
    for resource in (
        patient("int-p1"),
        condition(cid="int-lbp-1", pid="int-p1", onset_days=21),
        finding("386661006", False, oid="int-fever", pid="int-p1", system=SNOMED),
        patient("int-other"),
        condition("23056005", cid="int-other-sciatica", pid="int-other", onset_days=100),
    ):
        put(fhir_server, resource)
    return fhir_server


def test_gather_fetches_only_this_patients_data(loaded):
    request = {"hookInstance": "x", "fhirServer": loaded, "context": {"patientId": "int-p1"}}
    templates = {"patient": "Patient/{{context.patientId}}", "conditions": "Condition?patient={{context.patientId}}"}
    result = gather(request, templates)
    assert {k: r.status for k, r in result.keys.items()} == {"patient": "fetched", "conditions": "fetched"}
    ids = {r["id"] for r in result.resources()}
    assert ids == {"int-p1", "int-lbp-1"}


def test_order_select_without_prefetch_builds_the_card_from_the_fhir_server(loaded, client):
    body = hook_request("order-select", pid="int-p1", orders=(imaging_order(pid="int-p1"),), fhirServer=loaded)
    assert "prefetch" not in body
    response = client.post("/cds-services/lbp-order-select", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    card = next(c for c in result["cards"] if c["source"]["topic"]["code"] == "IMG-NOT-INDICATED")
    # Onset and the checked-absent fever exist only on the FHIR server.
    assert "(3 uger)" in card["detail"]
    assert "undersøgt og ikke fundet: feber" in card["detail"]
    assert "lbp-cds-data-problems" not in result.get("extension", {})


def test_unreachable_fhir_server_without_prefetch_is_412(client):
    body = hook_request("order-select", pid="int-p1", orders=(imaging_order(pid="int-p1"),),
                        fhirServer="http://127.0.0.1:9/fhir")
    response = client.post("/cds-services/lbp-order-select", json=body)
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_every_service_template_is_a_query_the_server_answers(loaded):
    for service in SERVICES.values():
        request = {"hookInstance": "x", "fhirServer": loaded, "context": {"patientId": "int-p1"}}
        result = gather(request, service.prefetch)
        assert not result.incomplete(), result.problems()


@pytest.fixture(scope="module")
def timeline(fhir_server, put):
    """A patient whose record was revised, served only by the FHIR server (issue: a record is a timeline)."""
    from tests import ehr

    resources = [
        {**ehr.PATIENT, "id": "int-p7"},
        ehr.condition("int7-lbp", ehr.ICPC2, "L03", onset=ehr.day(21)),
        ehr.finding("int7-saddle-old", "saddle-anaesthesia", ehr.at(365), True),
        ehr.observation("int7-saddle-now", ehr.LBP, "saddle-anaesthesia", ehr.at(0, 2),
                        valueCodeableConcept=ehr.cc(ehr.SNOMED, "373067005", "No")),
        {"resourceType": "Medication", "id": "int7-lyrica", "code": ehr.cc(ehr.ATC, "N03AX16", "Pregabalin")},
    ]
    for resource in resources:
        resource = {**resource}
        if "subject" in resource:
            resource["subject"] = {"reference": "Patient/int-p7"}
        put(fhir_server, resource)
    return fhir_server


def test_fallback_reads_the_timeline_and_the_orders_reason(timeline, client):
    """Today's 'No' overrules last year's 'present'; the MRI's own reason (SKS DG834) makes it acute."""
    from tests import ehr

    plain = hook_request("order-select", pid="int-p7", orders=(imaging_order(pid="int-p7"),), fhirServer=timeline)
    cards = client.post("/cds-services/lbp-order-select", json=plain).get_json()["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["IMG-NOT-INDICATED"]
    ces = imaging_order(pid="int-p7", reasonCode=[ehr.cc(ehr.SKS, "DG834", "Cauda equina syndrom")])
    body = hook_request("order-select", pid="int-p7", orders=(ces,), fhirServer=timeline)
    cards = client.post("/cds-services/lbp-order-select", json=body).get_json()["cards"]
    assert [(c["source"]["topic"]["code"], c["indicator"]) for c in cards] == [("IMG-INDICATED-RED-FLAG", "critical")]


def test_fallback_resolves_a_medication_reference_on_the_server(timeline, client):
    order = {"resourceType": "MedicationRequest", "id": "rx-7", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/int-p7"}, "medicationReference": {"reference": "Medication/int7-lyrica"}}
    body = hook_request("order-select", pid="int-p7", orders=(order,), fhirServer=timeline)
    cards = client.post("/cds-services/lbp-order-select", json=body).get_json()["cards"]
    assert "MED-GABAPENTINOID" in [c["source"]["topic"]["code"] for c in cards]


def test_a_patient_the_server_does_not_know_is_no_data_not_a_failure(loaded):
    request = {"hookInstance": "x", "fhirServer": loaded, "context": {"patientId": "int-nobody"}}
    templates = {"patient": "Patient/{{context.patientId}}", "conditions": "Condition?patient={{context.patientId}}"}
    result = gather(request, templates)
    assert {k: (r.status, len(r.resources)) for k, r in result.keys.items()} == {
        "patient": ("fetched", 0), "conditions": ("fetched", 0)}
