"""Baseline: issued cards, feedback and the jti replay cache, as before Alembic.

Databases made before Alembic (SQLite files of earlier releases) already have some of these
tables, perhaps without the columns added later; they are completed in place, never recreated.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> dict[str, tuple[list[sa.Column[Any]], dict[str, Any]]]:
    return {
        "issued_card": ([
            sa.Column("card_uuid", sa.Text, primary_key=True),
            sa.Column("service_id", sa.Text, nullable=False),
            sa.Column("rule_id", sa.Text, nullable=False),
            sa.Column("rule_version", sa.Text, nullable=False),
            sa.Column("hook_instance", sa.Text, nullable=False),
            sa.Column("issued_at", sa.Text, nullable=False),
            sa.Column("client_iss", sa.Text),
            sa.Column("suggestions", sa.Text),
            sa.Column("offered", sa.Text),
        ], {}),
        "feedback": ([
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("service_id", sa.Text, nullable=False),
            sa.Column("card_uuid", sa.Text, nullable=False),
            sa.Column("rule_id", sa.Text),
            sa.Column("rule_version", sa.Text),
            sa.Column("outcome", sa.Text, nullable=False),
            sa.Column("accepted_suggestions", sa.Text),
            sa.Column("override_system", sa.Text),
            sa.Column("override_code", sa.Text),
            sa.Column("override_display", sa.Text),
            sa.Column("user_comment", sa.Text),
            sa.Column("outcome_timestamp", sa.Text, nullable=False),
            sa.Column("received_at", sa.Text, nullable=False),
            sa.Column("raw", sa.Text, nullable=False),
            sa.Column("client_iss", sa.Text),
            sa.Column("applied", sa.Integer),
        ], {"sqlite_autoincrement": True}),
        "jti": ([
            sa.Column("iss", sa.Text, primary_key=True),
            sa.Column("jti", sa.Text, primary_key=True),
            sa.Column("expires_at", sa.Float, nullable=False),
        ], {}),
    }


INDEXES = [("feedback_rule", "feedback", ["rule_id", "outcome"]), ("feedback_card", "feedback", ["card_uuid"]),
           ("jti_expiry", "jti", ["expires_at"])]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, (columns, options) in _tables().items():
        if name not in existing:
            op.create_table(name, *columns, **options)
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        for column in columns:
            if column.name not in have:  # a column added by a release after the table's first
                op.add_column(name, sa.Column(column.name, column.type, nullable=True))
    for index, table, keys in INDEXES:
        if index not in {i["name"] for i in inspector.get_indexes(table)}:
            op.create_index(index, table, keys)


def downgrade() -> None:
    for name in ("jti", "feedback", "issued_card"):
        op.drop_table(name)
