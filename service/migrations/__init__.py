"""Alembic migrations of the database (``service/migrations/versions``), run by :mod:`service.storage.migrate`."""
