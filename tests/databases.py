"""The databases storage tests run on: SQLite always, PostgreSQL when ``TEST_POSTGRES_URL`` names a server.

``ci/with-postgres.sh`` starts a throw-away server and sets ``TEST_POSTGRES_URL`` (a superuser
URL); each test gets a database of its own, dropped after. Locally without it the PostgreSQL
cases skip; in CI (``CI`` set) they fail instead, so CI never passes without PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

#: Read at import: the autouse clean_environ fixture only removes LBP_CDS_* variables anyway.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
BACKENDS = ("sqlite", "postgresql")


def require_postgres() -> str:
    """The server URL, or skip (locally) / fail (in CI) when there is none."""
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail("CI is set but TEST_POSTGRES_URL is not: run the tests through ci/with-postgres.sh")
    pytest.skip("no PostgreSQL (set TEST_POSTGRES_URL, or run through ci/with-postgres.sh)")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new empty database on the test server; its URL (``postgresql://``), dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(require_postgres())
    name = f"lbp_test_{secrets.token_hex(6)}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url_for(backend: str, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A URL of an empty database of ``backend`` (``sqlite``: a file in ``tmp_path``)."""
    if backend == "sqlite":
        yield f"sqlite:///{os.path.join(tmp_path, 'lbp-cds.sqlite3')}"
    else:
        with fresh_postgres_database() as url:
            yield url
