"""What the report needs: whether a card was about a draft imaging order, an optional patient id.

``draft_imaging`` is derived from the rule (IMG-* rules are about draft imaging orders), so it
is filled in for cards issued before this version, too. ``patient_id`` stays NULL unless
LBP_CDS_STORE_PATIENT_ID=1.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("issued_card", sa.Column("draft_imaging", sa.Integer))
    op.add_column("issued_card", sa.Column("patient_id", sa.Text))
    op.execute("UPDATE issued_card SET draft_imaging = CASE WHEN rule_id LIKE 'IMG-%' THEN 1 ELSE 0 END")
    op.create_index("issued_card_issued_at", "issued_card", ["issued_at"])


def downgrade() -> None:
    op.drop_index("issued_card_issued_at", "issued_card")
    with op.batch_alter_table("issued_card") as batch:
        batch.drop_column("patient_id")
        batch.drop_column("draft_imaging")
