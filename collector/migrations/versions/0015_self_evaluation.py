"""self evaluation: two-sided rounds, facilitated agreed ratings and action plans

The two-way self-evaluation (issue 16): which rounds are self-evaluations and how their sides
answer, one side's agreed rating per question entered by a facilitator, and the actions staff
plan from the questions either side prioritised.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("first_side", sa.String(length=8), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(), nullable=True),
        sa.Column("previous_round_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_by", sa.String(length=254), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_self_evaluations_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["previous_round_id"],
            ["rounds.id"],
            name=op.f("fk_self_evaluations_previous_round_id_rounds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_evaluations")),
        sa.UniqueConstraint("round_id", name=op.f("uq_self_evaluations_round_id")),
    )
    op.create_table(
        "agreed_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("prioritise", sa.Boolean(), nullable=False),
        sa.Column("entered_by", sa.String(length=254), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_agreed_ratings_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreed_ratings")),
        sa.UniqueConstraint(
            "round_id",
            "side",
            "question_id",
            name=op.f("uq_agreed_ratings_round_id_side_question_id"),
        ),
    )
    with op.batch_alter_table("agreed_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreed_ratings_round_id"), ["round_id"], unique=False)
    op.create_table(
        "evaluation_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_evaluation_actions_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_evaluation_actions_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_actions")),
    )
    with op.batch_alter_table("evaluation_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_actions_round_id"), ["round_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evaluation_actions_provider_id"), ["provider_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_actions_provider_id"))
        batch_op.drop_index(batch_op.f("ix_evaluation_actions_round_id"))
    op.drop_table("evaluation_actions")
    with op.batch_alter_table("agreed_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreed_ratings_round_id"))
    op.drop_table("agreed_ratings")
    op.drop_table("self_evaluations")
