"""Every response carries the security headers; answers about a patient are never cached."""

from __future__ import annotations

import threading

import pytest
import requests
from werkzeug.serving import make_server

from tests.hookreq import condition, full_prefetch, hook_request, imaging_order


def order_request():
    return hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/cds-services", 200), ("post", "/cds-services/lbp-order-select", 200),
     ("post", "/cds-services/lbp-order-select/feedback", 400), ("post", "/cds-services/nope", 404),
     ("get", "/knowledge/rules", 200), ("get", "/knowledge/rules/NOPE", 404)],
)
def test_every_response_has_the_security_headers(client, method, path, status):
    kwargs = {"json": order_request()} if method == "post" else {}
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Server" not in response.headers


def test_hook_and_feedback_answers_are_never_cached(client):
    response = client.post("/cds-services/lbp-order-select", json=order_request())
    assert response.headers["Cache-Control"] == "no-store"
    feedback = client.post("/cds-services/lbp-order-select/feedback", json={"feedback": []})
    assert feedback.headers["Cache-Control"] == "no-store"


def test_rule_pages_may_use_their_inline_style_and_nothing_else(client):
    csp = client.get("/knowledge/rules").headers["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in csp and "script-src" not in csp


def test_refusals_carry_the_headers_too(tmp_path):
    from service import create_app

    response = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}).test_client().post(
        "/cds-services/lbp-order-select", json=order_request())
    assert response.status_code == 401
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_development_server_does_not_announce_its_version(app):
    from service.cli import _QuietServerHandler

    server = make_server("127.0.0.1", 0, app, request_handler=_QuietServerHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = requests.get(f"http://127.0.0.1:{server.server_port}/cds-services", timeout=5)
    finally:
        server.shutdown()
        thread.join(5)
    assert response.headers["Server"] == "lbp-cds"
