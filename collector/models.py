"""The tables: providers, organisations, surveys, rounds, invitations, responses and answers;
the staff and funder users, the outbox of messages to send, and the audit log.

Answers are long-format rows, one per answered question. A response carries a copy of its
organisation's segment attributes taken when it started, so a report stays true after the
organisation's record changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Give the current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC without a zone (SQLite has none) and always hand back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use collector.models.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# Named constraints keep Alembic migrations (and SQLite batch mode) predictable.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Provider(Base):
    """A local infrastructure organisation: a CVS, a volunteer centre, or similar."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="cvs")
    district: Mapped[str | None] = mapped_column(String(100))
    # Days after a placement starts when the volunteer and the host are asked how it is going.
    followup_days: Mapped[int] = mapped_column(Integer, default=28, server_default="28")
    # Days after a volunteer's last activity (enquiry, placement end) when their personal
    # details are erased; their answers stay, as anonymous rows.
    volunteer_retention_days: Mapped[int] = mapped_column(
        Integer, default=730, server_default="730"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisations: Mapped[list[Organisation]] = relationship(back_populates="provider")
    rounds: Mapped[list[Round]] = relationship(back_populates="provider")

    def __repr__(self) -> str:
        return f"<Provider {self.slug}>"


class Organisation(Base):
    """A VCS group on a provider's list: whom rounds invite, and the segments results use."""

    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("provider_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    external_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    org_type: Mapped[str] = mapped_column(String(40))
    income_band: Mapped[str | None] = mapped_column(String(20))
    district: Mapped[str | None] = mapped_column(String(100))
    # The outcome areas the group works on, space-separated slugs (as multiple-choice answers).
    outcomes: Mapped[str] = mapped_column(String(400), default="")
    is_member: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_telegram: Mapped[bool] = mapped_column(Boolean, default=False)
    # "email" or "telegram": the one channel used when a round could use both. None: email.
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship(back_populates="organisations")
    telegram_chats: Mapped[list[TelegramChat]] = relationship(
        back_populates="organisation", order_by="TelegramChat.id"
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.external_ref} {self.name!r}>"


class Contact(Base):
    """Someone on a provider's list who is not a VCS group: a public-sector partner, a
    commissioner, or one of the sector's elected representatives on a partnership board.

    Invited to rounds like a group, with consent per channel and opt-out. Erasure (on request)
    clears every personal field and sets `erased_at`; the row stays so that answers still count.
    """

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("provider_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    external_ref: Mapped[str] = mapped_column(String(64))
    # partner, commissioner or representative (collector.segments.CONTACT_AUDIENCES).
    audience: Mapped[str] = mapped_column(String(24))
    name: Mapped[str | None] = mapped_column(String(200))
    # Where they work or sit, e.g. "Leicestershire County Council, Children's Services": a
    # segment of the results (copied onto their responses), not a person.
    organisation: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_telegram: Mapped[bool] = mapped_column(Boolean, default=False)
    # "email" or "telegram": the one channel used when a round could use both. None: email.
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship()
    telegram_chats: Mapped[list[TelegramChat]] = relationship(
        back_populates="contact", order_by="TelegramChat.id"
    )

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.external_ref} {self.audience}>"


class Survey(Base):
    """One version of a survey definition, frozen as JSON once a round uses it."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("slug", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Survey {self.slug} v{self.version}>"


def round_ends_at(closes_at: datetime, closed_at: datetime | None) -> datetime:
    """Give when a round stopped (or stops) taking answers: when it was closed, if that was
    before its planned close, or else its planned close."""
    if closed_at is not None and closed_at < closes_at:
        return closed_at
    return closes_at


class Round(Base):
    """One survey sent to an audience of a provider's organisations for a period."""

    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    period_label: Mapped[str] = mapped_column(String(40))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft, open, closed
    # A filter over organisation segments, e.g. {"org_type": ["faith_group"], "district": [...]}.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    open_link: Mapped[bool] = mapped_column(Boolean, default=False)
    # How invitations and reminders go out: "email", "telegram", or both (each recipient then
    # gets one message, on the channel it prefers).
    channels: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["email"])
    # "survey": opened once for an audience. "rolling": a provider's follow-up round for a
    # period, to which invitations are added as placements reach their follow-up day.
    kind: Mapped[str] = mapped_column(String(16), default="survey", server_default="survey")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Closing asks for the round's KPI reports; the dispatcher publishes them in the background
    # (in the name of whoever closed it) and clears these. The note says how that went.
    reports_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    reports_due_by: Mapped[str | None] = mapped_column(String(254))
    reports_note: Mapped[str | None] = mapped_column(String(500))

    provider: Mapped[Provider] = relationship(back_populates="rounds")
    survey: Mapped[Survey] = relationship()
    invitations: Mapped[list[Invitation]] = relationship(back_populates="round")
    reminders: Mapped[list[RoundReminder]] = relationship(
        back_populates="round", order_by="RoundReminder.due_at"
    )

    @property
    def closed_early(self) -> bool:
        """Tell whether the round was closed before its planned close."""
        return round_ends_at(self.closes_at, self.closed_at) != self.closes_at

    @property
    def ends_at(self) -> datetime:
        """Give when the round stopped (or stops) taking answers: closed early, or as planned."""
        return round_ends_at(self.closes_at, self.closed_at)

    def __repr__(self) -> str:
        return f"<Round {self.id} {self.period_label} {self.status}>"


class Invitation(Base):
    """One recipient's single-use way into a round, identified by an unguessable token.

    The recipient is an organisation (a round's audience, or a placement's host), a
    volunteer (a placement's follow-up) or a contact (a round of partners, commissioners or
    representatives). A follow-up invitation names its placement.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("round_id", "organisation_id"),
        UniqueConstraint("round_id", "placement_id"),
        UniqueConstraint("round_id", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    # Indexed on its own: an organisation's invitations are looked up without their round
    # (opting out, deleting it), which the unique (round_id, organisation_id) cannot serve.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    placement_id: Mapped[int | None] = mapped_column(ForeignKey("placements.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[Round] = relationship(back_populates="invitations")
    organisation: Mapped[Organisation | None] = relationship()
    volunteer: Mapped[Volunteer | None] = relationship()
    placement: Mapped[Placement | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
    response: Mapped[Response | None] = relationship(back_populates="invitation")

    @property
    def recipient(self) -> Organisation | Volunteer | Contact | None:
        """Give whom this invitation is for: its volunteer or contact, else its organisation."""
        if self.volunteer is not None:
            return self.volunteer
        if self.contact is not None:
            return self.contact
        return self.organisation

    def __repr__(self) -> str:
        return f"<Invitation {self.id} round={self.round_id}>"


class Response(Base):
    """One respondent's answers to a round: in progress until completed, then immutable."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    # Unique: one response per invitation, however many tabs or channels try to start one.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="in_progress")  # or completed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where it started: web, telegram, terminal, open_link.
    channel: Mapped[str] = mapped_column(String(16))
    # Where it was sent from (the channel it finished in), once completed: a group may start
    # in one channel and finish in another with the same invitation.
    finished_channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Where the respondent is: a question id, or None for the check-your-answers step.
    cursor: Mapped[str | None] = mapped_column(String(64))
    reached_review: Mapped[bool] = mapped_column(Boolean, default=False)
    # Segment attributes copied from the organisation at start.
    org_type: Mapped[str | None] = mapped_column(String(40))
    income_band: Mapped[str | None] = mapped_column(String(20))
    district: Mapped[str | None] = mapped_column(String(100))
    outcomes: Mapped[str | None] = mapped_column(String(400))
    is_member: Mapped[bool | None] = mapped_column(Boolean)
    # Who answered: group, volunteer, or a contact's audience (partner, commissioner,
    # representative); None for an open link. A contact's organisation is copied too.
    audience: Mapped[str | None] = mapped_column(String(24))
    contact_org: Mapped[str | None] = mapped_column(String(200))

    round: Mapped[Round] = relationship()
    invitation: Mapped[Invitation | None] = relationship(back_populates="response")
    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="Answer.id"
    )

    def __repr__(self) -> str:
        return f"<Response {self.id} {self.status}>"


class Answer(Base):
    """One answered question of one response, stored as canonical text."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The channel it was given in (None: given before channels were recorded per answer).
    channel: Mapped[str | None] = mapped_column(String(16))

    response: Mapped[Response] = relationship(back_populates="answers")

    def __repr__(self) -> str:
        return f"<Answer {self.response_id}.{self.question_id}={self.value!r}>"


class RateCount(Base):
    """How often one client did one limited thing (a bucket) in one fixed time window."""

    __tablename__ = "rate_counts"
    __table_args__ = (UniqueConstraint("bucket", "client", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32))
    # A keyed hash of the client's address, never the address itself.
    client: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<RateCount {self.bucket} {self.client[:8]} {self.count}>"


class RoundReminder(Base):
    """A reminder to a round's non-responders: scheduled at creation, or sent now by staff."""

    __tablename__ = "round_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16), default="scheduled")  # or manual
    # Set once its messages are in the outbox (then `queued` says how many).
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued: Mapped[int] = mapped_column(Integer, default=0)

    round: Mapped[Round] = relationship(back_populates="reminders")

    def __repr__(self) -> str:
        return f"<RoundReminder {self.id} round={self.round_id} {self.kind}>"


class User(Base):
    """Someone who signs in: an admin, a provider's staff member, or a funder (read-only)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))  # admin, staff, funder
    # Staff belong to one provider; admins and funders to none.
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider | None] = relationship()
    # For funders: the providers whose results they may see.
    funded: Mapped[list[Provider]] = relationship(secondary="funder_providers")
    # A one-time code that links a Telegram chat to this user: only its keyed hash is stored.
    telegram_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    telegram_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class ApiToken(Base):
    """A token for the read-only JSON API, made by an admin for a provider (staff's view) or a
    funder's account (the funder's view). Only its SHA-256 is kept: it is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))  # staff or funder
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # its first characters, to tell them apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider | None] = relationship()
    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.role} {self.prefix}>"


class Webhook(Base):
    """An address told of events (collector.delivery.webhooks), for a provider or a funder's
    account; its secret signs each delivery."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider | None] = relationship()
    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Webhook {self.id} {self.events}>"


class SignIn(Base):
    """One signed-in browser: the session cookie holds its token, this row only the token's hash.

    Signing out deletes the row, so a copy of the cookie stops working at once; a new password
    or a deactivated account deletes every row of the account.
    """

    __tablename__ = "sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the cookie's random token (256 bits): a leaked table opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<SignIn {self.id} user={self.user_id}>"


class FunderProvider(Base):
    """A funder user may see this provider's results."""

    __tablename__ = "funder_providers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), primary_key=True)


class OutboxMessage(Base):
    """One message to send (an invitation, a reminder, a summary): a row first, then delivered.

    The dedupe key (e.g. `invite:<invitation id>`) is unique, so queueing the same message twice
    stores it once. A dispatcher claims due rows (status pending, or sending with an expired
    claim), delivers them, and records the result.
    """

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, telegram
    recipient: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(64))  # invite, reminder, ...
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending, sending, sent, failed (gave up), cancelled (no longer wanted)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When it was given up (status failed): `tempcheck status` counts the last day's.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), index=True)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.template} {self.status}>"


Index("ix_outbox_messages_due", OutboxMessage.status, OutboxMessage.next_attempt_at)


class Heartbeat(Base):
    """A long-running process's last sign of life: each dispatcher and bot writes its row every
    HEARTBEAT_SECONDS, so that one killed and not restarted shows in `tempcheck status`."""

    __tablename__ = "heartbeats"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # dispatcher, bot
    name: Mapped[str] = mapped_column(String(100))  # the dispatcher's name, the bot's host:pid
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the process stopped cleanly (SIGTERM, Ctrl-C); None while it runs or if killed.
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Heartbeat {self.kind} {self.name}>"


class AuditEvent(Base):
    """One thing a staff member or operator did: opened, reminded, closed, imported, edited."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who, as shown: the user's email, or "command line (<login>)" for the CLI.
    actor: Mapped[str] = mapped_column(String(254))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))  # e.g. round.open, organisations.import
    subject: Mapped[str | None] = mapped_column(String(200))  # e.g. round 12 (2026/27 H1)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action}>"


class KpiNarrative(Base):
    """What a provider's staff wrote to explain one KPI's result for one round (its variance)."""

    __tablename__ = "kpi_narratives"
    __table_args__ = (UniqueConstraint("round_id", "framework", "kpi_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    framework: Mapped[str] = mapped_column(String(64))
    kpi_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<KpiNarrative round={self.round_id} {self.framework}/{self.kpi_id}>"


class ReportSnapshot(Base):
    """A KPI report frozen when published: what funders were sent, unchanged by later answers.

    `data` is the report as plain data (analysis's KpiReport.to_json); the PDF and workbook
    made from it at publication are kept beside it, so a resend or download is the same file.
    """

    __tablename__ = "report_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    framework: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes | None] = mapped_column(LargeBinary)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(String(254))

    provider: Mapped[Provider] = relationship()
    round: Mapped[Round] = relationship()

    def __repr__(self) -> str:
        return f"<ReportSnapshot {self.id} round={self.round_id} {self.framework}>"


class Volunteer(Base):
    """Someone a volunteer centre works with: the minimum personal data, until erased.

    Erasure (on request, or after the provider's retention period) clears every personal
    field and sets `erased_at`; the row stays so that placements and answers still count.
    """

    __tablename__ = "volunteers"
    __table_args__ = (UniqueConstraint("provider_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    # The centre's own reference (from its records or CSV); not personal data.
    external_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    district: Mapped[str | None] = mapped_column(String(100))
    # Consent to hold their details and ask them about placements, and when it was given.
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_telegram: Mapped[bool] = mapped_column(Boolean, default=False)
    # "email" or "telegram": the one channel used when both could be. None: email.
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship()
    placements: Mapped[list[Placement]] = relationship(
        back_populates="volunteer", order_by="Placement.starts_on"
    )
    telegram_chats: Mapped[list[TelegramChat]] = relationship(
        back_populates="volunteer", order_by="TelegramChat.id"
    )

    def __repr__(self) -> str:
        return f"<Volunteer {self.id} {self.external_ref}>"


class Enquiry(Base):
    """Someone asking a volunteer centre about volunteering (VAL 25 counts these)."""

    __tablename__ = "enquiries"
    __table_args__ = (UniqueConstraint("provider_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    external_ref: Mapped[str | None] = mapped_column(String(64))
    enquired_on: Mapped[date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(String(40))  # e.g. web, phone, walk_in, event, referral
    district: Mapped[str | None] = mapped_column(String(100))
    # placed, referred, not_placed, pending
    outcome: Mapped[str] = mapped_column(String(24), default="pending")
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    provider: Mapped[Provider] = relationship()
    volunteer: Mapped[Volunteer | None] = relationship()

    def __repr__(self) -> str:
        return f"<Enquiry {self.id} {self.enquired_on} {self.outcome}>"


class Placement(Base):
    """A volunteer placed with a host VCS group, in a role, from a start date."""

    __tablename__ = "placements"
    __table_args__ = (UniqueConstraint("provider_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    external_ref: Mapped[str | None] = mapped_column(String(64))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # ended, did_not_start
    ended_on: Mapped[date | None] = mapped_column(Date)
    # When its follow-up invitations were queued (None: not yet due, or not sent).
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship()
    volunteer: Mapped[Volunteer] = relationship(back_populates="placements")
    organisation: Mapped[Organisation] = relationship()

    def __repr__(self) -> str:
        return f"<Placement {self.id} {self.status} from {self.starts_on}>"


class TelegramChat(Base):
    """A private Telegram chat with the bot, and what it is linked to.

    `invitation_id` is the survey the chat is answering now (the state of the conversation
    is that invitation's response). With consent given in the chat, it is linked to the
    organisation or volunteer for future rounds; a staff member or funder links it to their
    user with a one-time code.
    """

    __tablename__ = "telegram_chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    language: Mapped[str | None] = mapped_column(String(8))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # /stop: no more invitations by Telegram to this chat.
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Telegram said the chat cannot be reached (bot blocked, chat gone): not tried again.
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    invitation: Mapped[Invitation | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship(back_populates="telegram_chats")
    volunteer: Mapped[Volunteer | None] = relationship(back_populates="telegram_chats")
    contact: Mapped[Contact | None] = relationship(back_populates="telegram_chats")
    user: Mapped[User | None] = relationship()

    @hybrid_property
    def reachable(self) -> bool:
        """Say whether invitations may be sent to this chat (in a query too)."""
        return self.stopped_at is None and self.unreachable_at is None

    @reachable.inplace.expression
    @classmethod
    def _reachable_expression(cls) -> ColumnElement[bool]:
        return and_(cls.stopped_at.is_(None), cls.unreachable_at.is_(None))

    def __repr__(self) -> str:
        return f"<TelegramChat {self.id}>"


class ActivityRecord(Base):
    """One thing a provider did, as its staff record it: an event supported, a health check,
    guidance given, a funding application (with the amounts applied for and obtained)...

    The indicators counted from records (Essex a, e, g, h, i, xi; VAL 15, 30) count these rows
    dated in a report's period. `organisation_id` is the group helped, when there is one, so
    that records can be broken down by the group's type, size, district and outcomes.
    Amounts are kept in pence, so that sums are exact.
    """

    __tablename__ = "activity_records"
    __table_args__ = (UniqueConstraint("provider_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    external_ref: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[date] = mapped_column(Date, index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    amount_applied_pence: Mapped[int | None] = mapped_column(BigInteger)
    amount_obtained_pence: Mapped[int | None] = mapped_column(BigInteger)
    beneficiaries: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    provider: Mapped[Provider] = relationship()
    organisation: Mapped[Organisation | None] = relationship()

    def __repr__(self) -> str:
        return f"<ActivityRecord {self.id} {self.kind} {self.occurred_on}>"


class EvidenceItem(Base):
    """A case study or other evidence a provider's staff attach to indicators for a period."""

    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    period: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    is_case_study: Mapped[bool] = mapped_column(Boolean, default=False)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_type: Mapped[str | None] = mapped_column(String(100))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    links: Mapped[list[EvidenceLink]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="EvidenceLink.id"
    )

    def __repr__(self) -> str:
        return f"<EvidenceItem {self.id} {self.period} {self.title!r}>"


class EvidenceLink(Base):
    """An indicator (framework and KPI id) an evidence item supports."""

    __tablename__ = "evidence_links"
    __table_args__ = (UniqueConstraint("item_id", "framework", "kpi_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    framework: Mapped[str] = mapped_column(String(64))
    kpi_id: Mapped[str] = mapped_column(String(64))

    item: Mapped[EvidenceItem] = relationship(back_populates="links")


class IndicatorAssessment(Base):
    """Staff's status for an evidence indicator in a period (met, partly met, not met), and why."""

    __tablename__ = "indicator_assessments"
    __table_args__ = (UniqueConstraint("provider_id", "framework", "kpi_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    framework: Mapped[str] = mapped_column(String(64))
    kpi_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Milestone(Base):
    """A one-off event an indicator asks for (Essex i, iv, vi; VAL 1, 3, 29), with its dates."""

    __tablename__ = "milestones"
    __table_args__ = (UniqueConstraint("provider_id", "framework", "kpi_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    framework: Mapped[str] = mapped_column(String(64))
    kpi_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    # "Progress by" one date (optional), "achieved by" another.
    progress_due: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    progress_on: Mapped[date | None] = mapped_column(Date)
    achieved_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Milestone {self.framework}/{self.kpi_id} due {self.due_on}>"


class Hub(Base):
    """A Community Hub or a Local Resource Centre: a local organisation in one locality whose
    quarterly temperature check the provider collects and reports (the VAL review's Table
    Three). Not a VCS group on the list: hubs report figures, they are not surveyed."""

    __tablename__ = "hubs"
    __table_args__ = (UniqueConstraint("provider_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    external_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # "hub" (Community Hub) or "centre" (Local Resource Centre): which variables it reports.
    kind: Mapped[str] = mapped_column(String(16))
    locality: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship()
    returns: Mapped[list[HubReturn]] = relationship(back_populates="hub", order_by="HubReturn.id")

    def __repr__(self) -> str:
        return f"<Hub {self.id} {self.external_ref} {self.kind}>"


class HubReturn(Base):
    """One variable of one hub's quarterly return: its figure, or (without one) why not.

    No row for a variable, or a row without a figure, is "not reported"; `note` says why
    ("not applicable", "target not agreed yet"). `target` is the hub's own target for the
    quarter, where it differs from the framework's (or the framework sets none).
    """

    __tablename__ = "hub_returns"
    __table_args__ = (UniqueConstraint("hub_id", "quarter", "variable"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("hubs.id"), index=True)
    # The quarter's first day (UK financial quarters: Q1 starts on 1 April).
    quarter: Mapped[date] = mapped_column(Date, index=True)
    variable: Mapped[str] = mapped_column(String(64))
    value: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    hub: Mapped[Hub] = relationship(back_populates="returns")

    def __repr__(self) -> str:
        return f"<HubReturn {self.id} hub {self.hub_id} {self.quarter} {self.variable}>"


class SelfEvaluation(Base):
    """A round of the two-way self-evaluation (issue 16): how its two sides answer, which
    evaluation it follows, and whether its perception-gap report is published.

    `mode` "separate": both sides are invited at once and rate independently. "reviewed": the
    first side (`first_side`) is invited first; when staff hand over, the other side is
    invited and sees the first side's ratings beside each question.
    """

    __tablename__ = "self_evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default="separate")
    first_side: Mapped[str | None] = mapped_column(String(8))  # la or vcs; "reviewed" only
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The evaluation this one follows (a year before, usually): its ratings and actions are
    # compared with this one's in the report.
    previous_round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(254))
    # The report's PDF as published (for the funders), made by whoever published it.
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[Round] = relationship(foreign_keys=[round_id])
    previous_round: Mapped[Round | None] = relationship(foreign_keys=[previous_round_id])

    def __repr__(self) -> str:
        return f"<SelfEvaluation round={self.round_id} {self.mode}>"


class AgreedRating(Base):
    """One side's agreed rating of one question, entered by a facilitator after a meeting:
    kept apart from individual answers, so the report can tell the two apart."""

    __tablename__ = "agreed_ratings"
    __table_args__ = (UniqueConstraint("round_id", "side", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    side: Mapped[str] = mapped_column(String(8))  # la, vcs
    question_id: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # good, minimum, improve, dont_know
    evidence: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    prioritise: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_by: Mapped[str] = mapped_column(String(254))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<AgreedRating round={self.round_id} {self.side} {self.question_id}={self.level}>"


class EvaluationAction(Base):
    """One action of a self-evaluation's action plan: what will be done about a question, by
    whom, by when, and when it is reviewed."""

    __tablename__ = "evaluation_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    review_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(254))

    round: Mapped[Round] = relationship()

    def __repr__(self) -> str:
        return f"<EvaluationAction {self.id} round={self.round_id} {self.status}>"


class Erasure(Base):
    """The register of erasures: which record was erased and when, and nothing else.

    It names a record by its kind and id only (no name, no address): enough to erase it again
    when a restore brings back a backup taken before the erasure (see `collector.backup`).
    """

    __tablename__ = "erasures"
    __table_args__ = (UniqueConstraint("kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "volunteer" or "contact": the table the record is in.
    kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(Integer)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Erasure {self.kind} {self.record_id}>"
