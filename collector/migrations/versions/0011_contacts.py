"""contacts: partners, commissioners and representatives, invited to rounds like groups

A provider's list of people who are not VCS groups (issue 15): public-sector partners and
commissioners with their organisation, and the sector's representatives on partnership boards.
Invitations and Telegram chats may name a contact; a response keeps who answered (its
audience) and a contact's organisation, copied when it starts, as segments.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("consent_email", sa.Boolean(), nullable=False),
        sa.Column("consent_telegram", sa.Boolean(), nullable=False),
        sa.Column("preferred_channel", sa.String(length=16), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(), nullable=True),
        sa.Column("erased_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_contacts_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint(
            "provider_id", "external_ref", name=op.f("uq_contacts_provider_id_external_ref")
        ),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_provider_id"), ["provider_id"], unique=False)

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_invitations_contact_id"), ["contact_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_invitations_round_id_contact_id"), ["round_id", "contact_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_invitations_contact_id_contacts"), "contacts", ["contact_id"], ["id"]
        )

    with op.batch_alter_table("telegram_chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_telegram_chats_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_telegram_chats_contact_id_contacts"), "contacts", ["contact_id"], ["id"]
        )

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("contact_org", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("contact_org")
        batch_op.drop_column("audience")

    with op.batch_alter_table("telegram_chats", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_telegram_chats_contact_id_contacts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_telegram_chats_contact_id"))
        batch_op.drop_column("contact_id")

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_invitations_contact_id_contacts"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_invitations_round_id_contact_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_invitations_contact_id"))
        batch_op.drop_column("contact_id")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_provider_id"))

    op.drop_table("contacts")
