"""Building blocks for the respondent tests: an invitation ready to answer in Telegram."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import flow, models
from collector.db import transaction
from tests.factories import make_invitation


@dataclass(frozen=True)
class Invited:
    """An invitation stored and committed: its id, token and organisation's id."""

    invitation_id: int
    token: str
    organisation_id: int


def invite(sessions: sessionmaker[Session], **overrides: Any) -> Invited:
    """Store an open round of the every-type survey and give one organisation's invitation."""
    with transaction(sessions) as session:
        invitation = make_invitation(session, **overrides)
        assert invitation.organisation_id is not None
        return Invited(invitation.id, invitation.token, invitation.organisation_id)


def stored_answers(sessions: sessionmaker[Session], invitation_id: int) -> dict[str, Any]:
    """Give the invitation's stored answers, decoded (empty when not started)."""
    with transaction(sessions) as session:
        invitation = session.get(models.Invitation, invitation_id)
        assert invitation is not None
        response = flow.response_for(session, invitation)
        return {} if response is None else flow.answers(session, response)


def response_row(sessions: sessionmaker[Session], invitation_id: int) -> models.Response | None:
    """Give the invitation's response row (detached, for reading its columns)."""
    with transaction(sessions) as session:
        return session.scalar(
            select(models.Response).where(models.Response.invitation_id == invitation_id)
        )
