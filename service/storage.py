"""Durable storage: the cards we issued and the feedback clinicians gave on them.

The one module that talks to a database. SQLite (a file under ``DATA_DIR``) is the
embedded default; the :class:`Storage` protocol is the seam for PostgreSQL by URL.
Nothing stored here is PHI by design: card uuids, rule ids and versions, the client's
``iss``, outcomes, coded override reasons, the clinician's comment (bounded in size) and
token ids (``jti``) until they expire, for the replay check shared by all workers, and
keyed hashes of cards already shown (``card_memory``, :mod:`service.memory`) until they expire.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
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
    issued_at     TEXT NOT NULL,
    client_iss    TEXT,
    suggestions   TEXT,
    offered       TEXT
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
    raw                  TEXT NOT NULL,
    client_iss           TEXT,
    applied              INTEGER
);
CREATE INDEX IF NOT EXISTS feedback_rule ON feedback (rule_id, outcome);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card_uuid);
CREATE TABLE IF NOT EXISTS jti (
    iss        TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (iss, jti)
);
CREATE INDEX IF NOT EXISTS jti_expiry ON jti (expires_at);
CREATE TABLE IF NOT EXISTS card_memory (
    key        TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS card_memory_expiry ON card_memory (expires_at);
"""
#: Columns added after the first release: (table, column, type), added to older databases at start-up.
MIGRATIONS = [("issued_card", "client_iss", "TEXT"), ("issued_card", "suggestions", "TEXT"),
              ("feedback", "client_iss", "TEXT"), ("issued_card", "offered", "TEXT"),
              ("feedback", "applied", "INTEGER")]
#: Expired jti entries are purged at most this often (seconds) per process.
PURGE_INTERVAL = 60.0


class StorageError(Exception):
    """The database could not be reached or written."""


class UnknownCard(Exception):
    """Feedback names a card (or suggestion) this service did not issue to this client."""

    def __init__(self, card: str) -> None:
        super().__init__(card)
        self.card = card


class ContradictoryFeedback(Exception):
    """Feedback gives a card an outcome other than the one already recorded for it."""

    def __init__(self, card: str) -> None:
        super().__init__(card)
        self.card = card


#: A card as issued: (uuid, rule id, rule version, suggestion uuids).
Issued = tuple[str, str, str, Sequence[str]]


#: Suggestion uuid → what it offered: ``{"actions": [types], "applicable": bool}`` (see service.profiles.offered).
Offered = Mapping[str, Mapping[str, Any]]


class Storage(Protocol):
    def record_issued(self, service_id: str, hook_instance: str, cards: Iterable[Issued], *, client_iss: str,
                      offered: Offered | None = None) -> None:
        ...
    def store_feedback(self, service_id: str, items: Sequence[Mapping[str, Any]], *, client_iss: str) -> int: ...
    def remember_jti(self, iss: str, jti: str, expires_at: float) -> bool: ...
    def card_seen(self, key: str) -> bool: ...
    def remember_card(self, key: str, expires_at: float) -> None: ...
    def purge_card_memory(self, now: float) -> int: ...
    def feedback_rows(self) -> list[dict[str, Any]]: ...
    def ping(self) -> bool: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def spec_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """Only what the CDS Hooks feedback model defines: anything else a client adds is not kept."""
    kept: dict[str, Any] = {"card": item["card"], "outcome": item["outcome"]}
    if item.get("acceptedSuggestions"):
        kept["acceptedSuggestions"] = [{"id": s["id"]} for s in item["acceptedSuggestions"]]
    override = item.get("overrideReason") or {}
    reason = {k: override["reason"][k] for k in ("system", "code", "display") if k in (override.get("reason") or {})}
    if reason or override.get("userComment"):
        kept["overrideReason"] = {**({"reason": reason} if reason else {}),
                                  **({"userComment": override["userComment"]} if override.get("userComment") else {})}
    kept["outcomeTimestamp"] = item["outcomeTimestamp"]
    return kept


def _outcome_key(outcome: str, accepted: str | None, system: str | None, code: str | None,
                 comment: str | None) -> tuple[Any, ...]:
    """What makes two feedback items the same outcome (timestamps and display texts do not)."""
    return outcome, sorted(json.loads(accepted or "[]")), system, code, comment


def _applied(accepted: Sequence[str], offered_json: str | None) -> int | None:
    """1 when the client could apply every accepted suggestion, 0 when it could not, ``None`` if unknown.

    A report of orders avoided counts only ``applied = 1``: the sandbox's imaging screen sends
    "accepted" for a delete it never performed.
    """
    offered = json.loads(offered_json) if offered_json else {}
    if not accepted or not all(a in offered for a in accepted):
        return None
    return int(all(bool(offered[a].get("applicable", True)) for a in accepted))


class SqliteStorage:
    """SQLite with WAL; one connection per thread (gunicorn threads, Flask dev server).

    The file (and its WAL) is readable by its owner only: feedback holds clinicians' comments.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=0o700)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        self._local = threading.local()
        self._purged_at = 0.0
        self._memory_purged_at = 0.0
        try:
            with self._connect() as db:
                db.executescript(SCHEMA)
                for table, column, kind in MIGRATIONS:
                    if column not in {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: {exc}") from exc
        for suffix in ("-wal", "-shm"):
            if path.with_name(path.name + suffix).exists():
                os.chmod(path.with_name(path.name + suffix), 0o600)

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

    def record_issued(self, service_id: str, hook_instance: str, cards: Iterable[Issued], *, client_iss: str,
                      offered: Offered | None = None) -> None:
        """Remember which client was sent which card and what its suggestions offered.

        ``offered`` (by suggestion uuid) says whether the client can apply each suggestion, so
        an acceptance of one it cannot apply is stored as not applied (``feedback.applied = 0``).
        """
        offered = offered or {}
        rows = [(u, service_id, r, v, hook_instance, _now(), client_iss, json.dumps(list(s)),
                 json.dumps({k: dict(offered[k]) for k in s if k in offered}) if offered else None)
                for u, r, v, s in cards]
        if not rows:
            return
        try:
            with self._connect() as db:
                db.executemany("INSERT OR IGNORE INTO issued_card (card_uuid, service_id, rule_id, rule_version,"
                               " hook_instance, issued_at, client_iss, suggestions, offered)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    def store_feedback(self, service_id: str, items: Sequence[Mapping[str, Any]], *, client_iss: str) -> int:
        """Store every item in one transaction: all are kept, or none and the caller is told.

        Raises :class:`UnknownCard` for a card not issued by ``service_id`` to ``client_iss`` (or a
        suggestion not on it) and :class:`ContradictoryFeedback` when a card already has another
        outcome. An item equal to the recorded outcome is a harmless repeat and adds nothing.
        """
        received = _now()
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time across workers: check-then-insert is atomic
            try:
                for item in items:
                    self._store_one(db, service_id, client_iss, spec_fields(item), received)
                db.commit()
            except BaseException:
                db.rollback()
                raise
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return len(items)

    @staticmethod
    def _store_one(db: sqlite3.Connection, service_id: str, client_iss: str, item: dict[str, Any],
                   received: str) -> None:
        card = str(item["card"])
        issued = db.execute(
            "SELECT rule_id, rule_version, suggestions, offered FROM issued_card"
            " WHERE card_uuid = ? AND service_id = ? AND client_iss = ?", (card, service_id, client_iss)
        ).fetchone()
        if issued is None:
            raise UnknownCard(card)
        accepted = [s["id"] for s in item.get("acceptedSuggestions", ())]
        if set(accepted) - set(json.loads(issued["suggestions"] or "[]")):
            raise UnknownCard(card)
        override = item.get("overrideReason") or {}
        reason = override.get("reason") or {}
        accepted_json = json.dumps(accepted)
        new = _outcome_key(item["outcome"], accepted_json, reason.get("system"), reason.get("code"),
                           override.get("userComment"))
        for row in db.execute(
            "SELECT outcome, accepted_suggestions, override_system, override_code, user_comment FROM feedback"
            " WHERE card_uuid = ?", (card,)
        ):
            if _outcome_key(*row) != new:
                raise ContradictoryFeedback(card)
            return  # the same outcome again: already stored
        db.execute(
            "INSERT INTO feedback (service_id, card_uuid, rule_id, rule_version, outcome,"
            " accepted_suggestions, override_system, override_code, override_display,"
            " user_comment, outcome_timestamp, received_at, raw, client_iss, applied)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (service_id, card, issued["rule_id"], issued["rule_version"], item["outcome"], accepted_json,
             reason.get("system"), reason.get("code"), reason.get("display"), override.get("userComment"),
             item["outcomeTimestamp"], received, json.dumps(item, ensure_ascii=False), client_iss,
             _applied(accepted, issued["offered"])),
        )

    def remember_jti(self, iss: str, jti: str, expires_at: float) -> bool:
        """Record a token id until it expires; ``False`` when it is already recorded (a replay)."""
        now = time.time()
        try:
            with self._connect() as db:
                if now - self._purged_at > PURGE_INTERVAL:
                    db.execute("DELETE FROM jti WHERE expires_at < ?", (now,))
                    self._purged_at = now
                db.execute("DELETE FROM jti WHERE iss = ? AND jti = ? AND expires_at < ?", (iss, jti, now))
                cursor = db.execute("INSERT OR IGNORE INTO jti VALUES (?, ?, ?)", (iss, jti, expires_at))
                return cursor.rowcount == 1
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    # -- card memory (service/memory.py): opaque keyed hashes, no patient data ------------------
    def card_seen(self, key: str) -> bool:
        """Whether ``key`` (a keyed hash from service.memory) was remembered and has not expired."""
        try:
            row = self._connect().execute("SELECT 1 FROM card_memory WHERE key = ? AND expires_at >= ?",
                                          (key, time.time())).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return row is not None

    def remember_card(self, key: str, expires_at: float) -> None:
        """Remember ``key`` until ``expires_at`` (epoch seconds); a later call replaces the expiry."""
        now = time.time()
        try:
            with self._connect() as db:
                db.execute("INSERT INTO card_memory (key, expires_at) VALUES (?, ?)"
                           " ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at", (key, expires_at))
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        if now - self._memory_purged_at > PURGE_INTERVAL:
            self.purge_card_memory(now)

    def purge_card_memory(self, now: float) -> int:
        """Delete the entries expired before ``now``; how many were deleted."""
        try:
            with self._connect() as db:
                deleted = db.execute("DELETE FROM card_memory WHERE expires_at < ?", (now,)).rowcount
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        self._memory_purged_at = now
        return int(deleted)

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
