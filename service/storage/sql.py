"""The one place that reads and writes the database, on SQLAlchemy Core: SQLite or PostgreSQL.

Feedback integrity does not depend on which: feedback is stored in one transaction that holds
the card's row (PostgreSQL: ``SELECT … FOR UPDATE``; SQLite: the database's write lock from
``BEGIN IMMEDIATE``), so two workers given feedback on the same card at the same moment
cannot both find "no outcome yet".
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from . import migrate
from .database import WRITE, make_engine, safe
from .errors import ContradictoryFeedback, StorageError, UnknownCard
from .schema import card_memory, feedback, issued_card
from .schema import jti as jti_table

#: Expired jti entries are purged at most this often (seconds) per process.
PURGE_INTERVAL = 60.0
#: A card-memory key this process found or wrote is trusted without asking the database for at most
#: this long (seconds, and never past the key's expiry); then it is read again.
SEEN_CACHE_SECONDS = 60.0
#: Most card-memory keys kept in that per-process cache (about 200 bytes each).
SEEN_CACHE_SIZE = 10_000

#: A card as issued: (uuid, rule id, rule version, suggestion uuids).
Issued = tuple[str, str, str, Sequence[str]]
#: Suggestion uuid → what it offered: ``{"actions": [types], "applicable": bool}`` (see service.profiles.offered).
Offered = Mapping[str, Mapping[str, Any]]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_imaging_rule(rule_id: str) -> bool:
    """Whether a rule's cards are about a draft imaging order: the IMG-* rules (docs/rules.md)."""
    return rule_id.startswith("IMG-")


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


class SqlStorage:
    """Issued cards, feedback and the jti cache in one database, shared by every worker and replica."""

    def __init__(self, url: URL, *, migrate_now: bool = True) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        # Pooled connections are closed when this storage is dropped (tests, CLI), not left to the GC.
        weakref.finalize(self, self.engine.dispose)
        self._pid = os.getpid()
        self._purged_at = 0.0
        self._memory_purged_at = 0.0
        #: Card-memory key → until when this process may answer "seen" without the database (see card_seen).
        self._seen: dict[str, float] = {}
        #: Per thread: the writes of the hook call in progress, when it batches them (see batched).
        self._local = threading.local()
        if migrate_now:
            try:
                if not migrate.up_to_date(self.engine):  # up to date: Alembic is never imported
                    migrate.upgrade(self.engine)
            except SQLAlchemyError as exc:
                raise StorageError(f"{safe(url)}: cannot bring the database up to date: {_reason(exc)}") from exc
            finally:
                self.engine.dispose()  # no connection opened before a fork (gunicorn preload) is ever shared

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _connection(self, *, write: bool = False) -> Iterator[Connection]:
        """A connection in a transaction, committed on success; database errors become StorageError."""
        if os.getpid() != self._pid:  # a forked worker: open its own connections, leave the parent's alone
            self.engine.dispose(close=False)
            self._pid = os.getpid()
        try:
            with self.engine.connect() as connection:
                if write:
                    connection.execution_options(**{WRITE: True})
                with connection.begin():
                    yield connection
        except SQLAlchemyError as exc:
            raise StorageError(_reason(exc)) from exc

    @contextmanager
    def batched(self) -> Iterator[None]:
        """The card-memory and issued-card writes made inside, in one write transaction at the end.

        A hook call that shows cards writes both (service/hooks.py); one transaction is one lock
        and one commit instead of one per card plus one. Reads inside still read the database as
        it was. Nothing is written if the block raises; a failed commit raises StorageError here,
        after the block, and writes nothing (the caller has already decided what to show).
        """
        if getattr(self._local, "writes", None) is not None:  # nested: the outer block writes
            yield
            return
        writes: list[Callable[[Connection], object]] = []
        after: list[Callable[[], None]] = []
        self._local.writes, self._local.after = writes, after
        try:
            yield
        finally:
            self._local.writes = self._local.after = None
        if writes:
            with self._connection(write=True) as db:
                for write in writes:
                    write(db)
        for then in after:
            then()

    def _write(self, write: Callable[[Connection], object], then: Callable[[], None] | None = None) -> None:
        """Run ``write`` in its own transaction, or queue it in the current ``batched`` block."""
        queued: list[Callable[[Connection], object]] | None = getattr(self._local, "writes", None)
        if queued is not None:
            queued.append(write)
            if then is not None:
                self._local.after.append(then)
            return
        with self._connection(write=True) as db:
            write(db)
        if then is not None:
            then()

    def _insert_ignoring_duplicates(self, table: Any) -> Any:
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    def record_issued(self, service_id: str, hook_instance: str, cards: Iterable[Issued], *, client_iss: str,
                      offered: Offered | None = None, patient_id: str | None = None) -> None:
        """Remember which client was sent which card and what its suggestions offered.

        ``offered`` (by suggestion uuid) says whether the client can apply each suggestion, so
        an acceptance of one it cannot apply is stored as not applied (``feedback.applied = 0``).
        ``patient_id`` is stored only when the caller passes it (LBP_CDS_STORE_PATIENT_ID=1).
        """
        offered = offered or {}
        issued_at = now_iso()
        rows = [{"card_uuid": u, "service_id": service_id, "rule_id": r, "rule_version": v,
                 "hook_instance": hook_instance, "issued_at": issued_at, "client_iss": client_iss,
                 "suggestions": json.dumps(list(s)),
                 "offered": json.dumps({k: dict(offered[k]) for k in s if k in offered}) if offered else None,
                 "draft_imaging": int(is_imaging_rule(r)), "patient_id": patient_id}
                for u, r, v, s in cards]
        if not rows:
            return
        insert = self._insert_ignoring_duplicates(issued_card)
        self._write(lambda db: db.execute(insert, rows))

    def store_feedback(self, service_id: str, items: Sequence[Mapping[str, Any]], *, client_iss: str) -> int:
        """Store every item in one transaction: all are kept, or none and the caller is told.

        Raises :class:`UnknownCard` for a card not issued by ``service_id`` to ``client_iss`` (or a
        suggestion not on it) and :class:`ContradictoryFeedback` when a card already has another
        outcome. An item equal to the recorded outcome is a harmless repeat and adds nothing.
        """
        received = now_iso()
        with self._connection(write=True) as db:
            for item in items:
                self._store_one(db, service_id, client_iss, spec_fields(item), received)
        return len(items)

    @staticmethod
    def _store_one(db: Connection, service_id: str, client_iss: str, item: dict[str, Any], received: str) -> None:
        card = str(item["card"])
        issued = db.execute(
            select(issued_card.c.rule_id, issued_card.c.rule_version, issued_card.c.suggestions,
                   issued_card.c.offered)
            .where(issued_card.c.card_uuid == card, issued_card.c.service_id == service_id,
                   issued_card.c.client_iss == client_iss)
            .with_for_update()  # PostgreSQL: feedback on one card is stored one at a time
        ).mappings().first()
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
        recorded = db.execute(
            select(feedback.c.outcome, feedback.c.accepted_suggestions, feedback.c.override_system,
                   feedback.c.override_code, feedback.c.user_comment).where(feedback.c.card_uuid == card)
        ).first()
        if recorded is not None:
            if _outcome_key(*recorded) != new:
                raise ContradictoryFeedback(card)
            return  # the same outcome again: already stored
        db.execute(feedback.insert().values(
            service_id=service_id, card_uuid=card, rule_id=issued["rule_id"], rule_version=issued["rule_version"],
            outcome=item["outcome"], accepted_suggestions=accepted_json, override_system=reason.get("system"),
            override_code=reason.get("code"), override_display=reason.get("display"),
            user_comment=override.get("userComment"), outcome_timestamp=item["outcomeTimestamp"],
            received_at=received, raw=json.dumps(item, ensure_ascii=False), client_iss=client_iss,
            applied=_applied(accepted, issued["offered"]),
        ))

    def remember_jti(self, iss: str, jti: str, expires_at: float) -> bool:
        """Record a token id until it expires; ``False`` when it is already recorded (a replay)."""
        now = time.time()
        cache = jti_table
        with self._connection(write=True) as db:
            if now - self._purged_at > PURGE_INTERVAL:
                db.execute(delete(cache).where(cache.c.expires_at < now))
                self._purged_at = now
            db.execute(delete(cache).where(cache.c.iss == iss, cache.c.jti == jti, cache.c.expires_at < now))
            inserted = db.execute(self._insert_ignoring_duplicates(cache).values(
                iss=iss, jti=jti, expires_at=expires_at).returning(cache.c.jti)).first()
            return inserted is not None

    # -- card memory (service/memory.py): opaque keyed hashes, no patient data ------------------
    def card_seen(self, key: str) -> bool:
        """Whether ``key`` (a keyed hash from service.memory) was remembered and has not expired.

        A key found (or written) here is answered from a small per-process cache for up to
        SEEN_CACHE_SECONDS, never past its expiry: an EHR repeats a call several times a second
        while an order is edited, and a key's expiry only ever moves later (it is rewritten only
        once it has expired), so a cached "seen" is what the database would answer. A reset of
        the table by hand is noticed within SEEN_CACHE_SECONDS. "Not seen" is never cached.
        """
        now = time.time()
        if self._seen.get(key, 0.0) >= now:
            return True
        with self._connection() as db:
            row = db.execute(select(card_memory.c.expires_at).where(
                card_memory.c.key == key, card_memory.c.expires_at >= now)).first()
        if row is None:
            return False
        self._cache_seen(key, float(row[0]), now)
        return True

    def _cache_seen(self, key: str, expires_at: float, now: float) -> None:
        if len(self._seen) >= SEEN_CACHE_SIZE:
            self._seen = {k: t for k, t in self._seen.items() if t >= now}
            if len(self._seen) >= SEEN_CACHE_SIZE:
                self._seen = {}
        self._seen[key] = min(expires_at, now + SEEN_CACHE_SECONDS)

    def remember_card(self, key: str, expires_at: float) -> None:
        """Remember ``key`` until ``expires_at`` (epoch seconds); a later call replaces the expiry."""
        now = time.time()
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        upsert = dialect.insert(card_memory).values(key=key, expires_at=expires_at)
        upsert = upsert.on_conflict_do_update(index_elements=[card_memory.c.key],
                                              set_={"expires_at": upsert.excluded.expires_at})

        def remembered() -> None:
            self._cache_seen(key, expires_at, now)
            if now - self._memory_purged_at > PURGE_INTERVAL:
                self.purge_card_memory(now)

        self._write(lambda db: db.execute(upsert), then=remembered)

    def purge_card_memory(self, now: float) -> int:
        """Delete the entries expired before ``now``; how many were deleted."""
        with self._connection(write=True) as db:
            deleted = db.execute(delete(card_memory).where(card_memory.c.expires_at < now)).rowcount
        self._memory_purged_at = now
        return int(deleted)

    def feedback_rows(self) -> list[dict[str, Any]]:
        """Every feedback row, oldest first."""
        with self._connection() as db:
            return [dict(r) for r in db.execute(select(feedback).order_by(feedback.c.id)).mappings()]

    def issued_rows(self) -> list[dict[str, Any]]:
        """Every issued card, oldest first."""
        with self._connection() as db:
            return [dict(r) for r in db.execute(
                select(issued_card).order_by(issued_card.c.issued_at, issued_card.c.card_uuid)).mappings()]

    def report_rows(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """Cards issued in ``[since, until)`` (ISO text), each with its feedback if any (oldest first)."""
        query = (
            select(issued_card.c.card_uuid, issued_card.c.service_id, issued_card.c.rule_id,
                   issued_card.c.rule_version, issued_card.c.issued_at, issued_card.c.draft_imaging,
                   issued_card.c.offered, feedback.c.outcome, feedback.c.accepted_suggestions,
                   feedback.c.override_system, feedback.c.override_code, feedback.c.override_display,
                   feedback.c.user_comment, feedback.c.applied)
            .select_from(issued_card.outerjoin(feedback, feedback.c.card_uuid == issued_card.c.card_uuid))
            .order_by(issued_card.c.issued_at, issued_card.c.card_uuid, feedback.c.id)
        )
        if since:
            query = query.where(issued_card.c.issued_at >= since)
        if until:
            query = query.where(issued_card.c.issued_at < until)
        with self._connection() as db:
            return [dict(r) for r in db.execute(query).mappings()]

    def purge(self, before: str) -> dict[str, int]:
        """Delete cards issued, and feedback received, before ``before`` (ISO text); expired jti too."""
        old_cards = select(issued_card.c.card_uuid).where(issued_card.c.issued_at < before)
        with self._connection(write=True) as db:
            feedback_deleted = db.execute(delete(feedback).where(
                or_(feedback.c.received_at < before, feedback.c.card_uuid.in_(old_cards)))).rowcount
            cards_deleted = db.execute(delete(issued_card).where(issued_card.c.issued_at < before)).rowcount
            db.execute(delete(jti_table).where(jti_table.c.expires_at < time.time()))
        return {"issued_cards": int(cards_deleted), "feedback": int(feedback_deleted)}

    def ping(self) -> bool:
        try:
            with self._connection() as db:
                db.execute(text("SELECT 1"))
            return True
        except StorageError:
            return False

    def close(self) -> None:
        self.engine.dispose()


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's statement and parameters (they may hold comments)."""
    original = getattr(exc, "orig", None)
    return f"{type(original or exc).__name__}: {str(original or exc).splitlines()[0] if str(original or exc) else ''}"
