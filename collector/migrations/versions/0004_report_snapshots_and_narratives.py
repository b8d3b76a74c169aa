"""report snapshots and narratives

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "kpi_narratives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(length=64), nullable=False),
        sa.Column("kpi_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_kpi_narratives_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_kpi_narratives_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_narratives")),
        sa.UniqueConstraint(
            "round_id",
            "framework",
            "kpi_id",
            name=op.f("uq_kpi_narratives_round_id_framework_kpi_id"),
        ),
    )
    with op.batch_alter_table("kpi_narratives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kpi_narratives_round_id"), ["round_id"], unique=False)

    op.create_table(
        "report_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("xlsx", sa.LargeBinary(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_report_snapshots_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_report_snapshots_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_snapshots")),
    )
    with op.batch_alter_table("report_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_snapshots_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_report_snapshots_round_id"), ["round_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("report_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_snapshots_round_id"))
        batch_op.drop_index(batch_op.f("ix_report_snapshots_provider_id"))

    op.drop_table("report_snapshots")
    with op.batch_alter_table("kpi_narratives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kpi_narratives_round_id"))

    op.drop_table("kpi_narratives")
