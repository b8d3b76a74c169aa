"""The audit log: who opened, reminded, closed, imported or edited what, and when.

Events name the actor and the thing acted on, never a respondent's answers or contact details.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import models


def command_line_actor() -> str:
    """Name the operator of a CLI command: the login of whoever ran it."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return f"command line ({login})"


def record(
    session: Session,
    action: str,
    *,
    user: models.User | None = None,
    actor: str | None = None,
    provider_id: int | None = None,
    subject: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> models.AuditEvent:
    """Add an event to the log, in the caller's transaction (so it stands or falls with it)."""
    event = models.AuditEvent(
        user_id=user.id if user is not None else None,
        actor=actor or (user.email if user is not None else command_line_actor()),
        provider_id=provider_id,
        action=action,
        subject=subject,
        details=dict(details or {}),
    )
    session.add(event)
    session.flush()
    return event


def recent(
    session: Session, *, limit: int = 200, provider_id: int | None = None
) -> list[models.AuditEvent]:
    """Give the newest events first, optionally only one provider's."""
    query = select(models.AuditEvent).order_by(models.AuditEvent.id.desc()).limit(limit)
    if provider_id is not None:
        query = query.where(models.AuditEvent.provider_id == provider_id)
    return list(session.scalars(query))
