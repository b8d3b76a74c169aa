"""A round's life through the outbox: opening queues invitations, reminders reach only those who
have not answered, closing cancels what is unsent, the schedules run once, the status counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from collector import flow, localtime, models, organisations, rounds, schedules
from collector.delivery import outbox
from collector.localtime import day_ends, day_starts
from collector.models import utcnow
from tests.collector.mail_helpers import complete, round_for
from tests.factories import make_organisation, make_provider, make_round


def queued(session: Session, round_: models.Round) -> list[models.OutboxMessage]:
    """Give a round's messages in id order."""
    session.flush()
    return list(
        session.scalars(
            select(models.OutboxMessage)
            .where(models.OutboxMessage.round_id == round_.id)
            .order_by(models.OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def by_organisation(round_: models.Round) -> dict[str, models.Invitation]:
    """Give a round's invitations by organisation name."""
    return {i.organisation.name: i for i in round_.invitations}  # type: ignore[union-attr]


def test_opening_queues_one_invitation_per_group_that_agreed_to_email(session: Session) -> None:
    provider = make_provider(session, name="Harlow CVS")
    make_organisation(session, provider, name="Yes 1", contact_email="one@example.org")
    make_organisation(session, provider, name="Yes 2", contact_email="two@example.org")
    make_organisation(session, provider, name="No consent", consent_email=False)
    make_organisation(session, provider, name="No address", contact_email=None)
    make_organisation(session, provider, name="Gone", opted_out_at=utcnow())
    round_ = make_round(session, provider, open_now=False)
    assert rounds.open_round(session, round_) == 4
    invitations = by_organisation(round_)
    assert sorted(invitations) == ["No address", "No consent", "Yes 1", "Yes 2"]
    sent = queued(session, round_)
    assert [(m.recipient, m.template, m.status) for m in sent] == [
        ("one@example.org", "invite", "pending"),
        ("two@example.org", "invite", "pending"),
    ]
    first = invitations["Yes 1"]
    assert sent[0].dedupe_key == f"invite:{first.id}:email"
    assert sent[0].invitation_id == first.id and sent[0].provider_id == provider.id
    assert sent[0].data["token"] == first.token
    assert sent[0].data["provider"] == "Harlow CVS" and sent[0].data["organisation"] == "Yes 1"
    assert outbox.counts(session, round_id=round_.id)["pending"] == 2


def test_invitations_of_a_round_opening_later_wait_for_its_open_date(session: Session) -> None:
    now = utcnow()
    provider = make_provider(session)
    make_organisation(session, provider)
    round_ = make_round(
        session,
        provider,
        open_now=False,
        opens_at=now + timedelta(days=2),
        closes_at=now + timedelta(days=20),
    )
    rounds.open_round(session, round_, now=now)
    (message,) = queued(session, round_)
    assert message.next_attempt_at == round_.opens_at
    assert outbox.claim(session, "w", limit=10, now=now, claim_seconds=60) == []
    with pytest.raises(rounds.RoundError, match="nobody has been invited yet"):
        rounds.remind(session, round_, now=now)


def test_reminding_reaches_only_groups_that_have_not_answered(session: Session) -> None:
    provider = make_provider(session)
    for name in ("Answered", "Started", "Untouched", "Opted out later", "No consent"):
        make_organisation(session, provider, name=name, consent_email=name != "No consent")
    round_ = make_round(session, provider)
    invitations = by_organisation(round_)
    complete(session, invitations["Answered"])
    flow.start(session, invitations["Started"], channel="web")
    organisations.opt_out(session, invitations["Opted out later"].organisation)  # type: ignore[arg-type]
    assert rounds.remind(session, round_) == 2
    reminders = [m for m in queued(session, round_) if m.template == "reminder"]
    reminded = {m.invitation_id for m in reminders}
    assert reminded == {invitations["Started"].id, invitations["Untouched"].id}
    (reminder,) = round_.reminders
    assert (reminder.kind, reminder.queued) == ("manual", 2)
    assert {m.dedupe_key for m in reminders} == {
        f"remind:{reminder.id}:{i}:email" for i in reminded
    }


def test_a_reminder_by_hand_too_soon_after_the_last_message_is_refused_saying_when(
    session: Session,
) -> None:
    provider = make_provider(session)
    for name in ("One", "Two", "Answered"):
        make_organisation(session, provider, name=name)
    round_ = make_round(session, provider)
    answered = by_organisation(round_)["Answered"]
    complete(session, answered)
    day = timedelta(hours=24)
    # The invitations went out a moment ago: a reminder now would follow on their heels.
    with pytest.raises(rounds.TooSoon, match="went out [0-9]+ seconds? ago") as refused:
        rounds.remind(session, round_, min_interval=day)
    # The last message to those it would reach: not the one to the group that answered.
    assert refused.value.last_sent == max(
        m.created_at for m in queued(session, round_) if m.invitation_id != answered.id
    )
    assert "reminders are kept at least 1 day apart" in refused.value.message
    assert [m.template for m in queued(session, round_)] == ["invite"] * 3
    assert round_.reminders == []

    # A day later the reminder goes to the two who have not answered.
    session.execute(update(models.OutboxMessage).values(created_at=utcnow() - day))
    assert rounds.remind(session, round_, min_interval=day) == 2
    # A second one 26 seconds later is refused with the time of the first...
    later = utcnow() + timedelta(seconds=26)
    with pytest.raises(rounds.TooSoon) as again:
        rounds.remind(session, round_, min_interval=day, now=later)
    reminded = [m for m in queued(session, round_) if m.template == "reminder"]
    assert again.value.last_sent == max(m.created_at for m in reminded)
    assert f"({localtime.date_time(again.value.last_sent)} UK time)" in again.value.message
    assert len(round_.reminders) == 1
    # ...unless staff mean it (no interval), and a scheduled reminder is never held back.
    assert rounds.remind(session, round_, now=later) == 2
    assert len([m for m in queued(session, round_) if m.template == "reminder"]) == 4


def test_the_reminder_interval_is_said_in_the_unit_it_was_set_in_and_0_turns_it_off(
    session: Session,
) -> None:
    provider = make_provider(session)
    make_organisation(session, provider)
    round_ = make_round(session, provider)
    with pytest.raises(rounds.TooSoon, match="kept at least 36 hours apart"):
        rounds.remind(session, round_, min_interval=timedelta(hours=36))
    assert rounds.remind(session, round_, min_interval=timedelta(0)) == 1


def test_only_an_open_round_is_reminded(session: Session) -> None:
    draft = make_round(session, make_provider(session), open_now=False)
    with pytest.raises(rounds.RoundError, match="is draft: only an open round is reminded"):
        rounds.remind(session, draft)
    closed = make_round(session, make_provider(session))
    rounds.close_round(session, closed)
    with pytest.raises(rounds.RoundError, match="is closed"):
        rounds.remind(session, closed)


def test_closing_cancels_what_has_not_been_sent(session: Session) -> None:
    round_ = round_for(session, 3)
    first = queued(session, round_)[0]
    claimed = outbox.claim(session, "w", limit=1, claim_seconds=60)
    outbox.mark_sent(session, claimed[0].id, "w")
    assert rounds.close_round(session, round_) == 2
    assert [(m.status, m.last_error) for m in queued(session, round_)] == [
        ("sent", None),
        ("cancelled", "The round closed before it was sent"),
        ("cancelled", "The round closed before it was sent"),
    ]
    assert first.id == claimed[0].id


def test_the_schedules_queue_due_reminders_once(session: Session) -> None:
    now = utcnow()
    round_ = round_for(
        session,
        3,
        opens_at=now - timedelta(days=4),
        closes_at=now + timedelta(days=20),
        reminder_days=[3, 10],
    )
    complete(session, round_.invitations[0])
    nothing_else = {"followups": 0, "followup_messages": 0, "erased": 0}
    assert schedules.run_schedules(session, now=now) == {
        "reminders": 1,
        "reminded": 2,
        "closed": 0,
        **nothing_else,
    }
    assert schedules.run_schedules(session, now=now) == {
        "reminders": 0,
        "reminded": 0,
        "closed": 0,
        **nothing_else,
    }
    due, later = round_.reminders
    assert (due.queued_at, due.queued, later.queued_at) == (now, 2, None)
    reminders = [m for m in queued(session, round_) if m.template == "reminder"]
    assert len(reminders) == 2
    assert round_.invitations[0].id not in {m.invitation_id for m in reminders}
    # Queueing the same reminder again (a run repeated after a crash) adds nothing.
    assert rounds.remind(session, round_, reminder=due, now=now) == 0
    assert len(queued(session, round_)) == 5


def test_the_schedules_close_rounds_at_their_close_date_before_any_late_reminder(
    session: Session,
) -> None:
    now = utcnow()
    round_ = round_for(
        session,
        2,
        opens_at=now - timedelta(days=10),
        closes_at=now + timedelta(days=1),
        reminder_days=[5],
    )
    other = round_for(session, 1, closes_at=now + timedelta(days=30))
    # The dispatcher was down from before the reminder until after the close date.
    later = now + timedelta(days=2)
    assert schedules.run_schedules(session, now=later) == {
        "reminders": 0,
        "reminded": 0,
        "closed": 1,
        "followups": 0,
        "followup_messages": 0,
        "erased": 0,
    }
    assert (round_.status, round_.closed_at) == ("closed", later)
    assert {m.status for m in queued(session, round_)} == {"cancelled"}
    assert round_.reminders[0].queued_at is None
    assert other.status == "open"


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one dispatcher
def test_two_dispatchers_running_the_schedules_at_once_queue_a_reminder_once(
    session_factory: sessionmaker[Session],
) -> None:
    now = utcnow()
    with session_factory() as session, session.begin():
        round_ = round_for(
            session,
            3,
            opens_at=now - timedelta(days=4),
            closes_at=now + timedelta(days=20),
            reminder_days=[3],
        )
        round_id = round_.id
    with session_factory() as first, session_factory() as second:
        first.begin()
        second.begin()
        assert schedules.run_schedules(first, now=now)["reminded"] == 3
        assert schedules.run_schedules(second, now=now)["reminders"] == 0  # locked: skipped
        first.commit()
        second.commit()
    with session_factory() as session:
        reminders = session.scalars(
            select(models.OutboxMessage).where(
                models.OutboxMessage.round_id == round_id,
                models.OutboxMessage.template == "reminder",
            )
        ).all()
    assert len(reminders) == 3


def test_round_status_counts_invited_started_completed_and_who_to_chase(
    session: Session,
) -> None:
    provider = make_provider(session)
    for name, org_type in (
        ("Answered", "faith_group"),
        ("Started", "faith_group"),
        ("Untouched", "community_group"),
        ("Opted out", "community_group"),
    ):
        make_organisation(session, provider, name=name, org_type=org_type)
    round_ = make_round(session, provider, open_link=True)
    invitations = by_organisation(round_)
    complete(session, invitations["Answered"])
    flow.start(session, invitations["Started"], channel="web")
    organisations.opt_out(session, invitations["Opted out"].organisation)  # type: ignore[arg-type]
    anonymous = flow.start_anonymous(session, round_)
    flow.answer(session, anonymous, "intro", None)
    claimed = outbox.claim(session, "w", limit=10, claim_seconds=60)
    untouched = invitations["Untouched"].id
    outbox.mark_sent(session, next(m.id for m in claimed if m.invitation_id == untouched), "w")
    session.flush()

    status = rounds.round_status(session, round_)
    assert (status.total.invited, status.total.started, status.total.completed) == (4, 2, 1)
    assert status.total.rate == 0.25
    faith = status.by_segment["org_type"]["faith_group"]
    community = status.by_segment["org_type"]["community_group"]
    assert (faith.invited, faith.started, faith.completed) == (2, 2, 1)
    assert (community.invited, community.started, community.completed) == (2, 0, 0)
    assert status.by_channel == {"web": 1}
    assert status.anonymous_completed == 0
    assert status.messages == {"sent": 1, "sending": 2, "cancelled": 1}
    chase = {n.name: n for n in status.non_responders}
    assert sorted(chase) == ["Started", "Untouched"]
    assert chase["Started"].started and not chase["Untouched"].started
    assert chase["Untouched"].last_message_at is not None
    assert chase["Started"].last_message_at is None


def test_reminding_before_a_summer_opening_names_its_uk_day(session: Session) -> None:
    opens_on = date(utcnow().year + 1, 4, 1)  # 00:00 BST is 23:00 UTC on 31 March
    provider = make_provider(session)
    make_organisation(session, provider)
    round_ = make_round(
        session,
        provider,
        open_now=False,
        opens_at=day_starts(opens_on),
        closes_at=day_ends(opens_on + timedelta(days=29)),
    )
    rounds.open_round(session, round_)

    with pytest.raises(rounds.RoundError, match=f"opens on 1 April {opens_on.year}:"):
        rounds.remind(session, round_)
