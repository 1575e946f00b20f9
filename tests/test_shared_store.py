"""Two instances sharing one store act as one service (Kubernetes: any replica may answer any call).

Each accepts feedback for a card the other issued, and each refuses a token the other has already
seen (the jti replay cache lives in the store). On one SQLite file both instances open, and on one
PostgreSQL database (the server ``ci/with-postgres.sh`` starts; tests/databases.py: it never skips
in CI). Two gunicorn masters, started the container's way (tests/served.py).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.databases import BACKENDS, database_url_for
from tests.hookreq import condition, full_prefetch, hook_request, imaging_order
from tests.served import Served, write_clients

KEY = ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module", params=BACKENDS)
def pair(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shared")
    clients = write_clients(tmp / "clients.json", KEY, [])
    with database_url_for(request.param, tmp) as shared:
        yield from _two_instances(tmp, clients, shared)


def _two_instances(tmp, clients, shared):
    instances = []
    try:
        for name in ("a", "b"):
            instances.append(Served(tmp, {"LBP_CDS_DATA_DIR": str(tmp / name), "LBP_CDS_CLIENTS": str(clients),
                                          "LBP_CDS_DATABASE_URL": shared, "WEB_CONCURRENCY": "1"}, key=KEY))
        yield instances
    finally:
        for instance in instances:
            instance.stop()


def issue(instance: Served) -> dict:
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    status, answer = instance.call("lbp-order-select", body)
    assert status == 200
    return answer["cards"][0]


def overridden(card: dict) -> dict:
    return {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                          "overrideReason": {"reason": card["overrideReasons"][0]},
                          "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}


@pytest.mark.parametrize(("issuer", "receiver"), [(0, 1), (1, 0)])
def test_feedback_for_a_card_the_other_instance_issued_is_accepted(pair, issuer, receiver):
    card = issue(pair[issuer])
    status, answer = pair[receiver].call("lbp-order-select", overridden(card), feedback=True)
    assert (status, answer) == (200, {"stored": 1})
    # The same outcome again, at the first instance: a harmless repeat, not a second row or a conflict.
    assert pair[issuer].call("lbp-order-select", overridden(card), feedback=True)[0] == 200


@pytest.mark.parametrize(("first", "second"), [(0, 1), (1, 0)])
def test_a_token_the_other_instance_has_seen_is_refused(pair, first, second):
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    path = "/cds-services/lbp-order-select"
    # Both instances are called at the same URL as far as aud is concerned: behind one Service they are.
    token = pair[first].token(f"{pair[first].base}{path}")
    assert pair[first].call("lbp-order-select", body, token=token)[0] == 200
    replay = pair[second].request("POST", path, body, token=token,
                                  headers={"Host": pair[first].base.removeprefix("http://")})
    assert replay[0] == 401
    # Control: a fresh token for the same URL is accepted there, so the refusal above was the replay.
    fresh = pair[second].request("POST", path, body, token=pair[first].token(f"{pair[first].base}{path}"),
                                 headers={"Host": pair[first].base.removeprefix("http://")})
    assert fresh[0] == 200
