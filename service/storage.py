"""Durable storage: the cards we issued and the feedback clinicians gave on them.

The one module that talks to a database. SQLite (a file under ``DATA_DIR``) is the
embedded default; the :class:`Storage` protocol is the seam for PostgreSQL by URL.
Nothing stored here is PHI: card uuids, rule ids and versions, outcomes, coded
override reasons and the clinician's comment.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS issued_card (
    card_uuid     TEXT PRIMARY KEY,
    service_id    TEXT NOT NULL,
    rule_id       TEXT NOT NULL,
    rule_version  TEXT NOT NULL,
    hook_instance TEXT NOT NULL,
    issued_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id           TEXT NOT NULL,
    card_uuid            TEXT NOT NULL,
    rule_id              TEXT,
    rule_version         TEXT,
    outcome              TEXT NOT NULL,
    accepted_suggestions TEXT,
    override_system      TEXT,
    override_code        TEXT,
    override_display     TEXT,
    user_comment         TEXT,
    outcome_timestamp    TEXT NOT NULL,
    received_at          TEXT NOT NULL,
    raw                  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_rule ON feedback (rule_id, outcome);
"""


class StorageError(Exception):
    """The database could not be reached or written."""


class Storage(Protocol):
    def record_issued(self, service_id: str, hook_instance: str, cards: Iterable[tuple[str, str, str]]) -> None: ...
    def store_feedback(self, service_id: str, items: Sequence[Mapping[str, Any]]) -> int: ...
    def feedback_rows(self) -> list[dict[str, Any]]: ...
    def ping(self) -> bool: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqliteStorage:
    """SQLite with WAL; one connection per thread (gunicorn threads, Flask dev server)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=5)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open the database: {exc}") from exc
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def record_issued(self, service_id: str, hook_instance: str, cards: Iterable[tuple[str, str, str]]) -> None:
        rows = [(u, service_id, r, v, hook_instance, _now()) for u, r, v in cards]
        if not rows:
            return
        try:
            with self._connect() as db:
                db.executemany("INSERT OR IGNORE INTO issued_card VALUES (?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    def store_feedback(self, service_id: str, items: Sequence[Mapping[str, Any]]) -> int:
        """Store every item in one transaction: all are kept, or none and the caller is told."""
        received = _now()
        try:
            with self._connect() as db:
                for item in items:
                    issued = db.execute(
                        "SELECT rule_id, rule_version FROM issued_card WHERE card_uuid = ?", (item["card"],)
                    ).fetchone()
                    reason = (item.get("overrideReason") or {}).get("reason") or {}
                    db.execute(
                        "INSERT INTO feedback (service_id, card_uuid, rule_id, rule_version, outcome,"
                        " accepted_suggestions, override_system, override_code, override_display,"
                        " user_comment, outcome_timestamp, received_at, raw)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            service_id,
                            item["card"],
                            issued["rule_id"] if issued else None,
                            issued["rule_version"] if issued else None,
                            item["outcome"],
                            json.dumps([s["id"] for s in item.get("acceptedSuggestions", ())]),
                            reason.get("system"),
                            reason.get("code"),
                            reason.get("display"),
                            (item.get("overrideReason") or {}).get("userComment"),
                            item["outcomeTimestamp"],
                            received,
                            json.dumps(item, ensure_ascii=False),
                        ),
                    )
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return len(items)

    def feedback_rows(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]

    def ping(self) -> bool:
        try:
            self._connect().execute("SELECT 1")
            return True
        except (sqlite3.Error, StorageError):
            return False


def open_storage(url: str, data_dir: Path) -> Storage:
    """Storage for ``url`` (``sqlite:///file``); empty means a SQLite file in ``data_dir``."""
    if not url:
        return SqliteStorage(data_dir / "lbp-cds.sqlite3")
    if url.startswith("sqlite:///"):
        return SqliteStorage(Path(url.removeprefix("sqlite:///")))
    raise StorageError(f"unsupported DATABASE_URL scheme: {url.split(':', 1)[0]} (use sqlite:///path)")
