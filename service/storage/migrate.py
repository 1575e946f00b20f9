"""Bringing a database to the schema this release expects, with Alembic.

Run at start-up (every worker may try; one does the work) and by ``python -m service db upgrade``.
The migration runs inside one transaction that first takes a lock every other migrator waits
for: on SQLite the write lock (``BEGIN IMMEDIATE``), on PostgreSQL an advisory lock. So several
gunicorn workers or replicas starting at once never migrate twice or half.

Alembic is imported only when a migration runs (or the CLI asks): a database already at this
release's version (docs/operations.md: the migration is applied once, before the pods start) is
recognised by reading its version row with plain SQL against the revisions in
``service/migrations/versions``. Alembic and the SQLAlchemy dialects it loads would otherwise
stay in every gunicorn worker (about 8 MB each, docs/performance.md).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from .database import WRITE

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
#: pg_advisory_xact_lock key: "lbp-cds migrate".
ADVISORY_LOCK = 0x1B9CD5
#: Alembic's table of the applied version.
VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']""", re.M)
_DOWN = re.compile(r"""^down_revision\s*=\s*["']([^"']+)["']""", re.M)


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest schema version this release knows (Alembic's answer)."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


@cache
def known_head() -> str | None:
    """The newest revision in ``service/migrations/versions``, read without Alembic.

    ``None`` unless exactly one revision is no other's ``down_revision`` (then Alembic decides).
    tests/test_storage.py holds it equal to :func:`head`.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        parents.update(_DOWN.findall(source))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current(engine: Engine) -> str | None:
    """The schema version of the database (``None``: never migrated by Alembic)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def up_to_date(engine: Engine) -> bool:
    """Whether the database is at this release's version, asked with plain SQL (no Alembic import)."""
    wanted = known_head()
    if wanted is None:
        return False
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return False
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return rows == [wanted]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration not yet applied, under a lock; a no-op on an up-to-date database."""
    from alembic import command

    config = _config()
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
