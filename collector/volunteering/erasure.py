"""Erasing volunteers' personal details: on request (`tempcheck volunteers erase ID`), and when
their provider's retention period has passed since they were last active.

Erasure clears every field of the volunteer that identifies them or reaches them (name, email,
consents and their date, preferred channel), deletes the Telegram chats with them, blanks the
address and the data (their name, the placement) of every message to them in the outbox,
cancelling those not sent, and deletes their free-text answers (where people write names and
circumstances). It keeps the row, their placements, enquiries, invitations and choice answers,
whose responses carry the district copied when they started: so every KPI stays as it was.

The centre's own reference stays: it names no one in tempcheck, and it is what stops an import
from the centre's records bringing the person back (an erased reference is refused). The
volunteer's district stays too: it is a segment (a whole local authority district, the same the
responses keep), not something that picks out one person, and clearing it would move them in
the report's response rates by district.

**Last activity** (what the retention period counts from) is the latest of: when the volunteer
was recorded, when they gave consent, their enquiries, their placements' start and end dates,
and their follow-up answers. A volunteer with an active placement is never erased by the
sweep: the centre still works with them (end the placement first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from collector import audit, localtime, models
from collector.erasure import ERASED, delete_free_text, register, scrub_messages
from collector.models import utcnow

__all__ = ["ERASED", "Erased", "erase_volunteer", "erased_count", "expired_query", "sweep"]
# Who did it, as the audit log shows it, when the retention sweep erases someone.
SWEEP_ACTOR = "retention period (dispatcher)"


@dataclass
class Erased:
    """What erasing one volunteer did."""

    volunteer_id: int
    chats: int = 0  # Telegram chats deleted (or unlinked, when a staff user or group uses them)
    messages: int = 0  # outbox messages scrubbed
    cancelled: int = 0  # of which were not yet sent
    answers: int = 0  # free-text answers deleted


def erase_volunteer(
    session: Session, volunteer: models.Volunteer, *, now: datetime | None = None
) -> Erased:
    """Erase a volunteer's personal details, keeping their anonymous answers; the caller commits.

    Erasing an erased volunteer again does no harm (and finds nothing left to clear).
    """
    now = now or utcnow()
    done = Erased(volunteer_id=volunteer.id)
    invitation_ids = list(
        session.scalars(
            select(models.Invitation.id).where(models.Invitation.volunteer_id == volunteer.id)
        )
    )
    chats = list(
        session.scalars(
            select(models.TelegramChat).where(
                or_(
                    models.TelegramChat.volunteer_id == volunteer.id,
                    models.TelegramChat.invitation_id.in_(invitation_ids),
                )
            )
        )
    )
    addresses = {str(chat.chat_id) for chat in chats}
    if volunteer.contact_email:
        addresses.add(volunteer.contact_email)
    done.messages, done.cancelled = scrub_messages(
        session, invitation_ids, addresses, "The volunteer's details were erased"
    )
    for chat in chats:
        if chat.user_id is not None or chat.organisation_id is not None:
            # Also a staff member's or a group's chat: only the volunteer's part goes.
            if chat.volunteer_id == volunteer.id:
                chat.volunteer_id = None
            if chat.invitation_id in invitation_ids:
                chat.invitation_id = None
        else:
            session.delete(chat)
        done.chats += 1
    done.answers = delete_free_text(session, invitation_ids)
    volunteer.name = None
    volunteer.contact_email = None
    volunteer.consent = False
    volunteer.consent_at = None
    volunteer.consent_email = False
    volunteer.consent_telegram = False
    volunteer.preferred_channel = None
    if volunteer.erased_at is None:
        volunteer.erased_at = now
    session.flush()
    register(session, "volunteer", volunteer.id, now=volunteer.erased_at)
    return done


def expired_query(provider: models.Provider, *, now: datetime) -> Select[models.Volunteer]:
    """Build the SELECT of a provider's volunteers not erased and inactive for longer than its
    retention period."""
    cutoff = now - timedelta(days=provider.volunteer_retention_days)
    cutoff_day = localtime.uk(cutoff).date()
    vol, enquiry, placement = models.Volunteer, models.Enquiry, models.Placement
    inv, resp = models.Invitation, models.Response
    return (
        select(vol)
        .where(
            vol.provider_id == provider.id,
            vol.erased_at.is_(None),
            vol.created_at < cutoff,
            or_(vol.consent_at.is_(None), vol.consent_at < cutoff),
            ~exists().where(enquiry.volunteer_id == vol.id, enquiry.enquired_on >= cutoff_day),
            ~exists().where(
                placement.volunteer_id == vol.id,
                or_(
                    placement.status == "active",
                    placement.starts_on >= cutoff_day,
                    placement.ended_on >= cutoff_day,
                ),
            ),
            ~exists().where(
                inv.volunteer_id == vol.id,
                resp.invitation_id == inv.id,
                resp.updated_at >= cutoff,
            ),
        )
        .order_by(vol.id)
    )


def sweep(session: Session, *, now: datetime | None = None, actor: str = SWEEP_ACTOR) -> int:
    """Erase every volunteer past their provider's retention period; give how many.

    Each erasure is audited by id (no names). The caller commits.
    """
    now = now or utcnow()
    erased = 0
    providers = session.scalars(
        select(models.Provider).where(
            exists().where(
                models.Volunteer.provider_id == models.Provider.id,
                models.Volunteer.erased_at.is_(None),
            )
        )
    ).all()
    for provider in providers:
        for volunteer in session.scalars(expired_query(provider, now=now)).all():
            done = erase_volunteer(session, volunteer, now=now)
            audit.record(
                session,
                "volunteer.erase",
                actor=actor,
                provider_id=provider.id,
                subject=f"volunteer {volunteer.id}",
                details={
                    "reason": "retention",
                    "retention_days": provider.volunteer_retention_days,
                    "chats": done.chats,
                    "messages": done.messages,
                },
            )
            erased += 1
    return erased


def erased_count(session: Session, provider_id: int | None = None) -> int:
    """Count erased volunteers (of one provider, or all)."""
    query = select(func.count(models.Volunteer.id)).where(models.Volunteer.erased_at.is_not(None))
    if provider_id is not None:
        query = query.where(models.Volunteer.provider_id == provider_id)
    return int(session.scalar(query) or 0)
