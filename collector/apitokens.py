"""Tokens for the read-only JSON API: made by an admin, shown once, kept only as a hash.

A token has the view of a role. A staff token belongs to one provider and sees what its staff
see (rounds, KPI results, raw responses with free text). A funder token belongs to a funder's
account and sees what that funder sees in the funder pages (the rounds and published reports
of the providers it funds, never a respondent's own answers), following the account: a
provider the funder stops funding, or an account made inactive, is no longer seen.

A token is `tc_` and 43 characters of a 256-bit random value; the database keeps its SHA-256
and its first characters (to tell tokens apart in a list). Revoking one stops it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import models
from collector.errors import CollectorError
from collector.models import utcnow

PREFIX = "tc_"
SHOWN_CHARACTERS = 10
# last_used_at is written at most this often, so a busy client does not write on every call.
TOUCH_EVERY = timedelta(minutes=5)


class TokenError(CollectorError):
    """A token that cannot be made or changed, with a plain message."""

    code = "bad_token"


@dataclass(frozen=True)
class Scope:
    """What a token may read: its role and the providers it sees."""

    token_id: int
    role: str  # staff or funder
    provider_ids: frozenset[int]

    @property
    def free_text(self) -> bool:
        """Whether raw responses (and their free text) may be read: staff only."""
        return self.role == "staff"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    *,
    name: str,
    created_by: str,
    provider: models.Provider | None = None,
    funder: models.User | None = None,
) -> tuple[models.ApiToken, str]:
    """Make a token for a provider (staff's view) or a funder's account; give the row and the
    token itself, which is never stored."""
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise TokenError("Give the token a name of 1 to 100 characters, saying what uses it")
    if (provider is None) == (funder is None):
        raise TokenError("A token is for one provider or one funder's account")
    if funder is not None and funder.role != "funder":
        raise TokenError(f"{funder.email} is not a funder's account")
    token = PREFIX + secrets.token_urlsafe(32)
    row = models.ApiToken(
        name=name,
        role="staff" if provider is not None else "funder",
        provider_id=provider.id if provider is not None else None,
        user_id=funder.id if funder is not None else None,
        token_hash=_hash(token),
        prefix=token[:SHOWN_CHARACTERS],
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> Scope | None:
    """Give what a presented token may read, or None for an unknown or revoked one."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(models.ApiToken).where(models.ApiToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.role == "staff":
        assert row.provider_id is not None
        providers = frozenset({row.provider_id})
    else:
        user = row.user
        if user is None or not user.active:
            return None
        providers = frozenset(p.id for p in user.funded)
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
    return Scope(token_id=row.id, role=row.role, provider_ids=providers)


def revoke(session: Session, token_id: int) -> models.ApiToken:
    """Revoke a token; revoking one already revoked changes nothing."""
    row = session.get(models.ApiToken, token_id)
    if row is None:
        raise TokenError(f"No API token {token_id} (see `tempcheck api tokens`)")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def tokens(session: Session) -> list[models.ApiToken]:
    """List every token, newest first."""
    return list(session.scalars(select(models.ApiToken).order_by(models.ApiToken.id.desc())))
