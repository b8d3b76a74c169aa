"""Telegram chats: which survey a chat is answering, whom it is linked to, and whether it may be
messaged. The bot keeps no state of its own: everything it needs between updates is here or in
the response of the invitation the chat is answering.

Nothing here talks to Telegram; `bot/` does, and calls these inside its database sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from collector import models
from collector.config import Settings
from collector.delivery import outbox
from collector.models import utcnow

# A staff member's or funder's code to link a chat: 8 characters of an alphabet without look-
# alikes (40 bits), good for 15 minutes and once. Guessing is also slowed by the bot's rate limit.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_LENGTH = 8
CODE_LIFETIME = timedelta(minutes=15)
# The outbox template of the one line a chat gets when its survey was sent from elsewhere.
FINISHED_ELSEWHERE = "finished_elsewhere"


def deep_link(username: str, token: str) -> str:
    """Give the t.me link that opens the bot and sends it `/start <token>`."""
    return f"https://t.me/{username.lstrip('@')}?start={token}"


def telegram_link(settings: Settings, token: str) -> str | None:
    """Give an invitation's deep link, where the bot is configured (TELEGRAM_BOT_USERNAME);
    None where it is not, and then nothing offers "answer in Telegram instead"."""
    username = (settings.telegram_bot_username or "").lstrip("@")
    return deep_link(username, token) if username else None


def chat_for(session: Session, chat_id: int) -> models.TelegramChat | None:
    """Give the stored chat, or None when this chat has never been linked to anything."""
    return session.scalar(select(models.TelegramChat).where(models.TelegramChat.chat_id == chat_id))


def ensure_chat(session: Session, chat_id: int) -> models.TelegramChat:
    """Give the stored chat, creating it when new."""
    chat = chat_for(session, chat_id)
    if chat is None:
        chat = models.TelegramChat(chat_id=chat_id)
        session.add(chat)
        session.flush()
    return chat


def attach_invitation(
    session: Session, chat_id: int, invitation: models.Invitation
) -> models.TelegramChat:
    """Make `invitation` the survey this chat is answering now."""
    chat = ensure_chat(session, chat_id)
    chat.invitation_id = invitation.id
    chat.invitation = invitation
    session.flush()
    return chat


def open_invitations(
    session: Session, chat: models.TelegramChat, *, now: datetime | None = None
) -> list[models.Invitation]:
    """List the invitations the chat's group, volunteer or contact can answer now, newest
    first: their rounds are open and their responses not sent. None for a chat linked to
    no one."""
    inv, resp, round_ = models.Invitation, models.Response, models.Round
    whom = [
        column == value
        for column, value in (
            (inv.organisation_id, chat.organisation_id),
            (inv.volunteer_id, chat.volunteer_id),
            (inv.contact_id, chat.contact_id),
        )
        if value is not None
    ]
    if not whom:
        return []
    now = now or utcnow()
    found = session.scalars(
        select(inv)
        .join(round_, round_.id == inv.round_id)
        .outerjoin(resp, resp.invitation_id == inv.id)
        .where(or_(*whom))
        .where(round_.status == "open", round_.opens_at <= now, round_.closes_at > now)
        .where(or_(resp.id.is_(None), resp.status != "completed"))
        .order_by(round_.opens_at.desc(), inv.id.desc())
    ).all()
    return [i for i in found if i.recipient is None or i.recipient.opted_out_at is None]


def tell_finished_elsewhere(session: Session, response: models.Response) -> int:
    """Queue one line ("finished on the web, thank you") to each chat that was answering
    this response and did not send it, so that its last question stops looking answerable.
    Once per chat and response, however often this is called; give how many were queued."""
    chats = session.scalars(
        select(models.TelegramChat).where(
            models.TelegramChat.invitation_id == response.invitation_id,
            models.TelegramChat.reachable,
        )
    ).all()
    queued = 0
    for chat in chats:
        queued += outbox.enqueue(
            session,
            # The chat's row, not its Telegram id: a key is not blanked when a person is erased.
            dedupe_key=f"finished:{response.id}:{chat.id}",
            channel="telegram",
            recipient=str(chat.chat_id),
            template=FINISHED_ELSEWHERE,
            data={
                "finished_channel": response.finished_channel or response.channel,
                "language": response.language,
            },
            provider_id=response.round.provider_id,
            round_id=response.round_id,
        )
    return queued


def _answering_for(
    chat: models.TelegramChat,
) -> models.Organisation | models.Volunteer | models.Contact | None:
    invitation = chat.invitation
    return invitation.recipient if invitation is not None else None


def link_recipient(
    session: Session, chat: models.TelegramChat, *, now: datetime | None = None
) -> models.Organisation | models.Volunteer | models.Contact | None:
    """Link the chat to the organisation, volunteer or contact of the invitation it answers, with
    their consent (given in the chat) to be sent future surveys there, which becomes their
    preferred channel. Give whom it linked."""
    recipient = _answering_for(chat)
    if recipient is None:
        return None
    if isinstance(recipient, models.Volunteer):
        chat.volunteer_id = recipient.id
    elif isinstance(recipient, models.Contact):
        chat.contact_id = recipient.id
    else:
        chat.organisation_id = recipient.id
    recipient.consent_telegram = True
    # Saying yes in the chat is the clearest word we have on where they want to be asked.
    recipient.preferred_channel = "telegram"
    chat.stopped_at = None
    chat.unreachable_at = None
    chat.updated_at = now or utcnow()
    session.flush()
    return recipient


def unlink_recipient(
    session: Session, chat: models.TelegramChat, *, now: datetime | None = None
) -> models.Organisation | models.Volunteer | models.Contact | None:
    """Record a "no" to future surveys in the chat: undo a "yes" given there before (a second
    press on the same question), so that the last answer wins. Give whom it concerned."""
    recipient = _answering_for(chat)
    if recipient is None:
        return None
    if isinstance(recipient, models.Volunteer):
        if chat.volunteer_id == recipient.id:
            chat.volunteer_id = None
    elif isinstance(recipient, models.Contact):
        if chat.contact_id == recipient.id:
            chat.contact_id = None
    elif chat.organisation_id == recipient.id:
        chat.organisation_id = None
    recipient.consent_telegram = False
    if recipient.preferred_channel == "telegram":
        recipient.preferred_channel = None
    chat.updated_at = now or utcnow()
    session.flush()
    return recipient


def stop(session: Session, chat_id: int, *, now: datetime | None = None) -> int:
    """Opt this chat out of Telegram invitations (`/stop`); give how many pending messages to
    it were cancelled. Its answers and links to staff accounts stay."""
    now = now or utcnow()
    chat = ensure_chat(session, chat_id)
    chat.stopped_at = now
    return _cancel_pending(session, chat_id, "The chat asked for no more messages (/stop)")


def mark_unreachable(
    session: Session, channel: str, address: str, *, now: datetime | None = None
) -> int:
    """Record that Telegram refuses messages to a chat (bot blocked, chat gone), so it is not
    tried again; give how many other pending messages to it were cancelled. Not for email."""
    if channel != "telegram":
        return 0
    try:
        chat_id = int(address)
    except ValueError:
        return 0
    chat = chat_for(session, chat_id)
    if chat is not None and chat.unreachable_at is None:
        chat.unreachable_at = now or utcnow()
    return _cancel_pending(session, chat_id, "Telegram said this chat cannot be reached")


def _cancel_pending(session: Session, chat_id: int, reason: str) -> int:
    message = models.OutboxMessage
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(message)
        .where(
            message.channel == "telegram",
            message.recipient == str(chat_id),
            message.status == "pending",
        )
        .values(status="cancelled", last_error=reason)
    )
    session.flush()
    return int(result.rowcount or 0)


# Staff and funders --------------------------------------------------------------------------


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def new_link_code(session: Session, user: models.User, *, now: datetime | None = None) -> str:
    """Give a new one-time code that links a Telegram chat to `user` (any older one stops
    working). Only its hash is stored."""
    now = now or utcnow()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    user.telegram_code_hash = _code_hash(code)
    user.telegram_code_expires_at = now + CODE_LIFETIME
    session.flush()
    return code


def redeem_link_code(
    session: Session, chat_id: int, code: str, *, now: datetime | None = None
) -> models.User | None:
    """Link the chat to the active user whose unexpired code this is, and use the code up.
    Give the user, or None for a wrong, used or expired code."""
    now = now or utcnow()
    if not code or len(code.strip()) != CODE_LENGTH:
        return None
    user = session.scalar(
        select(models.User).where(models.User.telegram_code_hash == _code_hash(code))
    )
    if (
        user is None
        or not user.active
        or user.telegram_code_expires_at is None
        or user.telegram_code_expires_at < now
    ):
        return None
    user.telegram_code_hash = None
    user.telegram_code_expires_at = None
    # One chat per user: a new link replaces the old one.
    session.execute(
        update(models.TelegramChat)
        .where(models.TelegramChat.user_id == user.id, models.TelegramChat.chat_id != chat_id)
        .values(user_id=None)
    )
    chat = ensure_chat(session, chat_id)
    chat.user_id = user.id
    session.flush()
    return user


def user_for_chat(session: Session, chat_id: int) -> models.User | None:
    """Give the active staff member, admin or funder linked to this chat, if any."""
    chat = chat_for(session, chat_id)
    if chat is None or chat.user is None or not chat.user.active:
        return None
    return chat.user
