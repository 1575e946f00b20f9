"""One card per problem per consultation, reminders at an interval (issue 15), through the HTTP hooks.

The engine stays pure (``python -m service evaluate`` and the scenario suite give every card);
the memory is applied in the hook view with the shared storage, so these tests go through the app.
"""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from service import create_app
from service.engine import IssuedCard
from service.memory import DictMemory, MemorySettings, decide
from tests.hookreq import SNOMED, condition, days_ago, finding, full_prefetch, hook_request, imaging_order

ROOT = Path(__file__).resolve().parent.parent
AMB = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}
EXPLAIN = {"extension": {"lbp-cds-explain": True}}


def make_client(data_dir: Path, **config: Any) -> Any:
    return create_app({"TESTING": True, "DATA_DIR": str(data_dir), "AUTH": "off", **config}).test_client()


def call(client: Any, service: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def rules(response: dict[str, Any]) -> list[str]:
    return [c["extension"]["dk.lbp-cds.rule"]["ruleId"] for c in response["cards"]]


def mri(hook: str, *extra: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return hook_request(hook, prefetch=full_prefetch(condition(onset_days=21), *extra), orders=(imaging_order(),),
                        **EXPLAIN, **kw)


def cauda(**kw: Any) -> dict[str, Any]:
    return hook_request("patient-view", prefetch=full_prefetch(
        condition(onset_days=10), condition("192970008", SNOMED, onset_days=0, cid="ces-1")), **EXPLAIN, **kw)


def chronic(*extra: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return hook_request("patient-view", prefetch=full_prefetch(condition(onset_days=200), *extra), **EXPLAIN, **kw)


def test_order_sign_does_not_repeat_the_order_select_card(tmp_path):
    client = make_client(tmp_path)
    selected = call(client, "lbp-order-select", mri("order-select"))
    assert rules(selected) == ["IMG-NOT-INDICATED"]
    signed = call(client, "lbp-order-sign", mri("order-sign"))
    assert signed["cards"] == []
    trace = {e["rule"]: e for e in signed["extension"]["lbp-cds-trace"]}
    assert "same draft order" in trace["IMG-NOT-INDICATED"]["suppressed"]
    assert signed["extension"]["lbp-cds-memory"] == [
        {"rule": "IMG-NOT-INDICATED", "suppressed": trace["IMG-NOT-INDICATED"]["suppressed"]}]


def test_changed_facts_or_another_order_are_shown_again(tmp_path):
    client = make_client(tmp_path)
    assert rules(call(client, "lbp-order-select", mri("order-select"))) == ["IMG-NOT-INDICATED"]
    # The GP documents the red-flag screen between select and sign: the card's facts changed.
    screened = mri("order-sign", finding("red-flag-screen", False))
    assert rules(call(client, "lbp-order-sign", screened)) == ["IMG-NOT-INDICATED"]
    other = hook_request("order-sign", prefetch=full_prefetch(condition(onset_days=21)),
                         orders=(imaging_order("mri-2"),))
    assert rules(call(client, "lbp-order-sign", other)) == ["IMG-NOT-INDICATED"]


def test_critical_card_once_per_consultation_and_first_time_in_each(tmp_path):
    client = make_client(tmp_path)
    first = call(client, "lbp-patient-view", _with_encounter(cauda(), "e1"))
    assert "RF-CAUDA-EQUINA" in rules(first)
    again = call(client, "lbp-patient-view", _with_encounter(cauda(), "e1"))
    assert "RF-CAUDA-EQUINA" not in rules(again)
    trace = {e["rule"]: e for e in again["extension"]["lbp-cds-trace"]}
    assert "critical card already shown in this consultation" in trace["RF-CAUDA-EQUINA"]["suppressed"]
    # Another consultation (the EHR's encounterId): shown again, the first time there.
    assert "RF-CAUDA-EQUINA" in rules(call(client, "lbp-patient-view", _with_encounter(cauda(), "e2")))


def _with_encounter(body: dict[str, Any], encounter: str) -> dict[str, Any]:
    body["context"]["encounterId"] = encounter
    return body


def test_consultation_window_without_encounter_id():
    card = IssuedCard("u1", "RF-CAUDA-EQUINA", "1", indicator="critical", facts_fingerprint="f")
    store, settings = DictMemory(), MemorySettings(b"k" * 32, consultation_hours=4)

    def shown(at: float) -> bool:
        store.clock = at
        [decision] = decide([card], hook="patient-view", client_iss="iss", patient_id="p1", encounter_id=None,
                            store=store, settings=settings, now=at)
        return decision.shown

    assert shown(0)
    assert not shown(3 * 3600)      # same consultation: within 4 hours of first being shown
    assert shown(4 * 3600 + 1)      # the window has passed: a new consultation


def test_reminder_not_repeated_within_the_interval_unless_facts_change(tmp_path):
    client = make_client(tmp_path)
    assert "FU-ANNUAL-REVIEW" in rules(call(client, "lbp-patient-view", _with_encounter(chronic(), "e1")))
    repeat = call(client, "lbp-patient-view", _with_encounter(chronic(), "e2"))  # another consultation
    assert "FU-ANNUAL-REVIEW" not in rules(repeat)
    trace = {e["rule"]: e for e in repeat["extension"]["lbp-cds-trace"]}
    # The yearly review's card gives its own rhythm (reminder_days 91): not offered again within a quarter.
    assert "reminder already shown within 91 days" in trace["FU-ANNUAL-REVIEW"]["suppressed"]
    # The facts changed (an old review documented): a new card.
    old_review = {"resourceType": "Encounter", "id": "ar-1", "status": "finished", "class": AMB,
                  "type": [{"coding": [{"system": "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts",
                                        "code": "annual-review"}]}],
                  "period": {"start": "2024-01-10"}, "subject": {"reference": "Patient/p1"}}
    changed = call(client, "lbp-patient-view", _with_encounter(chronic(old_review), "e3"))
    assert "FU-ANNUAL-REVIEW" in rules(changed)


def test_reminder_interval_expires():
    card = IssuedCard("u1", "FU-ANNUAL-REVIEW", "1", indicator="info", routine=True, facts_fingerprint="f")
    store, settings = DictMemory(), MemorySettings(b"k" * 32, reminder_interval_days=28)
    day = 86400.0
    outcomes = []
    for at in (0, 10 * day, 27 * day, 28 * day + 1):
        store.clock = at
        [decision] = decide([card], hook="patient-view", client_iss="iss", patient_id="p1", encounter_id=f"e{at}",
                            store=store, settings=settings, now=at)
        outcomes.append(decision.shown)
    assert outcomes == [True, False, False, True]


def test_acted_on_reminder_is_silent(tmp_path):
    client = make_client(tmp_path)
    review = {"resourceType": "Encounter", "id": "ar-2", "status": "finished", "class": AMB,
              "type": [{"coding": [{"system": "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts",
                                    "code": "annual-review"}]}],
              "period": {"start": days_ago(3)}, "subject": {"reference": "Patient/p1"}}
    response = call(client, "lbp-patient-view", _with_encounter(chronic(review), "e9"))
    assert "FU-ANNUAL-REVIEW" not in rules(response)
    trace = {e["rule"]: e for e in response["extension"]["lbp-cds-trace"]}
    assert not trace["FU-ANNUAL-REVIEW"]["fired"]


def test_two_app_instances_sharing_data_dir_share_the_memory(tmp_path):
    worker_a, worker_b = make_client(tmp_path), make_client(tmp_path)
    assert rules(call(worker_a, "lbp-order-select", mri("order-select"))) == ["IMG-NOT-INDICATED"]
    assert call(worker_b, "lbp-order-sign", mri("order-sign"))["cards"] == []


def test_different_clients_do_not_share_a_memory_key(tmp_path):
    card = IssuedCard("u1", "IMG-NOT-INDICATED", "1", indicator="warning", order_fingerprint="o",
                      facts_fingerprint="f")
    store, settings = DictMemory(), MemorySettings(b"k" * 32)
    for iss in ("https://ehr-a", "https://ehr-b"):
        [decision] = decide([card], hook="order-select", client_iss=iss, patient_id="p1", encounter_id=None,
                            store=store, settings=settings, now=0)
        assert decision.shown


def test_memory_stores_keyed_hashes_only(tmp_path):
    client = make_client(tmp_path)
    pid = "patient-0101751234"
    body = hook_request("order-select", prefetch=full_prefetch(condition(onset_days=21, pid=pid), pid=pid),
                        orders=(imaging_order(pid=pid),), pid=pid)
    assert rules(call(client, "lbp-order-select", body)) == ["IMG-NOT-INDICATED"]
    key_file = tmp_path / "memory-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with sqlite3.connect(tmp_path / "lbp-cds.sqlite3") as db:
        rows = db.execute("SELECT key, expires_at FROM card_memory").fetchall()
    assert rows and all(len(key) == 64 and int(key, 16) >= 0 for key, _ in rows)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("lbp-cds.sqlite3*"))
    assert b"0101751234" not in raw


def test_configured_key_is_used_and_memory_can_be_switched_off(tmp_path):
    make_client(tmp_path / "a", MEMORY_KEY="a-configured-secret-of-enough-length")
    assert not (tmp_path / "a" / "memory-key").exists()
    client = make_client(tmp_path / "b", CARD_MEMORY="off")
    assert rules(call(client, "lbp-order-select", mri("order-select"))) == ["IMG-NOT-INDICATED"]
    assert rules(call(client, "lbp-order-sign", mri("order-sign"))) == ["IMG-NOT-INDICATED"]


class BrokenStore:
    def card_seen(self, key: str) -> bool:
        raise RuntimeError("database down")

    def remember_card(self, key: str, expires_at: float) -> None:
        raise RuntimeError("database down")


def test_a_broken_store_shows_the_card():
    card = IssuedCard("u1", "RF-CAUDA-EQUINA", "1", indicator="critical", facts_fingerprint="f")
    for _ in range(2):
        [decision] = decide([card], hook="patient-view", client_iss="iss", patient_id="p1", encounter_id=None,
                            store=BrokenStore(), settings=MemorySettings(b"k" * 32), now=0)
        assert decision.shown


def test_writes_refused_at_the_end_of_a_call_still_answer_and_remember_nothing(tmp_path, monkeypatch):
    """The card memory's and the issued cards' rows are written together after the answer is shaped
    (storage.SqlStorage.batched): a database refusing them withholds no card, and a card it did not
    remember is shown again."""
    from contextlib import contextmanager

    from service.runtime import EXTENSION_KEY
    from service.storage import StorageError

    client = make_client(tmp_path)
    storage = client.application.extensions[EXTENSION_KEY].storage
    reading = storage._connection

    @contextmanager
    def refusing(*, write: bool = False) -> Any:
        if write:
            raise StorageError("OperationalError: database is locked")
        with reading() as db:
            yield db

    monkeypatch.setattr(storage, "_connection", refusing)
    for _ in range(2):
        assert rules(call(client, "lbp-order-select", mri("order-select"))) == ["IMG-NOT-INDICATED"]
    monkeypatch.undo()
    assert storage.issued_rows() == []


def test_a_site_may_give_one_reminder_its_own_interval():
    """A yearly review reminded every 28 days is a site's call to change; other reminders keep the global interval."""
    from service.memory import settings_from_config

    config = {"CONSULTATION_HOURS": 4, "REMINDER_INTERVAL_DAYS": 28,
              "REMINDER_INTERVAL_DAYS_BY_RULE": '{"FU-ANNUAL-REVIEW": 91}'}
    settings = settings_from_config(config, b"k" * 32, {"FU-ANNUAL-REVIEW": None, "REF-EXERCISE-THERAPY": None})
    review = IssuedCard("u1", "FU-ANNUAL-REVIEW", "1", indicator="info", routine=True, facts_fingerprint="f")
    exercise = IssuedCard("u2", "REF-EXERCISE-THERAPY", "1", indicator="info", routine=True, facts_fingerprint="g")
    store, day = DictMemory(), 86400.0
    shown = []
    for at in (0, 40 * day, 92 * day):
        store.clock = at
        decisions = decide([review, exercise], hook="patient-view", client_iss="iss", patient_id="p1",
                           encounter_id=f"e{at}", store=store, settings=settings, now=at)
        shown.append([d.card.rule_id for d in decisions if d.shown])
    assert shown == [["FU-ANNUAL-REVIEW", "REF-EXERCISE-THERAPY"], ["REF-EXERCISE-THERAPY"],
                     ["FU-ANNUAL-REVIEW", "REF-EXERCISE-THERAPY"]]
    hidden = decide([review], hook="patient-view", client_iss="iss", patient_id="p1", encounter_id="x",
                    store=store, settings=settings, now=92 * day)
    assert "within 91 days" in hidden[0].reason


def test_the_annual_review_card_brings_its_own_interval_and_a_site_may_change_it():
    """A yearly review offered every 28 days is noise; its card says 91, a site's setting wins over both."""
    from service.config import DEFAULTS
    from service.knowledge import load_knowledge
    from service.memory import settings_from_config

    kb = load_knowledge(ROOT / "cards")
    reminders = kb.reminders()
    assert reminders["FU-ANNUAL-REVIEW"] == 91 and reminders["REF-EXERCISE-THERAPY"] is None
    shipped = settings_from_config(DEFAULTS, b"k" * 32, reminders)
    assert (shipped.reminder_days("FU-ANNUAL-REVIEW"), shipped.reminder_days("REF-EXERCISE-THERAPY")) == (91, 28)
    site = settings_from_config({**DEFAULTS, "REMINDER_INTERVAL_DAYS_BY_RULE": {"FU-ANNUAL-REVIEW": 28}},
                                b"k" * 32, reminders)
    assert site.reminder_days("FU-ANNUAL-REVIEW") == 28


def test_a_reminder_interval_on_a_card_that_is_no_reminder_stops_loading(tmp_path):
    import json
    import shutil

    from service.knowledge import KnowledgeError, load_knowledge

    cards = tmp_path / "cards"
    shutil.copytree(ROOT / "cards", cards)
    path = cards / "RF-CAUDA-EQUINA.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, "reminder_days": 7}), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="only a routine card"):
        load_knowledge(cards)


def test_a_per_rule_interval_for_a_rule_that_is_no_reminder_stops_start_up(tmp_path):
    from click.testing import CliRunner

    from service.cli import main

    result = CliRunner().invoke(main, ["check-knowledge"],
                                env={"LBP_CDS_REMINDER_INTERVAL_DAYS_BY_RULE": '{"RF-CAUDA-EQUINA": 7}',
                                     "LBP_CDS_DATA_DIR": str(tmp_path)})
    assert result.exit_code != 0
    assert "RF-CAUDA-EQUINA" in result.output and "not a reminder" in result.output
