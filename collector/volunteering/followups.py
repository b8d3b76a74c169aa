"""Placement follow-ups: a placement's volunteer and host are asked how it is going.

When a placement reaches its provider's follow-up day (`Provider.followup_days` after it
starts, 28 by default: from the start of that UK day), the dispatcher's schedule invites the
volunteer to the `volunteer-placement` survey and the host group to the `volunteer-host`
survey, each on the channel it prefers, once per placement (dedupe keys
`followup:<placement id>:volunteer` and `:host`). A host already invited in that period is not
invited again: its survey is about the group, not about one volunteer.

The invitations belong to a **rolling round** per provider, survey and period: the UK
financial year's halves (1 April to 30 September is "2026/27 H1", 1 October to 31 March
"2026/27 H2"), the labels staff give their other rounds, so a report of a period pairs them.
A rolling round opens at its period's start and closes at its end like any other round, which
publishes its report. A follow-up due in the last `LAST_DAYS` days of a period joins the next
period's round and goes out when that opens, so that nobody is asked a day before the survey
closes.

Not followed up: placements that did not start, and placements whose follow-up day passed more
than `LATE_DAYS` days ago (a placement recorded long after it started, or imported from old
records: asking about it months later would tell little and surprise the volunteer). Erased,
opted-out and unconsenting volunteers are not asked; their host still is.

A reminder goes to each follow-up invitation not yet answered `REMINDER_DAYS` days after it
went out (dedupe key `followup-remind:<invitation id>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from collector import localtime, models, rounds
from collector.delivery import outbox
from collector.models import utcnow
from collector.survey.loader import library_survey
from collector.survey.store import register

VOLUNTEER_SURVEY = "volunteer-placement"
HOST_SURVEY = "volunteer-host"
CHANNELS = ("email", "telegram")
# A follow-up due this close to its period's end joins the next period's round.
LAST_DAYS = 7
# A follow-up day more than this long ago is not followed up any more.
LATE_DAYS = 14
# An unanswered follow-up is reminded this long after it went out (once).
REMINDER_DAYS = 7


@dataclass(frozen=True)
class Period:
    """A half of the UK financial year: its label and its first and last days."""

    label: str
    first: date
    last: date

    def next(self) -> Period:
        """Give the period after this one."""
        return period_of(self.last + timedelta(days=1))


def period_of(day: date) -> Period:
    """Give the half financial year a day falls in ("2026/27 H1": April to September)."""
    if 4 <= day.month <= 9:
        start_year, half = day.year, "H1"
        first, last = date(day.year, 4, 1), date(day.year, 9, 30)
    else:
        start_year = day.year if day.month >= 10 else day.year - 1
        half = "H2"
        first, last = date(start_year, 10, 1), date(start_year + 1, 3, 31)
    return Period(f"{start_year}/{(start_year + 1) % 100:02d} {half}", first, last)


def period_for_followup(today: date) -> Period:
    """Give the period whose rolling round a follow-up made today belongs to."""
    period = period_of(today)
    if (period.last - today).days < LAST_DAYS:
        return period.next()
    return period


def survey_row(session: Session, slug: str) -> models.Survey:
    """Give the stored row of a built-in follow-up survey (registering it when new)."""
    return register(session, library_survey(slug))


def rolling_round(
    session: Session,
    provider: models.Provider,
    survey: models.Survey,
    period: Period,
    *,
    now: datetime | None = None,
) -> models.Round:
    """Give the provider's rolling round of a survey for a period, opening it when there is none.

    A rolling round of the same survey that is open and covers the period's start is used
    whatever its label (staff, or the demo, may have opened one by hand).
    """
    now = now or utcnow()
    start = localtime.day_starts(period.first)
    round_ = models.Round
    found = session.scalar(
        select(round_)
        .join(models.Survey)
        .where(
            round_.provider_id == provider.id,
            round_.kind == "rolling",
            models.Survey.slug == survey.slug,
            or_(
                round_.period_label == period.label,
                and_(
                    round_.status == "open",
                    round_.opens_at <= start,
                    round_.closes_at > start,
                ),
            ),
        )
        .order_by(round_.id)
        .limit(1)
    )
    if found is not None:
        return found
    made = rounds.create_round(
        session,
        provider=provider,
        survey=survey,
        period_label=period.label,
        opens_at=start,
        closes_at=localtime.day_ends(period.last),
        channels=CHANNELS,
    )
    made.kind = "rolling"
    made.status = "open"
    made.opened_at = now
    if survey.frozen_at is None:
        survey.frozen_at = now
    session.flush()
    return made


def asks_volunteers(round_: models.Round) -> bool:
    """Tell whether a round's invitations go to volunteers (the volunteers' follow-up round),
    not to groups, so that pages count them as volunteers."""
    return round_.survey.slug == VOLUNTEER_SURVEY


def due_placements(
    session: Session, provider: models.Provider, *, now: datetime | None = None
) -> list[models.Placement]:
    """List a provider's placements whose follow-up is due now and not yet made."""
    today = localtime.uk(now or utcnow()).date()
    latest_start = today - timedelta(days=provider.followup_days)
    placement = models.Placement
    return list(
        session.scalars(
            select(placement)
            .where(
                placement.provider_id == provider.id,
                placement.followed_up_at.is_(None),
                placement.status != "did_not_start",
                placement.starts_on <= latest_start,
                placement.starts_on >= latest_start - timedelta(days=LATE_DAYS),
            )
            .order_by(placement.starts_on, placement.id)
        )
    )


def may_ask(volunteer: models.Volunteer) -> bool:
    """Tell whether a volunteer may be sent a follow-up survey."""
    return volunteer.erased_at is None and volunteer.opted_out_at is None and volunteer.consent


@dataclass
class FollowupCounts:
    """What one run of the follow-up schedule did."""

    placements: int = 0  # placements followed up
    invitations: int = 0  # invitations made (volunteers and hosts)
    queued: int = 0  # messages queued for them
    reminders: int = 0  # reminders queued


def follow_up(
    session: Session,
    placement: models.Placement,
    *,
    now: datetime | None = None,
    counts: FollowupCounts | None = None,
    into: tuple[models.Round, models.Round] | None = None,
) -> FollowupCounts:
    """Invite a placement's volunteer and host to their surveys now, and mark it followed up.

    `into` gives the (volunteer, host) rounds to use instead of the period's rolling rounds
    (the demo, whose rounds have labels of their own).
    """
    now = now or utcnow()
    counts = counts or FollowupCounts()
    provider = placement.provider
    period = period_for_followup(localtime.uk(now).date())
    volunteer = placement.volunteer
    if may_ask(volunteer):
        round_ = (
            into[0]
            if into is not None
            else rolling_round(
                session, provider, survey_row(session, VOLUNTEER_SURVEY), period, now=now
            )
        )
        invitation = _invite(session, round_, placement, volunteer=volunteer, now=now)
        if invitation is not None:
            counts.invitations += 1
            counts.queued += rounds.queue_message(
                session, round_, invitation, "invite", f"followup:{placement.id}:volunteer", now
            )
    host = placement.organisation
    if host.opted_out_at is None:
        round_ = (
            into[1]
            if into is not None
            else rolling_round(session, provider, survey_row(session, HOST_SURVEY), period, now=now)
        )
        invitation = _invite(session, round_, placement, organisation=host, now=now)
        if invitation is not None:
            counts.invitations += 1
            counts.queued += rounds.queue_message(
                session, round_, invitation, "invite", f"followup:{placement.id}:host", now
            )
    placement.followed_up_at = now
    counts.placements += 1
    session.flush()
    return counts


def _invite(
    session: Session,
    round_: models.Round,
    placement: models.Placement,
    *,
    volunteer: models.Volunteer | None = None,
    organisation: models.Organisation | None = None,
    now: datetime,
) -> models.Invitation | None:
    """Add a follow-up invitation to a rolling round, unless this placement (or, for a host,
    this group) already has one there."""
    invitation = models.Invitation
    same = invitation.placement_id == placement.id
    if organisation is not None:
        same = or_(same, invitation.organisation_id == organisation.id)
    if session.scalar(select(invitation.id).where(invitation.round_id == round_.id, same)):
        return None
    made = models.Invitation(
        round=round_,
        volunteer=volunteer,
        organisation=organisation,
        placement=placement,
        token=rounds.new_token(),
        created_at=now,
    )
    session.add(made)
    session.flush()
    return made


def queue_reminders(session: Session, *, now: datetime | None = None) -> int:
    """Queue one reminder to each unanswered follow-up invitation `REMINDER_DAYS` after it went
    out (within `LATE_DAYS` of that); give how many were queued."""
    now = now or utcnow()
    due = now - timedelta(days=REMINDER_DAYS)
    too_old = due - timedelta(days=LATE_DAYS)
    inv, round_, resp, message = (
        models.Invitation,
        models.Round,
        models.Response,
        models.OutboxMessage,
    )
    # It went out when it was made, or when its round opened if that was later.
    rows = session.execute(
        select(inv, round_)
        .join(round_, round_.id == inv.round_id)
        .where(
            round_.kind == "rolling",
            round_.status == "open",
            inv.placement_id.is_not(None),
            inv.created_at <= due,
            round_.opens_at <= due,
            or_(inv.created_at > too_old, round_.opens_at > too_old),
            ~exists().where(resp.invitation_id == inv.id, resp.status == "completed"),
            ~exists().where(message.invitation_id == inv.id, message.template == "reminder"),
        )
        .order_by(inv.id)
    ).all()
    queued = 0
    for invitation, rolling in rows:
        queued += rounds.queue_message(
            session, rolling, invitation, "reminder", f"followup-remind:{invitation.id}", now
        )
    return queued


def run(session: Session, *, now: datetime | None = None) -> FollowupCounts:
    """Follow up every placement that is due, and remind unanswered follow-ups; the caller
    commits.

    Safe from several dispatchers at once: each provider is worked on under a row lock that the
    others skip (PostgreSQL), or the write lock (SQLite); a placement is marked when done.
    """
    now = now or utcnow()
    counts = FollowupCounts()
    provider_ids = session.scalars(
        select(models.Provider.id).where(
            exists().where(
                models.Placement.provider_id == models.Provider.id,
                models.Placement.followed_up_at.is_(None),
            )
        )
    ).all()
    for provider_id in provider_ids:
        provider = session.scalar(
            select(models.Provider)
            .where(models.Provider.id == provider_id)
            .with_for_update(skip_locked=True)
        )
        if provider is None:
            continue  # another dispatcher is following up this provider's placements now
        for placement in due_placements(session, provider, now=now):
            follow_up(session, placement, now=now, counts=counts)
    counts.reminders = queue_reminders(session, now=now)
    return counts


def opt_out_volunteer(
    session: Session, volunteer: models.Volunteer, *, now: datetime | None = None
) -> int:
    """Stop asking a volunteer: no more follow-ups, and unsent messages to them are cancelled.

    Give how many messages were cancelled. Answers already given are kept.
    """
    if volunteer.opted_out_at is None:
        volunteer.opted_out_at = now or utcnow()
    return outbox.cancel_unsent_invitations(
        session, models.Invitation.volunteer_id == volunteer.id, "The volunteer opted out"
    )


def followup_status(session: Session, placement: models.Placement) -> dict[str, str]:
    """Say where a placement's follow-ups stand, per recipient ("volunteer", "host"): not yet
    due, invited, started or answered."""
    status: dict[str, str] = {}
    rows = session.execute(
        select(models.Invitation, models.Response.status)
        .outerjoin(models.Response, models.Response.invitation_id == models.Invitation.id)
        .where(models.Invitation.placement_id == placement.id)
    ).all()
    for invitation, response_status in rows:
        who = "volunteer" if invitation.volunteer_id is not None else "host"
        status[who] = {None: "invited", "in_progress": "started", "completed": "answered"}.get(
            response_status, "invited"
        )
    return status
