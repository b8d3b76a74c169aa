"""finished channel

Where a response finished, beside where it started (`channel`), so that the response-rate
views count the channel a group finished in and the switches between channels; the channel
each answer was given in, so that the chat can say which answer was kept when the web won a
clash (issue 20); and an index to find the chats answering an invitation. Completed
responses finished where they started, as far as anyone knew until now; the channel of
answers given before this revision is not known.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("finished_channel", sa.String(length=16), nullable=True))
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
    # Sending a response looks up the chats answering it, to tell them.
    with op.batch_alter_table("telegram_chats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_telegram_chats_invitation_id"), ["invitation_id"], unique=False
        )
    responses = sa.table(
        "responses",
        sa.column("status", sa.String),
        sa.column("channel", sa.String),
        sa.column("finished_channel", sa.String),
    )
    op.execute(
        responses.update()
        .where(responses.c.status == "completed")
        .values(finished_channel=responses.c.channel)
    )


def downgrade() -> None:
    with op.batch_alter_table("telegram_chats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_chats_invitation_id"))
    # Dropped in place (SQLite 3.35 and later, and PostgreSQL), not by batch mode: on SQLite
    # that copies `responses` to a new table and drops the old one, and with foreign keys on
    # dropping it deletes every answer (ON DELETE CASCADE).
    op.execute("ALTER TABLE answers DROP COLUMN channel")
    op.execute("ALTER TABLE responses DROP COLUMN finished_channel")
