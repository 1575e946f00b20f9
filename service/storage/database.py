"""Opening the database: a SQLite file by default, PostgreSQL (psycopg 3, pooled) by URL.

SQLite: WAL, so readers never wait for the writer; every write transaction starts with
``BEGIN IMMEDIATE``, so two gunicorn workers cannot both check-then-insert; the file and its
WAL are readable by their owner only (feedback holds clinicians' comments).
PostgreSQL: SQLAlchemy's connection pool, checked before use (a restarted server is not an
error), sized for gunicorn's threads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

#: Execution option that makes a SQLite transaction take the write lock at BEGIN.
WRITE = "lbp_cds_write"
#: Seconds a SQLite writer waits for another worker's transaction before giving up.
SQLITE_BUSY_SECONDS = 15


class UnsupportedUrl(ValueError):
    """LBP_CDS_DATABASE_URL names neither a SQLite file nor a PostgreSQL database."""


def parse_url(url: str, data_dir: Path) -> URL:
    """The SQLAlchemy URL for a setting: empty = SQLite in ``data_dir``; ``postgresql://`` uses psycopg 3."""
    if not url:
        return make_url(f"sqlite:///{data_dir / 'lbp-cds.sqlite3'}")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UnsupportedUrl(f"LBP_CDS_DATABASE_URL is not a database URL: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite" and parsed.database:
        return parsed
    raise UnsupportedUrl(
        f"unsupported LBP_CDS_DATABASE_URL scheme: {parsed.drivername} "
        "(use sqlite:///path/file.sqlite3 or postgresql://user:password@host/database)"
    )


def safe(url: URL) -> str:
    """The URL as it may appear in a log or an error: no password."""
    return url.render_as_string(hide_password=True)


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(Path(str(url.database)))
    return create_engine(url, pool_size=5, max_overflow=15, pool_pre_ping=True, pool_timeout=10,
                         connect_args={"connect_timeout": 5, "application_name": "lbp-cds"})


def _owner_only(path: Path) -> None:
    """Create the file owner-only if it is new; make it and its WAL owner-only if they are not.

    An existing database file is never opened here: closing any descriptor of a file drops the
    POSIX locks this process's SQLite connections hold on it, which corrupts the database.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass  # another worker created it just now
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)


def _sqlite_engine(path: Path) -> Engine:
    _owner_only(path)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": SQLITE_BUSY_SECONDS})

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves (pysqlite's own is deferred and late)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()
        _owner_only(path)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
