"""round reports due: a closed round's reports are published in the background

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reports_due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reports_due_by", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("reports_note", sa.String(length=500), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_rounds_reports_due_at"), ["reports_due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rounds_reports_due_at"))
        batch_op.drop_column("reports_note")
        batch_op.drop_column("reports_due_by")
        batch_op.drop_column("reports_due_at")
