"""Placement follow-ups: periods, rolling rounds, who is asked when, once, and reminders."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import flow, localtime, models, schedules
from collector.config import Settings
from collector.delivery import mailer
from collector.delivery.outbox import Outgoing
from collector.models import utcnow
from collector.volunteering import followups
from collector.volunteering.followups import period_for_followup, period_of
from tests.factories import make_organisation, make_placement, make_provider, make_volunteer

# A day well inside a period (2026/27 H1), so no period edge is near.
START = date(2026, 5, 4)


def at(day: date, hour: int = 12) -> datetime:
    """Give a UK hour of a day, as a stored (UTC) moment."""
    return localtime.day_starts(day) + timedelta(hours=hour)


def messages(session: Session) -> list[tuple[str, str, str]]:
    """Give every outbox message as (dedupe key, template, recipient)."""
    rows = session.execute(
        select(
            models.OutboxMessage.dedupe_key,
            models.OutboxMessage.template,
            models.OutboxMessage.recipient,
        ).order_by(models.OutboxMessage.id)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("day", "label", "first", "last"),
    [
        (date(2026, 4, 1), "2026/27 H1", date(2026, 4, 1), date(2026, 9, 30)),
        (date(2026, 9, 30), "2026/27 H1", date(2026, 4, 1), date(2026, 9, 30)),
        (date(2026, 10, 1), "2026/27 H2", date(2026, 10, 1), date(2027, 3, 31)),
        (date(2027, 1, 15), "2026/27 H2", date(2026, 10, 1), date(2027, 3, 31)),
        (date(2027, 3, 31), "2026/27 H2", date(2026, 10, 1), date(2027, 3, 31)),
        (date(1999, 12, 1), "1999/00 H2", date(1999, 10, 1), date(2000, 3, 31)),
    ],
)
def test_periods_are_halves_of_the_uk_financial_year(
    day: date, label: str, first: date, last: date
) -> None:
    assert period_of(day) == followups.Period(label, first, last)


def test_a_followup_in_the_last_week_of_a_period_joins_the_next() -> None:
    assert period_for_followup(date(2026, 9, 23)).label == "2026/27 H1"  # 7 days left
    assert period_for_followup(date(2026, 9, 24)).label == "2026/27 H2"
    assert period_for_followup(date(2027, 3, 31)).label == "2027/28 H1"


def test_the_volunteer_and_the_host_are_invited_on_the_followup_day_once(
    session: Session,
) -> None:
    provider = make_provider(session, name="Charnwood Volunteer Centre")
    host = make_organisation(session, provider, name="Loughborough Foodbank")
    volunteer = make_volunteer(session, provider, name="Sam Patel", district="Charnwood")
    placement = make_placement(session, provider, volunteer, host, starts_on=START, role="Driver")
    due = START + timedelta(days=28)

    assert schedules.run_schedules(session, now=at(due - timedelta(days=1), 23))["followups"] == 0
    assert (
        schedules.run_schedules(session, now=localtime.day_starts(due) - timedelta(seconds=1))[
            "followups"
        ]
        == 0
    )
    assert placement.followed_up_at is None and messages(session) == []

    done = schedules.run_schedules(session, now=localtime.day_starts(due))
    assert done["followups"] == 1 and done["followup_messages"] == 2
    assert placement.followed_up_at == localtime.day_starts(due)
    assert messages(session) == [
        (f"followup:{placement.id}:volunteer:email", "invite", volunteer.contact_email),
        (f"followup:{placement.id}:host:email", "invite", host.contact_email),
    ]
    invitations = session.scalars(select(models.Invitation).order_by(models.Invitation.id)).all()
    assert [(i.volunteer_id, i.organisation_id, i.placement_id) for i in invitations] == [
        (volunteer.id, None, placement.id),
        (None, host.id, placement.id),
    ]
    volunteer_round, host_round = (i.round for i in invitations)
    for round_, slug in ((volunteer_round, "volunteer-placement"), (host_round, "volunteer-host")):
        assert round_.kind == "rolling" and round_.status == "open"
        assert round_.survey.slug == slug and round_.survey.frozen_at is not None
        assert round_.period_label == "2026/27 H1"
        assert round_.opens_at == localtime.day_starts(date(2026, 4, 1))
        assert round_.closes_at == localtime.day_ends(date(2026, 9, 30))
        assert round_.channels == ["email", "telegram"]

    # What the messages say: the placement, and to whom.
    data = session.scalars(select(models.OutboxMessage.data).order_by(models.OutboxMessage.id))
    volunteer_data, host_data = data.all()
    assert volunteer_data["organisation"] == "Sam Patel"
    assert volunteer_data["placement"] == {
        "host": "Loughborough Foodbank",
        "role": "Driver",
        "recipient": "volunteer",
    }
    assert host_data["placement"]["recipient"] == "host"
    assert host_data["organisation"] == "Loughborough Foodbank"

    # Not twice: again the same moment, later that day, and the next days.
    for later in (timedelta(0), timedelta(hours=20), timedelta(days=3)):
        assert (
            schedules.run_schedules(session, now=localtime.day_starts(due) + later)["followups"]
            == 0
        )
    assert len(messages(session)) == 2
    assert session.scalar(select(func.count(models.Round.id))) == 2


def test_the_provider_setting_moves_the_followup_day(session: Session) -> None:
    provider = make_provider(session, followup_days=14)
    placement = make_placement(session, provider, starts_on=START)
    followups.run(session, now=at(START + timedelta(days=13)))
    assert placement.followed_up_at is None
    assert followups.run(session, now=at(START + timedelta(days=14))).placements == 1


def test_a_host_is_asked_once_per_period_however_many_volunteers_it_takes(
    session: Session,
) -> None:
    provider = make_provider(session)
    host = make_organisation(session, provider)
    first = make_placement(session, provider, organisation=host, starts_on=START)
    second = make_placement(session, provider, organisation=host, starts_on=START)
    third = make_placement(
        session, provider, organisation=host, starts_on=START + timedelta(days=5)
    )
    followups.run(session, now=at(START + timedelta(days=28)))
    counts = followups.run(session, now=at(START + timedelta(days=33)))
    assert counts.placements == 1 and counts.invitations == 1  # only the third's volunteer
    keys = [key for key, _, _ in messages(session)]
    assert keys == [
        f"followup:{first.id}:volunteer:email",
        f"followup:{first.id}:host:email",
        f"followup:{second.id}:volunteer:email",
        f"followup:{third.id}:volunteer:email",
    ]
    assert all(p.followed_up_at is not None for p in (first, second, third))
    # In the next period, the host is asked again.
    fourth = make_placement(session, provider, organisation=host, starts_on=date(2026, 10, 2))
    followups.run(session, now=at(date(2026, 10, 30)))
    assert messages(session)[-1][0] == f"followup:{fourth.id}:host:email"


@pytest.mark.parametrize(
    ("change", "volunteer_asked"),
    [
        ({"opted_out": True}, False),
        ({"erased": True}, False),
        ({"consent": False}, False),
        ({"placement_status": "did_not_start"}, None),
        ({"placement_status": "ended"}, True),
        ({"started_days_ago": 28 + followups.LATE_DAYS + 1}, None),
        ({"started_days_ago": 28 + followups.LATE_DAYS}, True),
        ({}, True),
    ],
)
def test_who_is_not_followed_up(
    session: Session, change: dict[str, Any], volunteer_asked: bool | None
) -> None:
    """None: nobody is asked about the placement (the host neither)."""
    provider = make_provider(session)
    today = START + timedelta(days=60)
    volunteer = make_volunteer(
        session,
        provider,
        consent=change.get("consent", True),
        opted_out_at=at(START) if change.get("opted_out") else None,
        erased_at=at(START) if change.get("erased") else None,
    )
    placement = make_placement(
        session,
        provider,
        volunteer,
        starts_on=today - timedelta(days=change.get("started_days_ago", 28)),
        status=change.get("placement_status", "active"),
    )
    followups.run(session, now=at(today))
    asked = {key.split(":")[2] for key, _, _ in messages(session)}
    if volunteer_asked is None:
        assert asked == set() and placement.followed_up_at is None
    else:
        assert asked == ({"volunteer", "host"} if volunteer_asked else {"host"})
        assert placement.followed_up_at is not None


def test_an_opted_out_host_is_not_asked_but_the_volunteer_is(session: Session) -> None:
    provider = make_provider(session)
    host = make_organisation(session, provider, opted_out_at=at(START))
    make_placement(session, provider, organisation=host, starts_on=START)
    followups.run(session, now=at(START + timedelta(days=28)))
    assert [key.split(":")[2] for key, _, _ in messages(session)] == ["volunteer"]


def test_each_is_asked_on_the_channel_it_prefers(session: Session) -> None:
    provider = make_provider(session)
    volunteer = make_volunteer(
        session, provider, consent_telegram=True, preferred_channel="telegram"
    )
    session.add(models.TelegramChat(chat_id=987654321, volunteer=volunteer))
    make_placement(session, provider, volunteer, starts_on=START)
    followups.run(session, now=at(START + timedelta(days=28)))
    assert [(key.split(":")[-1], recipient) for key, _, recipient in messages(session)] == [
        ("telegram", "987654321"),
        ("email", session.scalars(select(models.Organisation.contact_email)).one()),
    ]


def test_a_followup_due_in_a_periods_last_week_goes_out_when_the_next_opens(
    session: Session,
) -> None:
    provider = make_provider(session)
    placement = make_placement(session, provider, starts_on=date(2026, 8, 30))
    now = at(date(2026, 9, 27))
    followups.run(session, now=now)
    assert placement.followed_up_at == now
    rolling = session.scalars(select(models.Round)).all()
    assert {r.period_label for r in rolling} == {"2026/27 H2"}
    opens = localtime.day_starts(date(2026, 10, 1))
    due = session.scalars(select(models.OutboxMessage.next_attempt_at)).all()
    assert due == [opens, opens]


def test_an_unanswered_followup_is_reminded_once_a_week_later(session: Session) -> None:
    provider = make_provider(session)
    answered, waiting = (make_placement(session, provider, starts_on=START) for _ in range(2))
    sent = START + timedelta(days=28)
    followups.run(session, now=at(sent))
    invitation = session.scalars(
        select(models.Invitation).where(
            models.Invitation.placement_id == answered.id,
            models.Invitation.volunteer_id.is_not(None),
        )
    ).one()
    response = flow.start(session, invitation, channel="web", now=at(sent, 14))
    for question, value in (("placement_happiness", "happy"), ("ease_of_access", "easy")):
        flow.answer(session, response, question, value, now=at(sent, 14))
    flow.complete(session, response, now=at(sent, 15))

    assert followups.run(session, now=at(sent + timedelta(days=6), 23)).reminders == 0
    assert followups.run(session, now=at(sent + timedelta(days=7))).reminders == 3
    assert followups.run(session, now=at(sent + timedelta(days=8))).reminders == 0
    reminded = [key for key, template, _ in messages(session) if template == "reminder"]
    waiting_ids = session.scalars(
        select(models.Invitation.id)
        .where(models.Invitation.id != invitation.id)
        .order_by(models.Invitation.id)
    ).all()
    assert reminded == [f"followup-remind:{i}:email" for i in waiting_ids]


def test_the_dispatcher_tick_counts_followups(session: Session) -> None:
    from collector.delivery.dispatcher import TickReport

    report = TickReport(followups=2, followup_messages=4, erased=1)
    assert report.busy
    assert "placements followed up 2 (4 messages)" in report.summary()
    assert "volunteers erased 1" in report.summary()


def test_followup_status_says_who_answered(session: Session) -> None:
    provider = make_provider(session)
    placement = make_placement(session, provider, starts_on=START)
    assert followups.followup_status(session, placement) == {}
    followups.run(session, now=at(START + timedelta(days=28)))
    assert followups.followup_status(session, placement) == {
        "volunteer": "invited",
        "host": "invited",
    }


def test_opting_a_volunteer_out_cancels_their_followups(session: Session) -> None:
    provider = make_provider(session)
    volunteer = make_volunteer(session, provider)
    make_placement(session, provider, volunteer, starts_on=START)
    followups.run(session, now=at(START + timedelta(days=28)))
    assert followups.opt_out_volunteer(session, volunteer) == 1
    statuses = session.scalars(
        select(models.OutboxMessage.status).order_by(models.OutboxMessage.id)
    ).all()
    assert statuses == ["cancelled", "pending"]  # the host's stays
    assert volunteer.opted_out_at is not None


def _emails(session: Session, settings: Settings) -> list[EmailMessage]:
    rows = session.scalars(select(models.OutboxMessage).order_by(models.OutboxMessage.id)).all()
    return [
        mailer.render_email(
            settings,
            Outgoing(
                id=row.id,
                dedupe_key=row.dedupe_key,
                channel=row.channel,
                recipient=row.recipient,
                template=row.template,
                data=row.data,
                attempts=1,
                claimed_until=utcnow(),
            ),
        )
        for row in rows
    ]


def _text(email: EmailMessage) -> str:
    part = email.get_body(("plain",))
    assert part is not None
    return " ".join(part.get_content().split())


def test_followup_emails_speak_to_the_volunteer_and_the_host_about_the_placement(
    session: Session, settings: Settings
) -> None:
    provider = make_provider(session, name="Charnwood Volunteer Centre")
    host = make_organisation(session, provider, name="Loughborough Foodbank")
    volunteer = make_volunteer(session, provider, name="Sam Patel")
    make_placement(session, provider, volunteer, host, starts_on=START, role="Van driver")
    sent = START + timedelta(days=28)
    followups.run(session, now=at(sent))
    followups.run(session, now=at(sent + timedelta(days=7)))
    to_volunteer, to_host, reminder_volunteer, reminder_host = _emails(session, settings)

    text = _text(to_volunteer)
    assert text.startswith("Hello Sam Patel,")
    assert (
        "Charnwood Volunteer Centre placed you with Loughborough Foodbank as Van driver a few "
        "weeks ago, and would like to know how it is going." in text
    )
    assert "Loughborough Foodbank does not see them" in text
    assert "totals from at least 5 volunteers" in text
    assert "The link is for you only" in text and "groups" not in text
    assert "Stop surveys from Charnwood Volunteer Centre" in text
    html = to_volunteer.get_body(("html",))
    assert html is not None and "placed you with Loughborough Foodbank" in html.get_content()

    text = _text(to_host)
    assert text.startswith("Hello Loughborough Foodbank,")
    assert "placed a volunteer with Loughborough Foodbank recently" in text
    assert "recruiting and managing volunteers" in text
    assert "Sam Patel" not in text and "Van driver" not in text  # the host survey is the group's

    assert "still like to know how your placement with Loughborough Foodbank is going" in _text(
        reminder_volunteer
    )
    assert "how confident Loughborough Foodbank feels" in _text(reminder_host)
