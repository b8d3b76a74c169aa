"""rate counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "rate_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_counts")),
        sa.UniqueConstraint(
            "bucket",
            "client",
            "window_start",
            name=op.f("uq_rate_counts_bucket_client_window_start"),
        ),
    )
    with op.batch_alter_table("rate_counts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_counts_window_start"), ["window_start"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("rate_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_counts_window_start"))

    op.drop_table("rate_counts")
