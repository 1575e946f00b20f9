"""The service started exactly as the container starts it answers every endpoint (tests/served.py).

gunicorn with deploy/gunicorn.conf.py, two workers, settings by environment only, a clients file
and a token minted for it. Also: metrics summed across the two workers, and SIGTERM lets an
in-flight call (waiting on a slow FHIR server) finish before the process exits.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from service import openapi
from tests.hookreq import condition, full_prefetch, hook_request, imaging_order
from tests.hostile_fhir import HostileFhir
from tests.served import Served, write_clients

KEY = ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def hostile():
    server = HostileFhir(sleep=30.0).start()
    yield server
    server.stop()


def start(tmp: Path, hostile: HostileFhir, **env: str) -> Served:
    clients = write_clients(tmp / "clients.json", KEY, [hostile.base("sleep")])
    return Served(tmp, {"LBP_CDS_DATA_DIR": str(tmp / "data"), "LBP_CDS_CLIENTS": str(clients),
                        "LBP_CDS_FHIR_DEADLINE": "2", **env}, key=KEY)


@pytest.fixture(scope="module")
def served(tmp_path_factory, hostile):
    instance = start(tmp_path_factory.mktemp("served"), hostile)
    yield instance
    assert instance.stop() == 0


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_healthz_and_readyz(served):
    status, body, _ = served.get("/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body, _ = served.get("/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"


def test_openapi_json_is_the_documented_one(served):
    status, body, headers = served.get("/openapi.json")
    assert status == 200 and json.loads(body) == openapi.document()


def test_a_hook_call_with_a_token_minted_for_the_clients_file(served):
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    token = served.token(f"{served.base}/cds-services/lbp-order-select")
    status, answer = served.call("lbp-order-select", body, token=token)
    assert status == 200 and answer["cards"]
    assert served.call("lbp-order-select", body, token=token)[0] == 401  # the jti is spent, in every worker
    assert served.call("lbp-order-select", body, token="nonsense")[0] == 401


def test_discovery_is_public(served):
    status, body, _ = served.get("/cds-services")
    assert status == 200 and len(json.loads(body)["services"]) == 3


def test_metrics_are_summed_across_both_workers(served):
    from prometheus_client.mmap_dict import MmapedDict

    def scrape() -> str:
        status, body, headers = served.get("/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        return body.decode()

    labels = {"endpoint": "health.healthz", "service": "", "status": "200"}
    before = metric(scrape(), "lbp_cds_http_requests_total", **labels)
    sent = 0

    def workers_that_counted() -> int:
        pids = 0
        for path in served.metrics_dir.glob("counter_*.db"):
            values = MmapedDict.read_all_values_from_file(str(path))
            pids += any("health.healthz" in key for key, _value, _ts, _pos in values)
        return pids

    while sent < 40 or (workers_that_counted() < 2 and sent < 400):
        assert served.get("/healthz")[0] == 200  # a new connection each: either worker may take it
        sent += 1
    assert workers_that_counted() == 2, "both workers answered (and wrote their own counts)"
    for _ in range(8):  # whichever worker answers the scrape reports the sum of both
        assert metric(scrape(), "lbp_cds_http_requests_total", **labels) == before + sent
    text = scrape()
    assert "lbp_cds_http_request_duration_seconds_bucket" in text
    assert metric(text, "lbp_cds_auth_failures_total", reason="replayed") >= 0


def test_sigterm_lets_an_in_flight_call_finish(tmp_path, hostile):
    instance = start(tmp_path, hostile, WEB_CONCURRENCY="1")
    body = hook_request("patient-view", fhirServer=hostile.base("sleep"))
    answers: list[tuple[int, object]] = []
    caller = threading.Thread(target=lambda: answers.append(instance.call("lbp-patient-view", body)))
    started = time.monotonic()
    caller.start()
    time.sleep(0.7)  # the call is now waiting on the slow FHIR server (deadline 2 s)
    code = instance.stop()
    caller.join(30)
    assert answers and answers[0][0] == 200, instance.output()[-2000:]
    assert time.monotonic() - started >= 1.9  # it really waited for the deadline, then answered
    assert code == 0
