"""Issue 8's "Done when", with the clock moved (no sleeping): a placement starts; nothing on day
27; its follow-up invitations are queued on day 28 exactly, and not twice (a second run, a
second dispatcher tick); the volunteer answers through the web form; VAL 27 changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, localtime, models
from collector.config import Settings
from collector.delivery.dispatcher import Dispatcher
from collector.models import utcnow
from collector.schedules import run_schedules
from collector.volunteering import followups
from forms import create_app, services
from tests.collector.mail_helpers import Recorder
from tests.factories import make_organisation, make_placement, make_provider, make_volunteer
from tests.forms.conftest import Browser


def at(day: date, hour: int = 12) -> datetime:
    return localtime.day_starts(day) + timedelta(hours=hour)


def followup_day() -> date:
    """Give a follow-up day no later than today whose rolling round takes answers today."""
    today = localtime.uk(utcnow()).date()
    if followups.period_for_followup(today) != followups.period_of(today):
        return today - timedelta(days=followups.LAST_DAYS)  # today is in a period's last week
    return today


def val_27(sessions: sessionmaker[Session], round_id: int) -> tuple[int | None, int | None]:
    """Give VAL 27's (n, numerator) in the leicestershire-val report of a rolling round."""
    from analysis.build import build_reports

    with sessions() as session:
        [report] = build_reports(
            session.connection(), framework="leicestershire-val", round_id=round_id
        )
        cell = report.result("VAL 27").overall
        return cell.n, cell.numerator


def test_a_placement_is_followed_up_on_day_28_once_and_its_answer_counts_in_val_27(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    due = followup_day()
    starts = due - timedelta(days=28)
    period = followups.period_of(due)
    # Five other volunteers placed a few days earlier (in the same period), who answered.
    earlier = min(3, (due - period.first).days)
    with db.transaction(session_factory) as session:
        provider = make_provider(session, name="Charnwood Volunteer Centre")
        others = [
            make_placement(session, provider, starts_on=starts - timedelta(days=earlier))
            for _ in range(5)
        ]
        volunteer = make_volunteer(session, provider, name="Sam Patel", district="Charnwood")
        host = make_organisation(session, provider, name="Loughborough Foodbank")
        placement = make_placement(session, provider, volunteer, host, starts_on=starts)
        placement_id, other_ids = placement.id, [p.id for p in others]

    def schedules(now: datetime) -> dict[str, int]:
        with db.transaction(session_factory) as session:
            return run_schedules(session, now=now)

    def invitations() -> list[models.Invitation]:
        with session_factory() as session:
            return list(
                session.scalars(
                    select(models.Invitation)
                    .where(models.Invitation.placement_id == placement_id)
                    .order_by(models.Invitation.id)
                )
            )

    if earlier:
        assert schedules(at(due - timedelta(days=earlier)))["followups"] == 5
    with db.transaction(session_factory) as session:
        for placement_ in session.scalars(
            select(models.Placement).where(models.Placement.id.in_(other_ids))
        ):
            if placement_.followed_up_at is None:  # due the same day as ours
                followups.follow_up(session, placement_, now=at(due, 0))
            [invitation] = [
                i
                for i in session.scalars(
                    select(models.Invitation).where(
                        models.Invitation.placement_id == placement_.id,
                        models.Invitation.volunteer_id.is_not(None),
                    )
                )
            ]
            happiness = "happy" if placement_.id in other_ids[:3] else "unhappy"
            response = flow.start(session, invitation, channel="web", now=at(due, 1))
            flow.answer(session, response, "placement_happiness", happiness, now=at(due, 1))
            flow.answer(session, response, "ease_of_access", "easy", now=at(due, 1))
            flow.complete(session, response, now=at(due, 1))

    # Day 27, and the last second before day 28: nothing.
    assert schedules(at(due - timedelta(days=1), 12))["followups"] == 0
    assert schedules(localtime.day_starts(due) - timedelta(seconds=1))["followups"] == 0
    assert invitations() == []

    # Day 28, at its first moment: the volunteer and the host are invited.
    day_28 = localtime.day_starts(due)
    assert schedules(day_28)["followups"] == 1
    volunteer_invitation, host_invitation = invitations()
    assert volunteer_invitation.volunteer_id is not None
    assert host_invitation.organisation_id is not None
    rolling_id = volunteer_invitation.round_id

    # A second run and two dispatcher ticks later that day add nothing; each message goes once.
    assert schedules(day_28 + timedelta(minutes=1))["followups"] == 0
    transport = Recorder()
    dispatcher = Dispatcher(
        replace(settings, email_per_second=10_000),
        session_factory,
        {"email": transport},  # type: ignore[dict-item]
        "w1",
        clock=lambda: day_28 + timedelta(hours=1),
    )
    first, second = dispatcher.tick(), dispatcher.tick()
    assert (first.followups, second.followups) == (0, 0)
    ours = [
        m
        for m in _messages(session_factory)
        if m.invitation_id in {volunteer_invitation.id, host_invitation.id}
    ]
    assert [(m.template, m.status) for m in ours] == [("invite", "sent"), ("invite", "sent")]
    assert [s for s in transport.sent if s[1] in {m.recipient for m in ours}] == [
        ("invite", m.recipient) for m in ours
    ]
    assert len(transport.sent) == len(set(transport.sent))

    # The volunteer answers through the web form: VAL 27 counts one more happy volunteer.
    assert val_27(session_factory, rolling_id) == (5, 3)
    app = create_app(settings)
    try:
        browser = Browser(app.test_client())
        link = f"/r/{volunteer_invitation.token}"
        browser.get(link)
        assert "Your volunteering placement" in browser.text
        browser.post(f"{link}/start", {"language": "en"})
        for question, value in (
            ("placement_happiness", "very_happy"),
            ("ease_of_access", "easy"),
            ("hours_per_month", None),
            ("comments", None),
        ):
            assert browser.question == question
            browser.answer(value)
        browser.post(f"{link}/check")
        assert browser.path == f"{link}/done"
    finally:
        services(app).engine.dispose()
    assert val_27(session_factory, rolling_id) == (6, 4)
    with session_factory() as session:
        response = session.scalars(
            select(models.Response).where(models.Response.invitation_id == volunteer_invitation.id)
        ).one()
        assert (response.status, response.district) == ("completed", "Charnwood")


def _messages(sessions: sessionmaker[Session]) -> list[models.OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(models.OutboxMessage).order_by(models.OutboxMessage.id)))
