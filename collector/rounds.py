"""Rounds and invitations: one survey sent to an audience of a provider's organisations."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from collector import models
from collector.errors import CollectorError, NotFound
from collector.models import utcnow

# 24 random bytes: 192 bits, well past the 128 the design asks for; 32 URL-safe characters.
TOKEN_BYTES = 24
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")
AUDIENCE_KEYS = ("org_type", "income_band", "district", "outcomes", "is_member")


class RoundError(CollectorError):
    """A round cannot be created or changed as asked."""

    code = "bad_round"


def new_token() -> str:
    """Make an unguessable single-use invitation token.

    A token never starts with "-", so that it is never taken for an option when
    pasted after a command (`tempcheck answer TOKEN`); redrawing costs under a
    bit of the 192.
    """
    while True:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        if not token.startswith("-"):
            return token


def looks_like_token(text: str) -> bool:
    """Tell whether `text` has the shape of a token (before any database look-up)."""
    return bool(TOKEN_PATTERN.match(text))


def redact_token(token: str) -> str:
    """Shorten a token for logs: enough to tell two apart, too little to use."""
    return token[:6] + "…" if len(token) > 6 else "…"


def create_round(
    session: Session,
    *,
    provider: models.Provider,
    survey: models.Survey,
    period_label: str,
    opens_at: datetime,
    closes_at: datetime,
    audience: Mapping[str, Sequence[Any]] | None = None,
    open_link: bool = False,
) -> models.Round:
    """Create a draft round of `survey` for `provider`; nothing is sent yet."""
    if closes_at <= opens_at:
        raise RoundError("The close date must be after the open date")
    unknown = set(audience or {}) - set(AUDIENCE_KEYS)
    if unknown:
        raise RoundError(f"Unknown audience filter: {', '.join(sorted(unknown))}")
    if not period_label.strip():
        raise RoundError("Give the round a period label, like 2026/27 H1")
    round_ = models.Round(
        provider=provider,
        survey=survey,
        period_label=period_label.strip(),
        slug=secrets.token_urlsafe(9),
        opens_at=opens_at,
        closes_at=closes_at,
        audience={k: list(v) for k, v in (audience or {}).items()},
        open_link=open_link,
        status="draft",
    )
    session.add(round_)
    session.flush()
    return round_


def audience_query(round_: models.Round) -> Any:
    """Build the SELECT of organisations a round is sent to: its filter, minus the opted out."""
    org = models.Organisation
    query = select(org).where(org.provider_id == round_.provider_id, org.opted_out_at.is_(None))
    for key, values in (round_.audience or {}).items():
        if not values:
            continue
        if key == "outcomes":
            # Organisations working on any of the named outcome areas.
            clauses = [(" " + org.outcomes + " ").contains(f" {v} ") for v in values]
            query = query.where(or_(*clauses))
        elif key == "is_member":
            query = query.where(org.is_member.is_(bool(values[0])))
        else:
            query = query.where(getattr(org, key).in_(list(values)))
    return query.order_by(org.id)


def open_round(session: Session, round_: models.Round, *, now: datetime | None = None) -> int:
    """Open a draft round: freeze its survey and create one invitation per recipient."""
    if round_.status != "draft":
        raise RoundError(f"Round {round_.id} is {round_.status}, not a draft")
    now = now or utcnow()
    if round_.survey.frozen_at is None:
        round_.survey.frozen_at = now
    recipients = session.scalars(audience_query(round_)).all()
    for organisation in recipients:
        session.add(
            models.Invitation(round=round_, organisation_id=organisation.id, token=new_token())
        )
    round_.status = "open"
    session.flush()
    return len(recipients)


def close_round(session: Session, round_: models.Round, *, now: datetime | None = None) -> None:
    """Close an open round: no more answers are taken."""
    if round_.status != "open":
        raise RoundError(f"Round {round_.id} is {round_.status}, not open")
    round_.status = "closed"
    round_.closed_at = now or utcnow()
    session.flush()


def invitation_by_token(session: Session, token: str) -> models.Invitation:
    """Find an invitation by its token; an unknown or malformed one is simply not found."""
    if not looks_like_token(token):
        raise NotFound("This link is not valid", code="bad_token")
    invitation = session.scalar(select(models.Invitation).where(models.Invitation.token == token))
    if invitation is None:
        raise NotFound("This link is not valid", code="bad_token")
    return invitation
