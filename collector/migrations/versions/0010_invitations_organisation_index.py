"""invitations by organisation: an index on invitations.organisation_id

An organisation's invitations were found only through the unique (round_id, organisation_id)
index, whose first column is the round: PostgreSQL reads the whole invitations table to find
one organisation's (SQLite skips through the index round by round). A group opting out from
its invitation's link cancels its pending messages by its invitations, and deleting an
organisation has PostgreSQL check the invitations that refer to it: at a national round's
150,000 invitations a year, each was a full read of a table of millions of rows (issue 14,
`bench/explain_queries.py`).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitations_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_organisation_id"))
