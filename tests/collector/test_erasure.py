"""Erasing a volunteer leaves no personal field behind and every KPI as it was; the retention
sweep erases exactly the volunteers inactive for longer than their provider keeps them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, localtime, models, rounds, schedules
from collector.config import Settings
from collector.delivery import chats
from collector.delivery.dispatcher import Dispatcher
from collector.models import Base, utcnow
from collector.volunteering import erasure, followups
from tests.collector.conftest import Run
from tests.collector.mail_helpers import Recorder
from tests.factories import (
    make_enquiry,
    make_organisation,
    make_placement,
    make_provider,
    make_volunteer,
)

NAME = "Zanele Okonkwo-Fitzgerald"
EMAIL = "zanele.of@example.net"
CHAT_ID = 7788990011
START = date(2026, 5, 4)


def at(day: date, hour: int = 12) -> datetime:
    return localtime.day_starts(day) + timedelta(hours=hour)


def everywhere(engine: Engine, *needles: str) -> list[str]:
    """Give each table.column (and row) of the whole database where a needle appears."""
    found = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    if isinstance(value, bytes):
                        shown = value.decode("latin-1")
                    elif isinstance(value, dict | list):
                        shown = json.dumps(value)
                    else:
                        shown = str(value)
                    found += [
                        f"{table.name}.{column}: {needle}"
                        for needle in needles
                        if needle.lower() in shown.lower()
                    ]
    return found


def kpis(sessions: sessionmaker[Session], round_id: int) -> dict[str, Any]:
    """Give the leicestershire-val report of a round as plain data."""
    from analysis.build import build_reports

    with sessions() as session:
        [report] = build_reports(
            session.connection(), framework="leicestershire-val", round_id=round_id
        )
        return report.to_json()


def answer(session: Session, invitation: models.Invitation, when: datetime, **values: Any) -> None:
    response = flow.start(session, invitation, channel="web", now=when)
    for question, value in values.items():
        flow.answer(session, response, question, value, now=when)
    flow.complete(session, response, now=when)


def volunteer_invitation(session: Session, placement_id: int) -> models.Invitation:
    return session.scalars(
        select(models.Invitation).where(
            models.Invitation.placement_id == placement_id,
            models.Invitation.volunteer_id.is_not(None),
        )
    ).one()


@pytest.fixture
def story(settings: Settings, session_factory: sessionmaker[Session]) -> dict[str, int]:
    """A volunteer who enquired, was placed twice, linked Telegram, was sent follow-ups (one
    sent, one waiting), answered one with a comment naming them; and five others who answered."""
    with db.transaction(session_factory) as session:
        provider = make_provider(session, name="Charnwood Volunteer Centre")
        volunteer = make_volunteer(
            session, provider, name=NAME, contact_email=EMAIL, district="Charnwood"
        )
        make_enquiry(session, provider, volunteer=volunteer, district="Charnwood")
        first = make_placement(session, provider, volunteer, starts_on=START, role="Driver")
        others = [make_placement(session, provider, starts_on=START) for _ in range(5)]
        followups.run(session, now=at(START + timedelta(days=28)))
        for n, placement in enumerate(others):
            answer(
                session,
                volunteer_invitation(session, placement.id),
                at(START + timedelta(days=29)),
                placement_happiness="happy" if n < 3 else "unhappy",
                ease_of_access="easy",
            )
        ids = {"volunteer": volunteer.id, "provider": provider.id, "first": first.id}
    # The dispatcher sends the first follow-ups.
    Dispatcher(
        replace(settings, email_per_second=10_000),
        session_factory,
        {"email": Recorder()},  # type: ignore[dict-item]
        "w1",
        clock=lambda: at(START + timedelta(days=28), 13),
    ).tick()
    with db.transaction(session_factory) as session:
        invitation = volunteer_invitation(session, ids["first"])
        chats.attach_invitation(session, CHAT_ID, invitation)
        chat = chats.chat_for(session, CHAT_ID)
        assert chat is not None
        chats.link_recipient(session, chat)
        answer(
            session,
            invitation,
            at(START + timedelta(days=30)),
            placement_happiness="very_happy",
            ease_of_access="very_easy",
            hours_per_month=None,
            comments=f"Thanks from {NAME}, write to {EMAIL}",
        )
        volunteer = session.get(models.Volunteer, ids["volunteer"])
        assert volunteer is not None
        volunteer.preferred_channel = "telegram"
        # A second placement: its follow-up waits in the outbox, to the Telegram chat.
        second = make_placement(
            session, volunteer.provider, volunteer, starts_on=START + timedelta(days=20)
        )
        followups.run(session, now=at(START + timedelta(days=48)))
        ids["round"] = invitation.round_id
        ids["second"] = second.id
    return ids


def test_erasure_leaves_no_personal_field_and_the_kpis_unchanged(
    story: dict[str, int], engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    needles = (NAME, EMAIL, str(CHAT_ID), "Okonkwo")
    before = everywhere(engine, *needles)
    # The story put them where they would be: the volunteer, the chat, the outbox, the answer.
    assert {place.split(":")[0] for place in before} >= {
        "volunteers.name",
        "volunteers.contact_email",
        "telegram_chats.chat_id",
        "outbox_messages.recipient",
        "outbox_messages.data",
        "answers.value",
    }
    report = kpis(session_factory, story["round"])
    assert report["kpis"][[k["id"] for k in report["kpis"]].index("VAL 27")]["overall"]["n"] == 6

    with db.transaction(session_factory) as session:
        volunteer = session.get(models.Volunteer, story["volunteer"])
        assert volunteer is not None
        done = erasure.erase_volunteer(session, volunteer, now=at(START + timedelta(days=60)))
    assert (done.chats, done.answers) == (1, 1)
    # The first follow-up sent, the second not; and the line telling the volunteer's chat that
    # the survey was finished on the web, not sent yet.
    assert (done.messages, done.cancelled) == (3, 2)

    assert everywhere(engine, *needles) == []
    assert kpis(session_factory, story["round"]) == report
    with session_factory() as session:
        volunteer = session.get(models.Volunteer, story["volunteer"])
        assert volunteer is not None
        assert volunteer.erased_at == at(START + timedelta(days=60))
        assert (volunteer.name, volunteer.contact_email) == (None, None)
        assert volunteer.district == "Charnwood"  # a segment, as on the response: kept
        assert not (volunteer.consent or volunteer.consent_email or volunteer.consent_telegram)
        assert volunteer.external_ref.startswith("VOL")  # kept: an import cannot bring them back
        assert len(volunteer.placements) == 2  # kept, for VAL 26
        statuses = session.scalars(
            select(models.OutboxMessage.status)
            .join(models.Invitation)
            .where(models.Invitation.volunteer_id == volunteer.id)
            .order_by(models.OutboxMessage.id)
        ).all()
        assert statuses == ["sent", "cancelled"]
        # Their choice answers stay, with the district copied when they started.
        [response] = session.scalars(
            select(models.Response)
            .join(models.Invitation)
            .where(models.Invitation.volunteer_id == volunteer.id)
        ).all()
        assert response.district == "Charnwood"
        assert {a.question_id for a in response.answers} == {
            "placement_happiness",
            "ease_of_access",
        }

    # Nothing more goes to them, ever: the schedules find no address.
    with db.transaction(session_factory) as session:
        assert followups.queue_reminders(session, now=at(START + timedelta(days=56))) == 1  # host
        volunteer = session.get(models.Volunteer, story["volunteer"])
        assert volunteer is not None
        assert rounds.choose_channel(volunteer, ["email", "telegram"]) is None


def test_a_chat_a_staff_member_also_uses_is_unlinked_not_deleted(session: Session) -> None:
    provider = make_provider(session)
    volunteer = make_volunteer(session, provider)
    user = models.User(
        email="staff@example.org", name="Staff", password_hash="x", role="staff", provider=provider
    )
    session.add(user)
    session.add(models.TelegramChat(chat_id=CHAT_ID, volunteer=volunteer, user=user))
    session.flush()
    assert erasure.erase_volunteer(session, volunteer).chats == 1
    chat = chats.chat_for(session, CHAT_ID)
    assert chat is not None and chat.volunteer_id is None and chat.user_id == user.id


def make_old_volunteer(session: Session, provider: models.Provider, days: int) -> models.Volunteer:
    """Add a volunteer recorded, and consenting, `days` ago."""
    then = utcnow() - timedelta(days=days)
    return make_volunteer(session, provider, created_at=then, consent_at=then)


def test_the_retention_sweep_erases_only_the_long_inactive(session: Session) -> None:
    provider = make_provider(session, volunteer_retention_days=365)
    today = localtime.uk(utcnow()).date()
    old = timedelta(days=400)
    gone = make_old_volunteer(session, provider, 500)
    ended = make_old_volunteer(session, provider, 500)
    make_placement(
        session, provider, ended, starts_on=today - old, status="ended", ended_on=today - old
    )
    recent_end = make_old_volunteer(session, provider, 500)
    make_placement(
        session,
        provider,
        recent_end,
        starts_on=today - old,
        status="ended",
        ended_on=today - timedelta(days=100),
    )
    active = make_old_volunteer(session, provider, 500)
    make_placement(session, provider, active, starts_on=today - old, status="active")
    enquired = make_old_volunteer(session, provider, 500)
    make_enquiry(session, provider, volunteer=enquired, enquired_on=today - timedelta(days=10))
    new = make_old_volunteer(session, provider, 30)
    other_provider = make_provider(session)  # keeps them for the default 730 days
    kept_longer = make_old_volunteer(session, other_provider, 500)

    done = schedules.run_schedules(session)
    assert done["erased"] == 2
    erased = {v.id for v in session.scalars(select(models.Volunteer)) if v.erased_at is not None}
    assert erased == {gone.id, ended.id}
    for volunteer in (recent_end, active, enquired, new, kept_longer):
        assert volunteer.name is not None
    events = session.scalars(
        select(models.AuditEvent).where(models.AuditEvent.action == "volunteer.erase")
    ).all()
    assert sorted(e.subject or "" for e in events) == sorted(
        [f"volunteer {gone.id}", f"volunteer {ended.id}"]
    )
    assert all(e.details["reason"] == "retention" for e in events)
    assert all(e.actor == erasure.SWEEP_ACTOR for e in events)
    assert erasure.sweep(session) == 0  # once is enough


def test_a_recent_followup_answer_keeps_a_volunteer(session: Session) -> None:
    provider = make_provider(session, volunteer_retention_days=365)
    volunteer = make_old_volunteer(session, provider, 500)
    placement = make_placement(
        session,
        provider,
        volunteer,
        starts_on=START,
        status="ended",
        ended_on=START + timedelta(days=40),
    )
    followups.follow_up(session, placement, now=at(START + timedelta(days=28)))
    invitation = volunteer_invitation(session, placement.id)
    answer(
        session,
        invitation,
        at(START + timedelta(days=30)),
        placement_happiness="happy",
        ease_of_access="easy",
    )
    later = at(START + timedelta(days=40 + 364))
    assert erasure.sweep(session, now=later) == 0
    assert erasure.sweep(session, now=later + timedelta(days=2)) == 1


# The command ------------------------------------------------------------------------------


def test_the_erase_command_erases_after_confirmation_and_audits(
    run: Run, story: dict[str, int], engine: Engine
) -> None:
    result = run("volunteers", "erase", str(story["volunteer"]), input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert everywhere(engine, NAME) != []

    result = run("volunteers", "erase", str(story["volunteer"]), input="y\n")
    assert result.exit_code == 0, result.output
    assert f"Erased volunteer {story['volunteer']}." in result.output
    assert "free-text answers deleted: 1" in result.output
    assert everywhere(engine, NAME, EMAIL, str(CHAT_ID)) == []
    with engine.connect() as connection:
        action, subject, details = connection.execute(
            text("SELECT action, subject, details FROM audit_events")
        ).one()
    assert (action, subject) == ("volunteer.erase", f"volunteer {story['volunteer']}")
    assert "request" in str(details)

    again = run("volunteers", "erase", str(story["volunteer"]), "--yes")
    assert again.exit_code == 0 and "nothing to do" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("999",), "No volunteer 999"),
        ((), "Give a volunteer's number, or --expired"),
        (("1", "--expired"), "Give a volunteer's number, or --expired"),
        (("1", "--dry-run"), "--dry-run goes with --expired"),
        (("abc",), "'abc' is not a valid integer"),
    ],
)
def test_the_erase_command_refuses_bad_input(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run("volunteers", "erase", *args, "--yes")
    assert result.exit_code != 0
    assert message in result.output


def test_erase_expired_lists_then_erases(run: Run, session_factory: sessionmaker[Session]) -> None:
    with db.transaction(session_factory) as session:
        provider = make_provider(session, slug="charnwood-vc", volunteer_retention_days=365)
        old = make_old_volunteer(session, provider, 500).id
        make_old_volunteer(session, provider, 10)
    listed = run("volunteers", "erase", "--expired", "--dry-run")
    assert listed.exit_code == 0
    assert f"volunteer {old} of charnwood-vc (retention 365 days)" in listed.output
    assert "1 volunteers are past their retention period (none erased)" in listed.output
    result = run("volunteers", "erase", "--expired")
    assert result.exit_code == 0 and "Erased 1 volunteers" in result.output
    with session_factory() as session:
        assert erasure.erased_count(session) == 1


def test_followups_run_command(run: Run, session_factory: sessionmaker[Session]) -> None:
    today = localtime.uk(utcnow()).date()
    with db.transaction(session_factory) as session:
        provider = make_provider(session)
        make_placement(session, provider, starts_on=today - timedelta(days=28))
        make_organisation(session, provider)
    result = run("followups", "run")
    assert result.exit_code == 0, result.output
    assert "Followed up 1 placements: 2 invitations, 2 messages queued" in result.output
    assert "tempcheck dispatch" in result.output
    assert run("followups", "run").output.startswith("Followed up 0 placements")
