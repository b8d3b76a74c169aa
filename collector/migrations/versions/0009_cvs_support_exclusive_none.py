"""cvs-support's 'None of these' is an exclusive choice

The rule that 'None of these' goes on its own was a constraint on three questions; it is now
the choice's `exclusive` attribute (issue 13). The library's cvs-support version 1 says so, so
a database that froze the old text of version 1 gets the new one: the same rule, stated once.
Other surveys, and a version 1 edited by hand, are left as they are.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_FINGERPRINT = "42129a3f47d11bc032860bd78662d902441268332941158c859c0d8a28e1be29"
NEW_FINGERPRINT = "bb230de069310dc93cd4730def59ddb532e800e853c93a20df85fa8b7aeeca5f"
CONSTRAINT = "not(selected(., 'none') and count-selected(.) > 1)"
QUESTIONS = ("outcomes_contributed", "aware_outcomes", "awareness_raised")

surveys = sa.table(
    "surveys",
    sa.column("id", sa.Integer),
    sa.column("slug", sa.String),
    sa.column("version", sa.Integer),
    sa.column("definition", sa.JSON),
    sa.column("fingerprint", sa.String),
)


def fingerprint(definition: dict[str, Any]) -> str:
    """Give the definition's fingerprint as `Survey.fingerprint` computes it."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def exclusive(definition: dict[str, Any]) -> dict[str, Any]:
    """Give the definition with 'none' exclusive and the constraints that said so gone."""
    changed = copy.deepcopy(definition)
    for choice in changed["choices"]["outcomes"]:
        if choice["value"] == "none":
            choice["exclusive"] = True
    for question in changed["questions"]:
        if question["id"] in QUESTIONS:
            question.pop("constraint", None)
    return changed


def constrained(definition: dict[str, Any]) -> dict[str, Any]:
    """Give the definition as it was: the rule as a constraint on each question."""
    changed = copy.deepcopy(definition)
    for choice in changed["choices"]["outcomes"]:
        choice.pop("exclusive", None)
    for question in changed["questions"]:
        if question["id"] in QUESTIONS:
            question["constraint"] = CONSTRAINT
    return changed


def _rewrite(old: str, new: str, change: Any) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(surveys.c.id, surveys.c.definition).where(
            surveys.c.slug == "cvs-support",
            surveys.c.version == 1,
            surveys.c.fingerprint == old,
        )
    ).all()
    for row in rows:
        definition = change(row.definition)
        if fingerprint(definition) != new:
            continue  # not the library's text after all: leave it alone
        connection.execute(
            sa.update(surveys)
            .where(surveys.c.id == row.id)
            .values(definition=definition, fingerprint=new)
        )


def upgrade() -> None:
    _rewrite(OLD_FINGERPRINT, NEW_FINGERPRINT, exclusive)


def downgrade() -> None:
    _rewrite(NEW_FINGERPRINT, OLD_FINGERPRINT, constrained)
