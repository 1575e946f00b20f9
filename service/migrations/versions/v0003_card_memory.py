"""The card memory: keyed hashes of cards already shown in a consultation (service.memory).

Opaque HMAC keys and an expiry only; nothing about the patient can be read back from them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_memory",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("card_memory_expiry", "card_memory", ["expires_at"])


def downgrade() -> None:
    op.drop_index("card_memory_expiry", "card_memory")
    op.drop_table("card_memory")
