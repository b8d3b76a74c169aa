"""The outbox: every outgoing message is a row first, then a dispatcher delivers it.

`enqueue` stores a message once per dedupe key (queueing it again does nothing), so opening a
round twice, or a reminder run that is repeated after a crash, never sends twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from collector import models
from collector.models import utcnow

CHANNELS = ("email", "telegram")
STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


def enqueue(
    session: Session,
    *,
    dedupe_key: str,
    channel: str,
    recipient: str,
    template: str,
    data: Mapping[str, Any] | None = None,
    not_before: datetime | None = None,
    provider_id: int | None = None,
    round_id: int | None = None,
    invitation_id: int | None = None,
) -> bool:
    """Queue a message; give False when one with this dedupe key is already queued."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    values = {
        "dedupe_key": dedupe_key,
        "channel": channel,
        "recipient": recipient,
        "template": template,
        "data": dict(data or {}),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": not_before or utcnow(),
        "created_at": utcnow(),
        "provider_id": provider_id,
        "round_id": round_id,
        "invitation_id": invitation_id,
    }
    table = models.OutboxMessage
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = (
            postgresql.insert(table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
    elif dialect == "sqlite":
        statement = (
            sqlite.insert(table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
    else:  # pragma: no cover - tempcheck runs on SQLite and PostgreSQL only
        raise RuntimeError(f"unsupported database {dialect}")
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return bool(result.rowcount)


def message_by_key(session: Session, dedupe_key: str) -> models.OutboxMessage | None:
    """Find a queued message by its dedupe key."""
    return session.scalar(
        select(models.OutboxMessage).where(models.OutboxMessage.dedupe_key == dedupe_key)
    )
