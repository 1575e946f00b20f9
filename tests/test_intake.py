"""A large request cap with bounded memory: bodies reserve their bytes from a per-process allowance."""

from __future__ import annotations

import json
import threading

import pytest

from benchmarks import synthetic
from service import create_app
from service.errors import ServiceUnavailable
from service.intake import BodyAllowance


def test_requests_within_the_allowance_do_not_wait() -> None:
    allowance = BodyAllowance(100, wait=0.05)
    with allowance.hold(40), allowance.hold(60):
        assert allowance.used == 100
    assert allowance.used == 0


def test_a_request_that_does_not_fit_waits_then_gets_503() -> None:
    allowance = BodyAllowance(100, wait=0.05)
    with allowance.hold(80), pytest.raises(ServiceUnavailable, match="busy with other large requests"):
        with allowance.hold(30):
            pass
    assert allowance.used == 0


def test_a_waiting_request_goes_ahead_when_room_is_freed() -> None:
    allowance = BodyAllowance(100, wait=5)
    first = allowance.hold(90)
    first.__enter__()
    done = threading.Event()

    def second() -> None:
        with allowance.hold(50):
            done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not done.wait(0.1)
    first.__exit__(None, None, None)
    assert done.wait(5)
    thread.join()
    assert allowance.used == 0


def test_a_body_larger_than_the_allowance_still_fits_alone() -> None:
    allowance = BodyAllowance(10, wait=0.05)
    with allowance.hold(10_000):
        assert allowance.used == 10


def test_a_large_body_is_answered_503_when_the_allowance_stays_taken(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "PROPAGATE_EXCEPTIONS": False})
    allowance = app.extensions["lbp_cds"].intake
    allowance.wait = 0.05
    large = json.dumps(synthetic.request("order-select", 5000)).encode()
    small = json.dumps(synthetic.request("order-select", 100)).encode()
    client = app.test_client()
    with allowance.hold(allowance.capacity):  # other large calls are being worked on
        refused = client.post("/cds-services/lbp-order-select", data=large, content_type="application/json")
        ordinary = client.post("/cds-services/lbp-order-select", data=small, content_type="application/json")
    assert refused.status_code == 503
    assert "send this one again" in refused.get_json()["issue"][0]["diagnostics"]
    assert ordinary.status_code == 200  # a small body never waits for large ones


def test_a_five_thousand_resource_record_is_accepted_by_default(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off"})
    data = json.dumps(synthetic.request("order-select", 5000)).encode()
    assert 1_000_000 < len(data) < app.config["MAX_REQUEST_BYTES"]
    response = app.test_client().post("/cds-services/lbp-order-select", data=data, content_type="application/json")
    assert response.status_code == 200
    assert app.extensions["lbp_cds"].intake.used == 0
