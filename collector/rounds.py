"""Rounds and invitations: one survey sent to an audience of a provider's organisations."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, CursorResult, and_, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from collector import models
from collector.delivery import outbox, webhooks
from collector.errors import CollectorError, NotFound
from collector.localtime import date_time, long_date
from collector.models import utcnow
from collector.segments import CONTACT_AUDIENCES

# 24 random bytes: 192 bits, well past the 128 the design asks for; 32 URL-safe characters.
TOKEN_BYTES = 24
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")
AUDIENCE_KEYS = ("org_type", "income_band", "district", "outcomes", "is_member", "contacts")
# A round asks either groups, filtered by their segments, or contacts, by audience (`contacts`:
# partner, commissioner, representative; see collector.contacts).
CONTACTS = "contacts"


class RoundError(CollectorError):
    """A round cannot be created or changed as asked; `field` names the detail at fault
    (`period_label`, `closes`, `channels`, `reminders` or `audience`) where there is one."""

    code = "bad_round"

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field


class TooSoon(RoundError):
    """A reminder asked for too soon after the last invitation or reminder to the same people."""

    code = "too_soon"
    status = 409

    def __init__(self, message: str, *, last_sent: datetime, waiting: timedelta) -> None:
        super().__init__(message)
        self.last_sent = last_sent
        self.waiting = waiting


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
    channels: Sequence[str] = ("email",),
    reminder_days: Sequence[int] = (),
) -> models.Round:
    """Create a draft round of `survey` for `provider`; nothing is sent yet.

    `reminder_days` schedules reminders to non-responders that many days after the round opens.
    """
    if closes_at <= opens_at:
        raise RoundError("The close date must be after the open date", field="closes")
    unknown_channels = set(channels) - set(outbox.CHANNELS)
    if unknown_channels:
        raise RoundError(
            f"Unknown channel: {', '.join(sorted(unknown_channels))}", field="channels"
        )
    reminders = []
    for days in sorted(set(reminder_days)):
        if not reminder_in_round(opens_at, closes_at, days):
            raise RoundError(
                f"A reminder {days} days after opening is not between the open and close dates",
                field="reminders",
            )
        due = opens_at + timedelta(days=days)
        reminders.append(models.RoundReminder(due_at=due, kind="scheduled"))
    unknown = set(audience or {}) - set(AUDIENCE_KEYS)
    if unknown:
        raise RoundError(f"Unknown audience filter: {', '.join(sorted(unknown))}", field="audience")
    check_contact_audience(audience or {})
    if not period_label.strip():
        raise RoundError("Give the round a period label, like 2026/27 H1", field="period_label")
    round_ = models.Round(
        provider=provider,
        survey=survey,
        period_label=period_label.strip(),
        slug=secrets.token_urlsafe(9),
        opens_at=opens_at,
        closes_at=closes_at,
        audience={k: list(v) for k, v in (audience or {}).items()},
        open_link=open_link,
        channels=list(dict.fromkeys(channels)),
        status="draft",
        reminders=reminders,
    )
    session.add(round_)
    session.flush()
    return round_


def check_contact_audience(audience: Mapping[str, Sequence[Any]]) -> None:
    """Refuse a contacts round with unknown audiences, none, or group filters beside them."""
    if CONTACTS not in audience:
        return
    wanted = list(audience[CONTACTS])
    unknown = [str(v) for v in wanted if v not in CONTACT_AUDIENCES]
    if unknown or not wanted:
        raise RoundError(
            f"Unknown contact audience: {', '.join(unknown) or 'none given'} "
            f"(use: {', '.join(CONTACT_AUDIENCES)})",
            field="audience",
        )
    others = sorted(k for k, v in audience.items() if k != CONTACTS and v)
    if others:
        raise RoundError(
            "A round asks either groups or contacts: "
            f"leave out {', '.join(others)} in a round of contacts",
            field="audience",
        )


def asks_contacts(round_: models.Round) -> bool:
    """Tell whether a round asks contacts (partners, commissioners, representatives)."""
    return bool((round_.audience or {}).get(CONTACTS))


def reminder_in_round(opens_at: datetime, closes_at: datetime, days: int) -> bool:
    """Tell whether a reminder `days` days after a round opens falls while it is open."""
    return days >= 1 and opens_at + timedelta(days=days) < closes_at


def audience_query(round_: models.Round) -> Any:
    """Build the SELECT of organisations a round is sent to: its filter, minus the opted out;
    or, for a round of contacts, of the contacts of its audiences, minus the opted out and
    erased."""
    if asks_contacts(round_):
        con = models.Contact
        return (
            select(con)
            .where(
                con.provider_id == round_.provider_id,
                con.audience.in_(list(round_.audience[CONTACTS])),
                con.opted_out_at.is_(None),
                con.erased_at.is_(None),
            )
            .order_by(con.id)
        )
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


@dataclass(frozen=True)
class Overlap:
    """An open round of the same survey that already reaches some of a new round's groups."""

    round_id: int
    period_label: str
    survey_title: str
    closes_at: datetime
    groups: int  # how many of the new round's groups it invited

    def describe(self) -> str:
        """Say it in a sentence, for staff deciding whether to go ahead."""
        return (
            f"Round {self.round_id} ({self.period_label}) of {self.survey_title} is open until "
            f"{long_date(self.closes_at)} and already invited {self.groups} of these groups: "
            f"{'they' if self.groups != 1 else 'it'} "
            "would get a second invitation with the same subject."
        )


def overlapping_rounds(
    session: Session,
    *,
    provider_id: int,
    survey_slug: str,
    audience: Mapping[str, Sequence[Any]] | None,
    opens_at: datetime,
) -> list[Overlap]:
    """List the provider's open rounds of the same survey (any version), still open when a new
    round for `audience` would open, that invited some of the groups it matches."""
    new = models.Round(
        provider_id=provider_id, audience={k: list(v) for k, v in (audience or {}).items()}
    )
    recipient = models.Contact if asks_contacts(new) else models.Organisation
    matching = audience_query(new).with_only_columns(recipient.id).order_by(None)
    rnd, inv, survey = models.Round, models.Invitation, models.Survey
    invited = inv.contact_id if asks_contacts(new) else inv.organisation_id
    rows = session.execute(
        select(rnd.id, rnd.period_label, survey.title, rnd.closes_at, func.count(inv.id))
        .join(survey, survey.id == rnd.survey_id)
        .join(inv, inv.round_id == rnd.id)
        .where(
            rnd.provider_id == provider_id,
            rnd.status == "open",
            rnd.closes_at > opens_at,
            survey.slug == survey_slug,
            invited.in_(matching),
        )
        .group_by(rnd.id, rnd.period_label, survey.title, rnd.closes_at)
        .order_by(rnd.id)
    ).all()
    return [Overlap(*row[:4], groups=int(row[4])) for row in rows]


def open_round(session: Session, round_: models.Round, *, now: datetime | None = None) -> int:
    """Open a draft round: freeze its survey, create one invitation per recipient, and queue
    the invitation messages (sent from the open date). Give the number of invitations."""
    if round_.status != "draft":
        raise RoundError(f"Round {round_.id} is {round_.status}, not a draft")
    now = now or utcnow()
    if round_.closes_at <= now:
        raise RoundError("The close date has passed: change it before opening the round")
    if round_.survey.frozen_at is None:
        round_.survey.frozen_at = now
    recipients = session.scalars(audience_query(round_)).all()
    if asks_contacts(round_):
        invitations = [
            models.Invitation(round=round_, contact=contact, token=new_token())
            for contact in recipients
        ]
    else:
        invitations = [
            models.Invitation(round=round_, organisation=organisation, token=new_token())
            for organisation in recipients
        ]
    session.add_all(invitations)
    round_.status = "open"
    round_.opened_at = now
    session.flush()
    for invitation in invitations:
        _queue(session, round_, invitation, "invite", f"invite:{invitation.id}", now)
    return len(recipients)


def remind(
    session: Session,
    round_: models.Round,
    *,
    reminder: models.RoundReminder | None = None,
    now: datetime | None = None,
    min_interval: timedelta | None = None,
) -> int:
    """Queue a reminder to every invited organisation that has not completed; give how many.

    Without `reminder`, this is a reminder sent now by hand. With `min_interval`, a reminder
    by hand less than that long after the last invitation or reminder to those it would
    reach is refused (TooSoon, which says when that was); staff who mean it leave it out.
    """
    if round_.status != "open":
        raise RoundError(f"Round {round_.id} is {round_.status}: only an open round is reminded")
    now = now or utcnow()
    if now < round_.opens_at:
        # Its invitations have not gone out yet: a reminder would arrive with them.
        raise RoundError(
            f"Round {round_.id} opens on {long_date(round_.opens_at)}: nobody has been invited yet"
        )
    if reminder is None and min_interval is not None:
        check_reminder_interval(session, round_, min_interval, now=now)
    if reminder is None:
        reminder = models.RoundReminder(round=round_, due_at=now, kind="manual")
        session.add(reminder)
        session.flush()
    queued = 0
    for invitation in session.scalars(non_responders_query(round_)):
        key = f"remind:{reminder.id}:{invitation.id}"
        queued += _queue(session, round_, invitation, "reminder", key, now)
    reminder.queued_at = now
    reminder.queued = queued
    return queued


def last_contact(session: Session, round_: models.Round) -> datetime | None:
    """Give when the last invitation or reminder of a round to anyone who has not completed
    went out (sent, or queued to go), or None when none has."""
    message = models.OutboxMessage
    waiting = non_responders_query(round_).with_only_columns(models.Invitation.id).order_by(None)
    return session.scalar(
        select(func.max(func.coalesce(message.sent_at, message.created_at))).where(
            message.round_id == round_.id,
            message.template.in_(("invite", "reminder")),
            message.status.in_(("pending", "sending", "sent")),
            message.invitation_id.in_(waiting),
        )
    )


def check_reminder_interval(
    session: Session, round_: models.Round, min_interval: timedelta, *, now: datetime | None = None
) -> None:
    """Refuse (TooSoon) a reminder less than `min_interval` after the last invitation or
    reminder to those it would reach, saying when that went out."""
    now = now or utcnow()
    last = last_contact(session, round_)
    if last is None or now - last >= min_interval:
        return
    raise TooSoon(
        "The last invitation or reminder to those who have not answered went out "
        f"{_ago(now - last)} ({date_time(last)} UK time): reminders are kept at least "
        f"{_ago(min_interval, False)} apart.",
        last_sent=last,
        waiting=min_interval - (now - last),
    )


def _ago(span: timedelta, ago: bool = True) -> str:
    """Say a span of time in its largest unit that measures it whole, or (`ago`) roughly in
    its largest unit: 26 seconds ago, 3 hours ago; 1 day, 36 hours."""
    seconds = max(int(span.total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if (seconds >= size and (ago or seconds % size == 0)) or unit == "second":
            count = seconds // size
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"{text} ago" if ago else text
    raise AssertionError("unreachable")


def non_responders_query(round_: models.Round) -> Any:
    """Build the SELECT of a round's invitations not yet completed, leaving out opted-out
    groups, volunteers and contacts (and invitations with none, from an open link)."""
    inv, resp, org, vol, con = (
        models.Invitation,
        models.Response,
        models.Organisation,
        models.Volunteer,
        models.Contact,
    )
    return (
        select(inv)
        .outerjoin(org, org.id == inv.organisation_id)
        .outerjoin(vol, vol.id == inv.volunteer_id)
        .outerjoin(con, con.id == inv.contact_id)
        .outerjoin(resp, resp.invitation_id == inv.id)
        .where(
            inv.round_id == round_.id,
            or_(org.id.is_not(None), vol.id.is_not(None), con.id.is_not(None)),
        )
        .where(org.opted_out_at.is_(None), vol.opted_out_at.is_(None), con.opted_out_at.is_(None))
        .where(or_(resp.id.is_(None), resp.status != "completed"))
        .order_by(inv.id)
    )


def _queue(
    session: Session,
    round_: models.Round,
    invitation: models.Invitation,
    template: str,
    key: str,
    now: datetime,
) -> int:
    """Queue one invitation's message on the channel its recipient prefers (of the round's
    channels it can be reached on); give 1 when queued, 0 when it cannot be reached."""
    recipient = invitation.recipient
    if recipient is None or recipient.opted_out_at is not None:
        return 0
    reach = choose_channel(recipient, round_.channels)
    if reach is None:
        return 0
    channel, address = reach
    return outbox.enqueue(
        session,
        dedupe_key=f"{key}:{channel}",
        channel=channel,
        recipient=address,
        template=template,
        data=message_data(round_, invitation),
        not_before=max(now, round_.opens_at),
        provider_id=round_.provider_id,
        round_id=round_.id,
        invitation_id=invitation.id,
    )


def queue_message(
    session: Session,
    round_: models.Round,
    invitation: models.Invitation,
    template: str,
    key: str,
    now: datetime,
) -> int:
    """Queue an invitation's message (template "invite" or "reminder") under a dedupe key;
    give 1 when queued, 0 when its recipient cannot be reached or it is queued already."""
    return _queue(session, round_, invitation, template, key, now)


Recipient = models.Organisation | models.Volunteer | models.Contact


def choose_channel(recipient: Recipient, channels: Sequence[str]) -> tuple[str, str] | None:
    """Give the channel and address to reach a recipient on, of `channels`: its preferred
    channel when it can be reached there, else the first that reaches it; None if none does."""
    order = list(channels)
    preferred = recipient.preferred_channel
    if preferred in order:
        order.remove(preferred)
        order.insert(0, preferred)
    for channel in order:
        address = contact_address(recipient, channel)
        if address is not None:
            return channel, address
    return None


# Who can be reached on a channel is said twice, in one place: `contact_address` for a loaded
# recipient (the dispatcher, opening a round) and `reachable_on` for a query (the console's
# count of whom a round would reach). tests/collector/test_rounds.py keeps the two in step.


def contact_address(recipient: Recipient, channel: str) -> str | None:
    """Give where to reach an organisation, volunteer or contact on a channel, if it has agreed
    to be reached there: an email address, or a Telegram chat id (the newest reachable linked
    chat)."""
    if not isinstance(recipient, models.Organisation) and recipient.erased_at is not None:
        return None
    if channel == "email" and recipient.consent_email and recipient.contact_email:
        return recipient.contact_email
    if channel == "telegram" and recipient.consent_telegram:
        chats = [chat for chat in recipient.telegram_chats if chat.reachable]
        if chats:
            return str(chats[-1].chat_id)
    return None


def reachable_on(
    kind: type[models.Organisation] | type[models.Volunteer] | type[models.Contact], channel: str
) -> ColumnElement[bool]:
    """Give the SQL condition that holds where `contact_address` gives an address."""
    chat = models.TelegramChat
    not_erased: ColumnElement[bool] = true()
    if kind is models.Volunteer or kind is models.Contact:
        not_erased = kind.erased_at.is_(None)
    if channel == "email":
        on_channel = and_(
            kind.consent_email.is_(True),
            kind.contact_email.is_not(None),
            kind.contact_email != "",
        )
    elif channel == "telegram":
        owner = {
            models.Volunteer: chat.volunteer_id,
            models.Contact: chat.contact_id,
        }.get(kind, chat.organisation_id)
        on_channel = and_(
            kind.consent_telegram.is_(True),
            select(chat.id).where(owner == kind.id, chat.reachable).exists(),
        )
    else:
        on_channel = false()
    return and_(not_erased, on_channel)


class Reach(NamedTuple):
    """How many organisations an audience filter matches, and how many each channel reaches."""

    total: int
    email: int
    telegram: int


def reach(session: Session, round_: models.Round) -> Reach:
    """Count the organisations a round's audience matches, and how many each channel reaches.

    The round need not be in the session: only its provider and filter are used.
    """
    query = audience_query(round_)

    def count(selection: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(selection.subquery())) or 0)

    kind = models.Contact if asks_contacts(round_) else models.Organisation
    return Reach(
        total=count(query),
        email=count(query.where(reachable_on(kind, "email"))),
        telegram=count(query.where(reachable_on(kind, "telegram"))),
    )


def message_data(round_: models.Round, invitation: models.Invitation) -> dict[str, Any]:
    """Give what an invitation or reminder message says: names, dates, and the token."""
    recipient = invitation.recipient
    data: dict[str, Any] = {
        "token": invitation.token,
        "organisation": (recipient.name or "") if recipient is not None else "",
        "provider": round_.provider.name,
        "survey": round_.survey.title,
        "period": round_.period_label,
        "closes_at": round_.closes_at.isoformat(),
    }
    if invitation.contact_id is not None:
        # A round of contacts: the messages speak to a person about their views.
        data["contact"] = True
    placement = invitation.placement
    if placement is not None:
        # A placement's follow-up: the messages say which placement, and to whom they speak.
        data["placement"] = {
            "host": placement.organisation.name,
            "role": placement.role,
            "recipient": "volunteer" if invitation.volunteer_id is not None else "host",
        }
    return data


def close_round(
    session: Session,
    round_: models.Round,
    *,
    now: datetime | None = None,
    by: str | None = None,
    reports: bool = True,
) -> int:
    """Close an open round: no more answers are taken, and unsent messages are cancelled.

    With `reports`, its KPI reports are due: the dispatcher publishes them in the background
    (`collector.reports.publish_due`), in the name of `by` (who closed it) when given. Give the
    number of messages cancelled.
    """
    if round_.status != "open":
        raise RoundError(f"Round {round_.id} is {round_.status}, not open")
    round_.status = "closed"
    round_.closed_at = now or utcnow()
    if reports:
        round_.reports_due_at = round_.closed_at
        round_.reports_due_by = by[:254] if by else None
    message = models.OutboxMessage
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(message)
        .where(message.round_id == round_.id, message.status == "pending")
        .values(status="cancelled", last_error="The round closed before it was sent")
    )
    session.flush()
    _closed_webhooks(session, round_)
    return int(result.rowcount or 0)


def _closed_webhooks(session: Session, round_: models.Round) -> None:
    """Tell the webhooks that want it that the round closed, with its response rate."""
    invited = session.scalar(
        select(func.count(models.Invitation.id)).where(models.Invitation.round_id == round_.id)
    )
    completed = session.scalar(
        select(func.count(models.Response.id)).where(
            models.Response.round_id == round_.id, models.Response.status == "completed"
        )
    )
    assert round_.closed_at is not None
    webhooks.emit(
        session,
        "round.closed",
        provider_id=round_.provider_id,
        subject=f"round-{round_.id}",
        payload={
            "round": {
                "id": round_.id,
                "provider": round_.provider.slug,
                "survey": round_.survey.slug,
                "period": round_.period_label,
                "closed_at": round_.closed_at.isoformat(),
                "invited": int(invited or 0),
                "completed": int(completed or 0),
            }
        },
    )


@dataclass
class Counts:
    """Invited, started and completed, for a whole round or one segment of it."""

    invited: int = 0
    started: int = 0
    completed: int = 0

    @property
    def rate(self) -> float | None:
        """Give the response rate (completed over invited), or None with nobody invited."""
        return self.completed / self.invited if self.invited else None


@dataclass
class NonResponder:
    """An invited organisation, volunteer or contact that has not completed: to chase."""

    invitation_id: int
    organisation_id: int | None
    name: str
    contact_email: str | None
    started: bool
    last_message_at: datetime | None
    volunteer_id: int | None = None
    contact_id: int | None = None


@dataclass
class RoundStatus:
    """Where a round stands: totals, by segment, by the channel completed responses finished
    in (and how many switched channel on the way), messages, and who to chase."""

    round_id: int
    total: Counts
    anonymous_completed: int
    by_segment: dict[str, dict[str, Counts]] = field(default_factory=dict)
    # Completed responses by the channel they finished in (sent from).
    by_channel: dict[str, int] = field(default_factory=dict)
    # Completed responses by the language they were answered in (open-link ones too).
    by_language: dict[str, int] = field(default_factory=dict)
    # Completed responses that started in one channel and finished in another:
    # (started in, finished in) -> how many.
    switches: dict[tuple[str, str], int] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    non_responders: list[NonResponder] = field(default_factory=list)


STATUS_SEGMENTS = ("org_type", "district", "income_band", "is_member")


def round_status(session: Session, round_: models.Round) -> RoundStatus:
    """Count a round's invited, started and completed, overall and by segment and channel."""
    inv, resp, org = models.Invitation, models.Response, models.Organisation
    rows = session.execute(
        select(
            inv.id,
            org.id,
            org.name,
            org.contact_email,
            org.opted_out_at,
            *(getattr(org, key) for key in STATUS_SEGMENTS),
            resp.status,
            resp.channel,
            resp.finished_channel,
        )
        .join(org, org.id == inv.organisation_id)
        .outerjoin(resp, resp.invitation_id == inv.id)
        .where(inv.round_id == round_.id)
        .order_by(org.name)
    ).all()
    last_sent = dict(
        session.execute(
            select(models.OutboxMessage.invitation_id, func.max(models.OutboxMessage.sent_at))
            .where(models.OutboxMessage.round_id == round_.id)
            .group_by(models.OutboxMessage.invitation_id)
        ).all()
    )
    status = RoundStatus(round_id=round_.id, total=Counts(), anonymous_completed=0)
    for row in rows:
        invitation_id, org_id, name, email, opted_out = row[:5]
        segments = dict(zip(STATUS_SEGMENTS, row[5 : 5 + len(STATUS_SEGMENTS)], strict=True))
        _count(status, segments, row[-3:])
        if row[-3] != "completed" and opted_out is None:
            status.non_responders.append(
                NonResponder(
                    invitation_id=invitation_id,
                    organisation_id=org_id,
                    name=name,
                    contact_email=email,
                    started=row[-3] is not None,
                    last_message_at=last_sent.get(invitation_id),
                )
            )
    # A follow-up round's volunteers: their district is their one segment.
    vol = models.Volunteer
    volunteer_rows = session.execute(
        select(
            inv.id,
            vol.id,
            vol.name,
            vol.contact_email,
            vol.opted_out_at,
            vol.district,
            resp.status,
            resp.channel,
            resp.finished_channel,
        )
        .join(vol, vol.id == inv.volunteer_id)
        .outerjoin(resp, resp.invitation_id == inv.id)
        .where(inv.round_id == round_.id)
        .order_by(vol.id)
    ).all()
    for row in volunteer_rows:
        invitation_id, volunteer_id, name, email, opted_out, district = row[:6]
        _count(status, {"district": district}, row[-3:])
        if row[-3] != "completed" and opted_out is None:
            status.non_responders.append(
                NonResponder(
                    invitation_id=invitation_id,
                    organisation_id=None,
                    name=name or f"Erased volunteer #{volunteer_id}",
                    contact_email=email,
                    started=row[-3] is not None,
                    last_message_at=last_sent.get(invitation_id),
                    volunteer_id=volunteer_id,
                )
            )
    # A round of contacts: their audience and organisation are its segments.
    con = models.Contact
    contact_rows = session.execute(
        select(
            inv.id,
            con.id,
            con.name,
            con.contact_email,
            con.opted_out_at,
            con.audience,
            con.organisation,
            resp.status,
            resp.channel,
            resp.finished_channel,
        )
        .join(con, con.id == inv.contact_id)
        .outerjoin(resp, resp.invitation_id == inv.id)
        .where(inv.round_id == round_.id)
        .order_by(con.id)
    ).all()
    for row in contact_rows:
        invitation_id, contact_id, name, email, opted_out, audience, organisation = row[:7]
        _count(status, {"audience": audience, "contact_org": organisation}, row[-3:])
        if row[-3] != "completed" and opted_out is None:
            status.non_responders.append(
                NonResponder(
                    invitation_id=invitation_id,
                    organisation_id=None,
                    name=name or f"Erased contact #{contact_id}",
                    contact_email=email,
                    started=row[-3] is not None,
                    last_message_at=last_sent.get(invitation_id),
                    contact_id=contact_id,
                )
            )
    status.anonymous_completed = int(
        session.scalar(
            select(func.count(resp.id)).where(
                resp.round_id == round_.id,
                resp.invitation_id.is_(None),
                resp.status == "completed",
            )
        )
        or 0
    )
    if status.anonymous_completed:
        status.by_channel["open_link"] = (
            status.by_channel.get("open_link", 0) + status.anonymous_completed
        )
    status.by_language = {
        language: int(count)
        for language, count in session.execute(
            select(resp.language, func.count(resp.id))
            .where(resp.round_id == round_.id, resp.status == "completed")
            .group_by(resp.language)
            .order_by(resp.language)
        ).all()
    }
    status.messages = {
        message_status: int(count)
        for message_status, count in session.execute(
            select(models.OutboxMessage.status, func.count(models.OutboxMessage.id))
            .where(models.OutboxMessage.round_id == round_.id)
            .group_by(models.OutboxMessage.status)
        ).all()
    }
    return status


def _count(
    status: RoundStatus,
    segments: Mapping[str, Any],
    response: Sequence[Any],
) -> None:
    """Count one invitation; `response`: its response's status, started and finished
    channels (each None when it has not started)."""
    response_status, started_in, finished_in = response
    cells = [status.total]
    for key, value in segments.items():
        label = _segment_label(key, value)
        cells.append(status.by_segment.setdefault(key, {}).setdefault(label, Counts()))
    for cell in cells:
        cell.invited += 1
        cell.started += response_status is not None
        cell.completed += response_status == "completed"
    if response_status == "completed" and started_in is not None:
        finished = finished_in or started_in
        status.by_channel[finished] = status.by_channel.get(finished, 0) + 1
        if finished != started_in:
            switch = (started_in, finished)
            status.switches[switch] = status.switches.get(switch, 0) + 1


def _segment_label(key: str, value: Any) -> str:
    if key == "is_member":
        return "member" if value else "not a member"
    return str(value) if value not in (None, "") else "not recorded"


def invitation_by_token(session: Session, token: str) -> models.Invitation:
    """Find an invitation by its token; an unknown or malformed one is simply not found."""
    if not looks_like_token(token):
        raise NotFound("This link is not valid", code="bad_token")
    invitation = session.scalar(select(models.Invitation).where(models.Invitation.token == token))
    if invitation is None:
        raise NotFound("This link is not valid", code="bad_token")
    return invitation


# How the response-rate views name channels in a sentence ("started in Telegram, finished on
# the web: 2").
CHANNEL_PLACES = {
    "web": "on the web",
    "telegram": "in Telegram",
    "terminal": "at the command line",
    "open_link": "through the open link",
}


def describe_switch(started_in: str, finished_in: str, count: int) -> str:
    """Say how many responses moved between two channels: "started in Telegram, finished on
    the web: 2"."""
    started = CHANNEL_PLACES.get(started_in, started_in)
    finished = CHANNEL_PLACES.get(finished_in, finished_in)
    return f"started {started}, finished {finished}: {count}"
