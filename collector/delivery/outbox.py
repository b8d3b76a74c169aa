"""The outbox: every outgoing message is a row first, then a dispatcher delivers it.

`enqueue` stores a message once per dedupe key (queueing it again does nothing), so opening a
round twice, or a reminder run that is repeated after a crash, never sends twice.

A message goes pending -> sending (claimed by one dispatcher until a time) -> sent, or back to
pending with a later attempt time after a temporary failure, or failed (given up: a permanent
error, or too many attempts; staff may retry it), or cancelled (no longer wanted: the round
closed; the group or volunteer opted out, answered, was erased or can no longer be reached on
the channel; the chat sent /stop or blocked the bot; a report notice's funder account or report
is gone), either at once by the change that makes it unwanted or by the dispatcher's check
just before sending.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session

from collector import models
from collector.db import upsert
from collector.models import utcnow

CHANNELS = ("email", "telegram", "webhook")
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
    return upsert(session, models.OutboxMessage, values, ["dedupe_key"])


def message_by_key(session: Session, dedupe_key: str) -> models.OutboxMessage | None:
    """Find a queued message by its dedupe key."""
    return session.scalar(
        select(models.OutboxMessage).where(models.OutboxMessage.dedupe_key == dedupe_key)
    )


# Delivering ---------------------------------------------------------------------------------
#
# A dispatcher claims due rows (committing the claim), delivers each outside any transaction,
# then records each result at once in a short transaction of its own. Every record is a
# conditional UPDATE on the row still being claimed by this worker: a dispatcher whose claim
# expired (it hung, or was thought dead) and was taken over learns that it lost the row
# rather than overwriting the other's result.

# Back-off after a temporary failure: 1 minute, doubling with each attempt, at most an hour.
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MOST = timedelta(hours=1)
ERROR_LENGTH = 500


class DeliveryError(Exception):
    """A transport could not deliver a message; `permanent` says trying again will not help.

    Permanent: the address is refused, the message cannot be built. Temporary: the server is
    unreachable or busy. `unreachable` (with permanent) says the recipient's address itself is
    dead (a Telegram chat that blocked the bot), so the contact is marked and not tried again.
    The text is stored and shown to staff, so it holds no address.
    """

    def __init__(self, message: str, *, permanent: bool, unreachable: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unreachable = unreachable and permanent


@dataclass(frozen=True)
class Outgoing:
    """A claimed message as plain values: what a transport needs, with no database behind it."""

    id: int
    dedupe_key: str
    channel: str
    recipient: str
    template: str
    data: dict[str, Any]
    attempts: int
    claimed_until: datetime
    provider_id: int | None = None
    round_id: int | None = None
    invitation_id: int | None = None


def _due(now: datetime) -> Any:
    message = models.OutboxMessage
    return or_(
        and_(message.status == "pending", message.next_attempt_at <= now),
        # A dispatcher that claimed these died (or hung) before recording a result.
        and_(message.status == "sending", message.claimed_until < now),
    )


def claim(
    session: Session,
    worker: str,
    *,
    limit: int,
    now: datetime | None = None,
    claim_seconds: int,
    channels: Collection[str] | None = None,
    max_attempts: int | None = None,
) -> list[Outgoing]:
    """Take up to `limit` due messages for `worker` (oldest due first) and give them.

    Due: pending and past their next attempt time, or sending under a claim that has expired.
    Only the given `channels`, when given. On PostgreSQL the rows are locked with SKIP LOCKED,
    so several dispatchers each take different rows; on SQLite the transaction already holds
    the write lock. The caller commits before delivering.

    With `max_attempts`, an expired claim that has used up its attempts is given up (status
    failed) rather than taken again, so a message that kills its dispatcher cannot loop.
    """
    now = now or utcnow()
    message = models.OutboxMessage
    query = select(message.id, message.status, message.attempts).where(_due(now))
    if channels is not None:
        query = query.where(message.channel.in_(list(channels)))
    rows = session.execute(
        query.order_by(message.next_attempt_at, message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    given_up = [
        row.id
        for row in rows
        if max_attempts is not None and row.status == "sending" and row.attempts >= max_attempts
    ]
    if given_up:
        session.execute(
            update(message)
            .where(message.id.in_(given_up))
            .values(
                status="failed",
                claimed_until=None,
                failed_at=now,
                last_error=f"Gave up after {max_attempts} attempts: the dispatcher stopped "
                "while sending (it may have been delivered)",
            )
            .execution_options(synchronize_session=False)
        )
    ids = [row.id for row in rows if row.id not in given_up]
    if not ids:
        return []
    until = now + timedelta(seconds=claim_seconds)
    session.execute(
        update(message)
        .where(message.id.in_(ids))
        .values(
            status="sending",
            claimed_by=worker,
            claimed_until=until,
            attempts=message.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = session.scalars(
        select(message)
        .where(message.id.in_(ids))
        .order_by(message.next_attempt_at, message.id)
        .execution_options(populate_existing=True)
    ).all()
    return [
        Outgoing(
            id=m.id,
            dedupe_key=m.dedupe_key,
            channel=m.channel,
            recipient=m.recipient,
            template=m.template,
            data=dict(m.data or {}),
            attempts=m.attempts,
            claimed_until=until,
            provider_id=m.provider_id,
            round_id=m.round_id,
            invitation_id=m.invitation_id,
        )
        for m in claimed
    ]


def _record(session: Session, message_id: int, worker: str, **values: Any) -> bool:
    """Change a message this worker holds; give False when it no longer holds it."""
    message = models.OutboxMessage
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(message)
        .where(
            message.id == message_id,
            message.claimed_by == worker,
            message.status == "sending",
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def mark_sent(
    session: Session, message_id: int, worker: str, *, now: datetime | None = None
) -> bool:
    """Record a delivered message; give False when the worker had lost its claim on it.

    `claimed_by` is kept: it says which dispatcher sent the message.
    """
    return _record(
        session,
        message_id,
        worker,
        status="sent",
        sent_at=now or utcnow(),
        claimed_until=None,
        last_error=None,
    )


def backoff(attempts: int) -> timedelta:
    """Give how long to wait before trying again after `attempts` failed attempts."""
    wait = BACKOFF_FIRST * 2 ** max(attempts - 1, 0)
    return min(wait, BACKOFF_MOST)


def mark_failed(
    session: Session,
    message_id: int,
    worker: str,
    error: str,
    *,
    permanent: bool,
    max_attempts: int,
    now: datetime | None = None,
) -> str | None:
    """Record a failed attempt: try again later, or give up (permanent, or out of attempts).

    Give the message's new status (pending or failed), or None when the worker had lost its
    claim on it.
    """
    now = now or utcnow()
    message = session.get(models.OutboxMessage, message_id, populate_existing=True)
    if message is None or message.claimed_by != worker or message.status != "sending":
        return None
    error = error[:ERROR_LENGTH]
    if permanent or message.attempts >= max_attempts:
        status = "failed"
        if not permanent:
            error = f"Gave up after {message.attempts} attempts: {error}"[:ERROR_LENGTH]
        values: dict[str, Any] = {
            "status": status,
            "claimed_until": None,
            "last_error": error,
            "failed_at": now,
        }
    else:
        status = "pending"
        values = {
            "status": status,
            "claimed_by": None,
            "claimed_until": None,
            "last_error": error,
            "next_attempt_at": now + backoff(message.attempts),
        }
    return status if _record(session, message_id, worker, **values) else None


def cancel(session: Session, message_id: int, worker: str, reason: str) -> bool:
    """Cancel a claimed message that is no longer wanted; give False when the claim was lost."""
    return _record(
        session,
        message_id,
        worker,
        status="cancelled",
        claimed_until=None,
        last_error=reason[:ERROR_LENGTH],
    )


def readdress(session: Session, message_id: int, worker: str, recipient: str) -> bool:
    """Send a claimed message to a new address (the recipient's contact changed)."""
    return _record(session, message_id, worker, recipient=recipient)


def release(session: Session, worker: str, message_ids: Collection[int]) -> int:
    """Give claimed messages back unsent (the dispatcher is stopping); give how many.

    The attempt they were claimed for did not happen, so it is not counted.
    """
    if not message_ids:
        return 0
    message = models.OutboxMessage
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(message)
        .where(
            message.id.in_(list(message_ids)),
            message.claimed_by == worker,
            message.status == "sending",
        )
        .values(
            status="pending",
            claimed_by=None,
            claimed_until=None,
            attempts=message.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def extend_claims(session: Session, worker: str, until: datetime) -> int:
    """Hold every message `worker` is sending until `until` (its heartbeat); give how many."""
    message = models.OutboxMessage
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(message)
        .where(message.claimed_by == worker, message.status == "sending")
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def expire_claims(session: Session, worker: str, *, now: datetime | None = None) -> int:
    """End the claims still held under `worker`'s name by an earlier run of it; give how many.

    A dispatcher starting under a name no running dispatcher has (the default, host:pid, or a
    `--name` of its own) knows that messages claimed under that name were left by a run that
    died: they become due at once instead of when the claim would have run out. They are taken
    again as after any expired claim (the attempt counted, `max_attempts` applying), so the one
    that was being sent when the run died may go out twice, and the rest of its batch once.
    """
    message = models.OutboxMessage
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(message)
        .where(message.claimed_by == worker, message.status == "sending")
        .values(claimed_until=(now or utcnow()) - timedelta(microseconds=1))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


# For staff and operators ----------------------------------------------------------------------


def retry(
    session: Session,
    message_ids: Collection[int],
    *,
    provider_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Try failed messages again now, with a fresh set of attempts; give how many.

    With `provider_id`, only that provider's messages (a staff member's own).
    """
    if not message_ids:
        return 0
    message = models.OutboxMessage
    statement = update(message).where(message.id.in_(list(message_ids)), message.status == "failed")
    if provider_id is not None:
        statement = statement.where(message.provider_id == provider_id)
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        statement.values(
            status="pending",
            attempts=0,
            next_attempt_at=now or utcnow(),
            claimed_by=None,
            claimed_until=None,
        ).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def counts(
    session: Session, *, provider_id: int | None = None, round_id: int | None = None
) -> dict[str, int]:
    """Count messages by status (every status, zeros included)."""
    message = models.OutboxMessage
    query = select(message.status, func.count(message.id)).group_by(message.status)
    if provider_id is not None:
        query = query.where(message.provider_id == provider_id)
    if round_id is not None:
        query = query.where(message.round_id == round_id)
    found = {status: 0 for status in STATUSES}
    for status, count in session.execute(query).all():
        found[status] = int(count)
    return found


def failures(
    session: Session, *, provider_id: int | None = None, limit: int = 200
) -> list[models.OutboxMessage]:
    """List messages given up on, newest first, optionally only one provider's."""
    message = models.OutboxMessage
    query = (
        select(message)
        .where(message.status == "failed")
        .order_by(message.next_attempt_at.desc(), message.id.desc())
        .limit(limit)
    )
    if provider_id is not None:
        query = query.where(message.provider_id == provider_id)
    return list(session.scalars(query))


def due_without_transport(
    session: Session, channels: Collection[str], *, now: datetime | None = None
) -> dict[str, int]:
    """Count due messages on channels other than `channels` (nothing here can send them)."""
    message = models.OutboxMessage
    rows = session.execute(
        select(message.channel, func.count(message.id))
        .where(_due(now or utcnow()), message.channel.not_in(list(channels)))
        .group_by(message.channel)
    ).all()
    return {channel: int(count) for channel, count in rows}


def cancel_unsent_invitations(session: Session, invited: Any, reason: str) -> int:
    """Cancel the messages not yet sent for some invitations (a `models.Invitation` condition,
    such as `Invitation.contact_id == 7`), because their recipient opted out; give how many."""
    message, invitation = models.OutboxMessage, models.Invitation
    result: Any = session.execute(
        update(message)
        .where(
            message.status == "pending",
            message.invitation_id.in_(select(invitation.id).where(invited)),
        )
        .values(status="cancelled", last_error=reason)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount or 0)
