"""Feedback: what clinicians accepted or overrode is kept, or the EHR is told it was not."""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest

from service.runtime import runtime
from service.storage import StorageError
from tests.hookreq import condition, full_prefetch, hook_request, imaging_order
from tests.test_hooks import assert_outcome


@pytest.fixture
def app(tmp_path, database_url):
    """Every test here runs on SQLite and on PostgreSQL (tests/databases.py)."""
    from service import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "DATABASE_URL": database_url})
    yield app
    with app.app_context():
        runtime().storage.close()  # type: ignore[attr-defined]


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


def test_feedback_survives_a_restart(tmp_path, database_url):
    from service import create_app

    settings = {"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "DATABASE_URL": database_url}
    first = create_app(settings)
    card = issue_card(first.test_client())
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}
    assert first.test_client().post("/cds-services/lbp-order-select/feedback", json=feedback).status_code == 200
    second = create_app(settings)
    with second.app_context():
        assert [r["card_uuid"] for r in runtime().storage.feedback_rows()] == [card["uuid"]]


# -- integrity: only our cards, one outcome each, only the specification's fields ------------------


def overridden(card: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                          "overrideReason": {"reason": card["overrideReasons"][0]},
                          "outcomeTimestamp": "2026-11-22T10:00:00Z", **extra}]}


def accepted(card: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return {"feedback": [{"card": card["uuid"], "outcome": "accepted",
                          "acceptedSuggestions": [{"id": card["suggestions"][index]["uuid"]}],
                          "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}


def test_feedback_on_a_card_never_issued_is_404_and_nothing_is_stored(app, client):
    card = issue_card(client)
    body = overridden(card)
    body["feedback"].append({"card": "not-a-card-we-sent", "outcome": "overridden",
                             "outcomeTimestamp": "2026-11-22T10:00:00Z"})
    assert_outcome(client.post("/cds-services/lbp-order-select/feedback", json=body), 404, "not-a-card-we-sent")
    with app.app_context():
        assert runtime().storage.feedback_rows() == []  # all or nothing: the good item was not kept either


def test_feedback_sent_to_another_service_than_the_one_that_issued_the_card_is_404(client):
    card = issue_card(client)
    assert_outcome(client.post("/cds-services/lbp-order-sign/feedback", json=overridden(card)), 404)


def test_accepting_a_suggestion_the_card_never_had_is_404(client):
    card = issue_card(client)
    body = accepted(card)
    body["feedback"][0]["acceptedSuggestions"] = [{"id": "made-up-suggestion"}]
    assert_outcome(client.post("/cds-services/lbp-order-select/feedback", json=body), 404)


def test_same_feedback_twice_is_stored_once_and_answered_the_same(app, client):
    card = issue_card(client)
    first = client.post("/cds-services/lbp-order-select/feedback", json=overridden(card))
    again = client.post("/cds-services/lbp-order-select/feedback", json=overridden(card))
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json() == {"stored": 1}
    with app.app_context():
        assert len(runtime().storage.feedback_rows()) == 1


@pytest.mark.parametrize(
    "second",
    [lambda c: accepted(c), lambda c: overridden(c, overrideReason={"reason": c["overrideReasons"][1]})],
    ids=["accepted-after-overridden", "other-override-reason"],
)
def test_a_contradicting_outcome_is_409_and_the_first_is_kept(app, client, second):
    card = issue_card(client)
    assert client.post("/cds-services/lbp-order-select/feedback", json=overridden(card)).status_code == 200
    assert_outcome(client.post("/cds-services/lbp-order-select/feedback", json=second(card)), 409, card["uuid"])
    with app.app_context():
        rows = runtime().storage.feedback_rows()
    assert [(r["outcome"], r["override_code"]) for r in rows] == [("overridden", card["overrideReasons"][0]["code"])]


def test_accepting_another_suggestion_of_the_same_card_is_409(client):
    card = issue_card(client)
    assert client.post("/cds-services/lbp-order-select/feedback", json=accepted(card, 0)).status_code == 200
    assert client.post("/cds-services/lbp-order-select/feedback", json=accepted(card, 0)).status_code == 200
    assert_outcome(client.post("/cds-services/lbp-order-select/feedback", json=accepted(card, 1)), 409)


def test_a_comment_over_2000_characters_is_400(app, client):
    card = issue_card(client)
    body = overridden(card, overrideReason={"userComment": "x" * 2001})
    assert_outcome(client.post("/cds-services/lbp-order-select/feedback", json=body), 400, "userComment")
    body = overridden(card, overrideReason={"userComment": "x" * 2000})
    assert client.post("/cds-services/lbp-order-select/feedback", json=body).status_code == 200


def test_only_the_specification_fields_are_stored(app, client):
    card = issue_card(client)
    body = overridden(card, patientName="Jens Hansen", extension={"cpr": "0101701234"})
    body["feedback"][0]["overrideReason"]["note"] = "not a spec field"
    assert client.post("/cds-services/lbp-order-select/feedback", json=body).status_code == 200
    with app.app_context():
        row = runtime().storage.feedback_rows()[0]
    stored = json.loads(row["raw"])
    assert set(stored) == {"card", "outcome", "overrideReason", "outcomeTimestamp"}
    assert set(stored["overrideReason"]) == {"reason"}
    assert "Jens Hansen" not in json.dumps(row) and "0101701234" not in json.dumps(row)


def test_the_database_file_is_readable_by_its_owner_only(tmp_path):
    from service import create_app

    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off"}).test_client()
    card = issue_card(client)
    assert client.post("/cds-services/lbp-order-select/feedback", json=overridden(card)).status_code == 200
    files = sorted(tmp_path.glob("lbp-cds.sqlite3*"))
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_database_of_the_first_release_is_upgraded_in_place(tmp_path):
    import sqlite3

    from service import create_app

    old = sqlite3.connect(tmp_path / "lbp-cds.sqlite3")
    old.executescript(
        "CREATE TABLE issued_card (card_uuid TEXT PRIMARY KEY, service_id TEXT NOT NULL, rule_id TEXT NOT NULL,"
        " rule_version TEXT NOT NULL, hook_instance TEXT NOT NULL, issued_at TEXT NOT NULL);"
        "INSERT INTO issued_card VALUES ('old', 'lbp-order-select', 'R', '1', 'h', '2026-01-01');"
    )
    old.commit()
    old.close()
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off"}).test_client()
    card = issue_card(client)
    assert client.post("/cds-services/lbp-order-select/feedback", json=overridden(card)).status_code == 200
