"""Durable storage: the cards we issued and the feedback clinicians gave on them.

The one seam that talks to a database, on SQLAlchemy Core with Alembic migrations
(``service/migrations``): a SQLite file under ``DATA_DIR`` by default, PostgreSQL when
``LBP_CDS_DATABASE_URL`` names one (several replicas then share one store). Nothing stored
here is PHI by design: card uuids, rule ids and versions, whether the card was about a draft
imaging order, the client's ``iss``, outcomes, coded override reasons, the clinician's comment
(bounded in size) and token ids (``jti``) until they expire. The FHIR patient id only with
``LBP_CDS_STORE_PATIENT_ID=1``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from .database import UnsupportedUrl, parse_url
from .errors import ContradictoryFeedback, StorageError, UnknownCard
from .sql import Issued, Offered, SqlStorage, is_imaging_rule, spec_fields

__all__ = ["ContradictoryFeedback", "Issued", "Offered", "SqlStorage", "Storage", "StorageError", "UnknownCard",
           "SqliteStorage", "is_imaging_rule", "open_storage", "spec_fields"]


class Storage(Protocol):
    def record_issued(self, service_id: str, hook_instance: str, cards: Iterable[Issued], *, client_iss: str,
                      offered: Offered | None = None, patient_id: str | None = None) -> None:
        ...
    def store_feedback(self, service_id: str, items: Sequence[Mapping[str, Any]], *, client_iss: str) -> int: ...
    def remember_jti(self, iss: str, jti: str, expires_at: float) -> bool: ...
    def card_seen(self, key: str) -> bool: ...
    def remember_card(self, key: str, expires_at: float) -> None: ...
    def purge_card_memory(self, now: float) -> int: ...
    def feedback_rows(self) -> list[dict[str, Any]]: ...
    def issued_rows(self) -> list[dict[str, Any]]: ...
    def report_rows(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]: ...
    def purge(self, before: str) -> dict[str, int]: ...
    def ping(self) -> bool: ...
    def batched(self) -> AbstractContextManager[None]: ...


def SqliteStorage(path: Path) -> SqlStorage:  # noqa: N802 - the name callers used when it was a class
    """Storage in the SQLite file ``path`` (created owner-only, migrated)."""
    return SqlStorage(make_url(f"sqlite:///{path}"))


def open_storage(url: str, data_dir: Path, *, migrate_now: bool = True) -> SqlStorage:
    """Storage for ``url`` (``sqlite:///file`` or ``postgresql://…``); empty means a SQLite file in ``data_dir``.

    Migrates the database to this release's schema unless ``migrate_now`` is false.
    """
    try:
        return SqlStorage(parse_url(url, data_dir), migrate_now=migrate_now)
    except UnsupportedUrl as exc:
        raise StorageError(str(exc)) from None
