"""Alembic environment: always given a connection by :func:`service.storage.migrate.upgrade`.

There is no alembic.ini: the service runs its own migrations (at start-up and by
``python -m service db upgrade``) on the connection it already opened and locked.
"""

from __future__ import annotations

from alembic import context

from service.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
