"""Feedback: what clinicians accepted or overrode is kept, or the EHR is told it was not."""

from __future__ import annotations

from typing import Any

import pytest

from service.runtime import runtime
from service.storage import StorageError
from tests.hookreq import condition, full_prefetch, hook_request, imaging_order
from tests.test_hooks import assert_outcome


def issue_card(client) -> dict[str, Any]:
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    return client.post("/cds-services/lbp-order-select", json=body).get_json()["cards"][0]


def test_overridden_with_reason_is_stored_and_linked_to_the_rule(app, client):
    card = issue_card(client)
    reason = card["overrideReasons"][0]
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "overrideReason": {"reason": reason, "userComment": "Patienten insisterer"},
                              "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}
    response = client.post("/cds-services/lbp-order-select/feedback", json=feedback)
    assert response.status_code == 200
    assert response.get_json() == {"stored": 1}
    with app.app_context():
        rows = runtime().storage.feedback_rows()
    assert rows[0]["rule_id"] == "IMG-NOT-INDICATED"
    assert rows[0]["override_code"] == reason["code"]
    assert rows[0]["user_comment"] == "Patienten insisterer"


def test_accepted_suggestion_is_stored(app, client):
    card = issue_card(client)
    suggestion = card["suggestions"][0]["uuid"]
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "accepted",
                              "acceptedSuggestions": [{"id": suggestion}],
                              "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}
    assert client.post("/cds-services/lbp-order-select/feedback", json=feedback).status_code == 200
    with app.app_context():
        assert suggestion in runtime().storage.feedback_rows()[0]["accepted_suggestions"]


def test_sandbox_dismiss_without_reason_is_accepted(client):
    card = issue_card(client)
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-22T10:00:00.123Z"}]}
    assert client.post("/cds-services/lbp-order-select/feedback", json=feedback).status_code == 200


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ({"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-22T10:00:00Z"}, "acceptedSuggestions"),
        ({"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-22T10:00:00Z"}, "outcome"),
        ({"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}, "outcomeTimestamp"),
        ({"card": "c", "outcome": "overridden", "overrideReason": {},
          "outcomeTimestamp": "2026-11-22T10:00:00Z"}, "overrideReason"),
        ({"outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}, "card"),
    ],
    ids=["accepted-without-suggestions", "unknown-outcome", "bad-timestamp", "empty-override-reason", "no-card"],
)
def test_invalid_feedback_is_400_and_nothing_is_stored(app, client, item, needle):
    response = client.post("/cds-services/lbp-order-select/feedback", json={"feedback": [item]})
    assert_outcome(response, 400, needle)
    with app.app_context():
        assert runtime().storage.feedback_rows() == []


def test_feedback_for_unknown_service_is_404(client):
    assert_outcome(client.post("/cds-services/nope/feedback", json={"feedback": []}), 404)


def test_storage_failure_is_503_never_a_silent_200(app, client, monkeypatch):
    def down(*args: Any, **kwargs: Any) -> int:
        raise StorageError("disk full")

    with app.app_context():
        monkeypatch.setattr(runtime().storage, "store_feedback", down)
    feedback = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}
    body = assert_outcome(client.post("/cds-services/lbp-order-select/feedback", json=feedback), 503, "again")
    assert "disk full" not in str(body)


def test_feedback_survives_a_restart(tmp_path):
    from service import create_app

    first = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    feedback = {"feedback": [{"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}
    assert first.test_client().post("/cds-services/lbp-order-sign/feedback", json=feedback).status_code == 200
    second = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    with second.app_context():
        assert [r["card_uuid"] for r in runtime().storage.feedback_rows()] == ["c-1"]
