"""erasures: the register of erased records that a restore re-applies

Which record (a volunteer or a contact, by id) was erased and when; no personal data. Restoring
a backup taken before an erasure erases that record again (issue 21).

Revision ID: 0017
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "record_id"),
    )
    # The erasures made before the register existed: their records say when.
    op.execute(
        "INSERT INTO erasures (kind, record_id, erased_at) "
        "SELECT 'volunteer', id, erased_at FROM volunteers WHERE erased_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO erasures (kind, record_id, erased_at) "
        "SELECT 'contact', id, erased_at FROM contacts WHERE erased_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("erasures")
