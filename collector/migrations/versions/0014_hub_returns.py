"""hubs and hub_returns: Community Hubs, Local Resource Centres and their quarterly returns

A provider's Community Hubs and Local Resource Centres (issue 17, the VAL review's Community
Hub Temperature Check) and, per quarter, each one's figure for each variable it reports.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hubs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("locality", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_hubs_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hubs")),
        sa.UniqueConstraint(
            "provider_id", "external_ref", name=op.f("uq_hubs_provider_id_external_ref")
        ),
    )
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hubs_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "hub_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hub_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Date(), nullable=False),
        sa.Column("variable", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("target", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["hub_id"], ["hubs.id"], name=op.f("fk_hub_returns_hub_id_hubs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_returns")),
        sa.UniqueConstraint(
            "hub_id", "quarter", "variable", name=op.f("uq_hub_returns_hub_id_quarter_variable")
        ),
    )
    with op.batch_alter_table("hub_returns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_returns_hub_id"), ["hub_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_returns_quarter"), ["quarter"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hub_returns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_returns_quarter"))
        batch_op.drop_index(batch_op.f("ix_hub_returns_hub_id"))
    op.drop_table("hub_returns")
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hubs_provider_id"))
    op.drop_table("hubs")
