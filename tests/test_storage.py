"""Storage on SQLite and PostgreSQL: migrations, concurrency, retention, what is (not) stored."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from service.storage import StorageError, open_storage
from service.storage import migrate as migrations

ROOT = Path(__file__).resolve().parent.parent


def store(url: str, tmp_path: Path) -> Any:
    return open_storage(url, tmp_path)


def issue(storage: Any, card: str, rule: str = "IMG-NOT-INDICATED", client: str = "ehr", **kwargs: Any) -> None:
    storage.record_issued("lbp-order-select", "h-1", [(card, rule, "1.0.0", [f"{card}-remove"])],
                          client_iss=client, **kwargs)


def overridden(card: str) -> dict[str, Any]:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}


def test_a_new_database_is_created_at_the_newest_schema_version(database_url, tmp_path):
    storage = store(database_url, tmp_path)
    assert migrations.current(storage.engine) == migrations.head()
    storage.close()
    again = store(database_url, tmp_path)  # start-up on an up-to-date database changes nothing
    assert migrations.current(again.engine) == migrations.head()


def test_a_jti_is_remembered_until_it_expires_on_both_databases(database_url, tmp_path):
    storage = store(database_url, tmp_path)
    now = time.time()
    assert storage.remember_jti("ehr", "j-1", now + 60)
    assert not storage.remember_jti("ehr", "j-1", now + 60)
    assert storage.remember_jti("other", "j-1", now + 60)
    assert storage.remember_jti("ehr", "j-old", now - 1)
    assert storage.remember_jti("ehr", "j-old", now + 60)


def test_cards_are_marked_as_about_a_draft_imaging_order_by_their_rule(database_url, tmp_path):
    storage = store(database_url, tmp_path)
    issue(storage, "img", rule="IMG-NOT-INDICATED")
    issue(storage, "med", rule="MED-OPIOID")
    assert {r["card_uuid"]: r["draft_imaging"] for r in storage.issued_rows()} == {"img": 1, "med": 0}


def test_no_patient_id_is_stored_unless_asked(database_url, tmp_path):
    from service import create_app
    from service.runtime import runtime
    from tests.test_feedback import issue_card

    for setting, expected in ((None, None), ("1", "p1")):
        config = {"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "DATABASE_URL": database_url,
                  "CARD_MEMORY": "off"}  # the same card twice: the memory would (rightly) not repeat it
        if setting:
            config["STORE_PATIENT_ID"] = setting
        app = create_app(config)
        card = issue_card(app.test_client())
        with app.app_context():
            row = next(r for r in runtime().storage.issued_rows() if r["card_uuid"] == card["uuid"])
            runtime().storage.close()  # type: ignore[attr-defined]
        assert row["patient_id"] == expected


def test_a_mistyped_store_patient_id_stops_start_up(tmp_path):
    from service import create_app

    with pytest.raises(ValueError, match="STORE_PATIENT_ID"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "STORE_PATIENT_ID": "sometimes"})


def test_purge_deletes_what_is_older_than_the_retention_and_keeps_the_rest(database_url, tmp_path):
    storage = store(database_url, tmp_path)
    issue(storage, "old")
    storage.store_feedback("lbp-order-select", [overridden("old")], client_iss="ehr")
    assert storage.purge("2000-01-01") == {"issued_cards": 0, "feedback": 0}
    issue(storage, "kept")
    assert storage.purge("2999-01-01") == {"issued_cards": 2, "feedback": 1}
    assert storage.issued_rows() == [] and storage.feedback_rows() == []


def test_purge_command_uses_the_retention_setting(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv("LBP_CDS_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["db", "purge"])
    assert result.exit_code == 0, result.output
    assert "0 issued cards, 0 feedback" in result.output
    monkeypatch.setenv("LBP_CDS_RETENTION_DAYS", "0")
    assert "nothing purged" in CliRunner().invoke(main, ["db", "purge"]).output


def test_db_upgrade_command_reports_the_schema_version(database_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv("LBP_CDS_DATABASE_URL", database_url)
    before = CliRunner().invoke(main, ["db", "current"])
    assert f"database: none; this release: {migrations.head()}" in before.output
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"schema version {migrations.head()}" in result.output
    assert "secret" not in result.output


def test_a_pre_alembic_sqlite_database_is_completed_in_place(tmp_path):
    path = tmp_path / "lbp-cds.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE issued_card (card_uuid TEXT PRIMARY KEY, service_id TEXT NOT NULL, rule_id TEXT NOT NULL,"
        " rule_version TEXT NOT NULL, hook_instance TEXT NOT NULL, issued_at TEXT NOT NULL);"
        "INSERT INTO issued_card VALUES ('old', 'lbp-order-select', 'IMG-NOT-INDICATED', '1', 'h', '2026-01-01');"
    )
    old.commit()
    old.close()
    storage = store("", tmp_path)
    (row,) = storage.issued_rows()
    assert (row["card_uuid"], row["draft_imaging"], row["patient_id"]) == ("old", 1, None)


@pytest.mark.parametrize("url", ["mysql://x@y/z", "sqlite://", "not a url"])
def test_an_unsupported_database_url_stops_start_up_with_a_clear_message(tmp_path, url):
    with pytest.raises(StorageError, match="LBP_CDS_DATABASE_URL"):
        open_storage(url, tmp_path)


def test_an_unreachable_postgresql_is_a_storage_error_without_its_password(tmp_path):
    with pytest.raises(StorageError) as caught:
        open_storage("postgresql://lbp:secret-pw@127.0.0.1:1/lbp", tmp_path)
    assert "secret-pw" not in str(caught.value)


# -- concurrency: several writers, nothing lost -------------------------------------------------

CARDS_PER_WRITER = 25


def _write_cards(url: str, data_dir: str, writer: int) -> None:
    storage = open_storage(url, Path(data_dir))
    for n in range(CARDS_PER_WRITER):
        card = f"w{writer}-c{n}"
        storage.record_issued("lbp-order-select", f"h-{writer}", [(card, "IMG-NOT-INDICATED", "1", [])],
                              client_iss="ehr")
        storage.store_feedback("lbp-order-select", [overridden(card)], client_iss="ehr")
        assert storage.remember_jti("ehr", card, time.time() + 60)
    storage.close()


def test_several_writer_threads_lose_nothing(database_url, tmp_path):
    storage = store(database_url, tmp_path)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            _write_cards(database_url, str(tmp_path), n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(storage.feedback_rows()) == 8 * CARDS_PER_WRITER
    assert len(storage.issued_rows()) == 8 * CARDS_PER_WRITER


def test_several_writer_processes_lose_nothing(database_url, tmp_path):
    store(database_url, tmp_path).close()
    context = multiprocessing.get_context("fork")  # as gunicorn starts its workers
    processes = [context.Process(target=_write_cards, args=(database_url, str(tmp_path), n)) for n in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    storage = store(database_url, tmp_path)
    assert len(storage.feedback_rows()) == 4 * CARDS_PER_WRITER


def test_the_same_card_from_many_threads_at_once_gets_one_outcome(database_url, tmp_path):
    storage = store(database_url, tmp_path)
    issue(storage, "contested")
    accepted = {"card": "contested", "outcome": "accepted", "acceptedSuggestions": [{"id": "contested-remove"}],
                "outcomeTimestamp": "2026-11-22T10:00:00Z"}
    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def send(item: dict[str, Any]) -> None:
        barrier.wait()
        try:
            storage.store_feedback("lbp-order-select", [item], client_iss="ehr")
            outcomes.append(item["outcome"])
        except Exception as exc:  # noqa: BLE001 - the loser of the race is told why
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=send, args=(accepted if n % 2 else overridden("contested"),))
               for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (row,) = storage.feedback_rows()
    assert outcomes.count(row["outcome"]) == 5
    assert outcomes.count("ContradictoryFeedback") == 5


def test_the_head_read_without_alembic_is_alembics():
    assert migrations.known_head() == migrations.head()


def test_start_up_on_an_up_to_date_database_does_not_import_alembic(tmp_path):
    """A worker whose database is current (the migration ran before the pods started) never loads Alembic."""
    store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path).close()  # migrated once, as a Job would
    code = ("import sys; from service.storage import open_storage; from pathlib import Path; "
            f"open_storage('sqlite:///{tmp_path / 'db.sqlite3'}', Path({str(tmp_path)!r})).close(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
