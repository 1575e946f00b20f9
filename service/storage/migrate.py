"""Bringing a database to the schema this release expects, with Alembic.

Run at start-up (every worker may try; one does the work) and by ``python -m service db upgrade``.
The migration runs inside one transaction that first takes a lock every other migrator waits
for: on SQLite the write lock (``BEGIN IMMEDIATE``), on PostgreSQL an advisory lock. So several
gunicorn workers or replicas starting at once never migrate twice or half.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from .database import WRITE

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
#: pg_advisory_xact_lock key: "lbp-cds migrate".
ADVISORY_LOCK = 0x1B9CD5


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest schema version this release knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The schema version of the database (``None``: never migrated by Alembic)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration not yet applied, under a lock; a no-op on an up-to-date database."""
    config = _config()
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
