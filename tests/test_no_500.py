"""Whatever a caller sends, the answer is 2xx or 4xx with a body — never a 500 or a traceback.

Mutations of valid requests (seeded, so a failure reproduces): every value in the request is in
turn replaced by values of the wrong type or shape.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hookreq import condition, finding, full_prefetch, hook_request, imaging_order

JUNK: list[Any] = [None, "", "x" * 300, 0, -1, 1.5, True, [], {}, [None], [{}], {"resourceType": "Bundle"},
                   {"resourceType": "OperationOutcome"}, "2026-13-45", {"entry": "nope"}, [[[]]]]


def paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def replaced(body: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return body


def cases() -> list[tuple[str, Any]]:
    base = {
        "lbp-order-select": hook_request("order-select", prefetch=full_prefetch(
            condition(), finding("saddle-anaesthesia", False)), orders=(imaging_order(),)),
        "lbp-patient-view": hook_request("patient-view", prefetch=full_prefetch(condition("23056005", onset_days=60))),
    }
    rng = random.Random(20261122)
    out = []
    for service, body in base.items():
        all_paths = list(paths(body))
        for path in rng.sample(all_paths, min(len(all_paths), 60)):
            for junk in rng.sample(JUNK, 4):
                out.append((service, replaced(body, path, junk)))
    return out


@pytest.mark.parametrize(("service", "body"), cases())
def test_mutated_requests_never_get_a_500(quiet_client, service, body):
    response = quiet_client.post(f"/cds-services/{service}", data=json.dumps(body), content_type="application/json")
    assert response.status_code < 500, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    if response.status_code >= 400:
        assert response.get_json()["resourceType"] == "OperationOutcome"


def feedback_cases() -> list[Any]:
    body = {"feedback": [{"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z",
                          "overrideReason": {"reason": {"system": "s", "code": "c"}, "userComment": "x"}},
                         {"card": "c-2", "outcome": "accepted", "acceptedSuggestions": [{"id": "s-1"}],
                          "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}
    rng = random.Random(7)
    return [replaced(body, path, junk) for path in paths(body) for junk in rng.sample(JUNK, 3)]


@pytest.mark.parametrize("body", feedback_cases())
def test_mutated_feedback_never_gets_a_500(quiet_client, body):
    response = quiet_client.post("/cds-services/lbp-order-sign/feedback", data=json.dumps(body),
                                 content_type="application/json")
    assert response.status_code in (200, 400), response.get_data(as_text=True)
