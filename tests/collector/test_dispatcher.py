"""The dispatcher: delivers and records, re-checks each message, paces, stops cleanly, and runs
the schedules; with a recording transport (what would have been sent)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from collector import models, rounds
from collector.config import Settings
from collector.delivery import outbox
from collector.delivery.dispatcher import Dispatcher, Pacer, TickReport
from collector.delivery.outbox import DeliveryError, Outgoing
from collector.models import utcnow
from tests.collector.mail_helpers import Recorder, complete, messages, round_for


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Settings without pacing worth noticing."""
    return replace(settings, email_per_second=10_000)


def build(
    sessions: sessionmaker[Session], organisations: int, **overrides: object
) -> tuple[int, list[str]]:
    """Add an open round for some groups; give its id and the groups' addresses."""
    with sessions() as session, session.begin():
        round_ = round_for(session, organisations, **overrides)  # type: ignore[arg-type]
        emails = [i.organisation.contact_email for i in round_.invitations]  # type: ignore[union-attr]
        return round_.id, [e for e in emails if e]


def dispatcher(
    settings: Settings, sessions: sessionmaker[Session], transport: Recorder, **kwargs: object
) -> Dispatcher:
    return Dispatcher(settings, sessions, {"email": transport}, "w1", **kwargs)  # type: ignore[arg-type]


def test_a_tick_sends_a_batch_and_records_each_message(
    fast: Settings, session_factory: sessionmaker[Session]
) -> None:
    _, emails = build(session_factory, 3)
    transport = Recorder()
    report = dispatcher(replace(fast, dispatch_batch=2), session_factory, transport).tick()
    assert (report.claimed, report.sent) == (2, 2)
    assert transport.sent == [("invite", emails[0]), ("invite", emails[1])]
    assert [m[2] for m in messages(session_factory)] == ["sent", "sent", "pending"]
    with session_factory() as session:
        first = select(models.OutboxMessage).order_by(models.OutboxMessage.id).limit(1)
        row = session.scalars(first).first()
        assert row is not None and row.sent_at is not None and row.claimed_by == "w1"
        assert row.attempts == 1 and row.claimed_until is None


def test_failures_are_retried_later_or_given_up(
    fast: Settings, session_factory: sessionmaker[Session]
) -> None:
    _, (refused, busy, fine) = build(session_factory, 3)
    transport = Recorder()
    transport.errors[refused] = DeliveryError("550 no such user", permanent=True)
    transport.errors[busy] = DeliveryError("421 try later", permanent=False)
    report = dispatcher(fast, session_factory, transport).tick()
    assert (report.sent, report.failed, report.retrying) == (1, 1, 1)
    assert transport.sent == [("invite", fine)]
    with session_factory() as session:
        rows = {m.recipient: m for m in session.scalars(select(models.OutboxMessage))}
    assert (rows[refused].status, rows[refused].last_error) == ("failed", "550 no such user")
    assert (rows[busy].status, rows[busy].last_error) == ("pending", "421 try later")
    assert rows[busy].next_attempt_at > utcnow() + timedelta(seconds=50)
    # Not due again yet: a second tick has nothing to do.
    assert dispatcher(fast, session_factory, transport).tick().claimed == 0


def test_messages_no_longer_wanted_are_cancelled_not_sent(
    fast: Settings, session_factory: sessionmaker[Session]
) -> None:
    round_id, emails = build(session_factory, 5)
    with session_factory() as session, session.begin():
        round_ = session.get(models.Round, round_id)
        assert round_ is not None
        invitations = sorted(round_.invitations, key=lambda i: i.id)
        # Each change behind the outbox's back (none of them cancels the queued message itself).
        complete(session, invitations[0])
        invitations[1].organisation.opted_out_at = utcnow()  # type: ignore[union-attr]
        invitations[2].organisation.consent_email = False  # type: ignore[union-attr]
        invitations[3].organisation.contact_email = "new@example.org"  # type: ignore[union-attr]
    transport = Recorder()
    report = dispatcher(fast, session_factory, transport).tick()
    assert (report.sent, report.cancelled) == (2, 3)
    assert transport.sent == [("invite", "new@example.org"), ("invite", emails[4])]
    with session_factory() as session:
        rows = session.scalars(select(models.OutboxMessage).order_by(models.OutboxMessage.id))
        outcome = [(m.status, m.last_error, m.recipient) for m in rows]
    assert outcome == [
        ("cancelled", "The group answered before it was sent", emails[0]),
        ("cancelled", "The group opted out", emails[1]),
        ("cancelled", "The group can no longer be reached by email", emails[2]),
        ("sent", None, "new@example.org"),
        ("sent", None, emails[4]),
    ]


def test_a_message_is_checked_again_just_before_it_is_sent(
    fast: Settings, session_factory: sessionmaker[Session]
) -> None:
    round_id, emails = build(session_factory, 3)

    def close_the_round(message: Outgoing) -> None:
        # Staff close the round while the first message of the batch is being sent.
        with session_factory() as session, session.begin():
            round_ = session.get(models.Round, round_id)
            assert round_ is not None
            rounds.close_round(session, round_)

    transport = Recorder(on_send=close_the_round)
    report = dispatcher(fast, session_factory, transport).tick()
    assert (report.claimed, report.sent, report.cancelled) == (3, 1, 2)
    assert transport.sent == [("invite", emails[0])]
    assert [(m[2]) for m in messages(session_factory)] == ["sent", "cancelled", "cancelled"]


def test_a_message_on_a_channel_without_a_transport_waits(
    fast: Settings, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with session_factory() as session, session.begin():
        outbox.enqueue(
            session, dedupe_key="t", channel="telegram", recipient="12345", template="invite"
        )
    transport = Recorder()
    d = dispatcher(fast, session_factory, transport)
    with caplog.at_level(logging.WARNING, logger="collector.delivery.dispatcher"):
        assert d.tick().claimed == 0
        assert d.tick().claimed == 0
    assert messages(session_factory) == [("t", "invite", "pending", "12345")]
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "1 telegram messages are due, and this dispatcher cannot send telegram: they stay "
        "pending for one that can"
    ]


def test_stopping_finishes_the_message_being_sent_and_gives_the_rest_back(
    fast: Settings, session_factory: sessionmaker[Session]
) -> None:
    build(session_factory, 4)
    stop = threading.Event()
    transport = Recorder(on_send=lambda message: stop.set())  # SIGTERM while sending the first
    d = dispatcher(fast, session_factory, transport)
    total = d.run(stop_event=stop)
    assert (total.sent, total.released) == (1, 3)
    assert [m[2] for m in messages(session_factory)] == ["sent", "pending", "pending", "pending"]
    with session_factory() as session:
        attempts = session.scalars(select(models.OutboxMessage.attempts)).all()
    assert sorted(attempts) == [0, 0, 0, 1]


def test_a_batch_whose_claim_runs_out_gives_the_rest_back(
    fast: Settings, session_factory: sessionmaker[Session]
) -> None:
    build(session_factory, 4)
    clock = [utcnow()]

    def slow(message: Outgoing) -> None:
        clock[0] += timedelta(seconds=50)  # each send takes 50 s of a 120 s claim

    transport = Recorder(on_send=slow)
    long_claims = replace(fast, dispatch_claim_seconds=120)
    report = dispatcher(long_claims, session_factory, transport, clock=lambda: clock[0]).tick()
    # 120 s claim, stop with a quarter (30 s) left: two sends fit (at 0 s and 50 s).
    assert (report.sent, report.released) == (2, 2)
    assert [m[2] for m in messages(session_factory)] == ["sent", "sent", "pending", "pending"]


def test_the_heartbeat_keeps_the_claim_while_a_send_outlasts_it(
    fast: Settings, session_factory: sessionmaker[Session]
) -> None:
    build(session_factory, 1)
    taken: list[list[Outgoing]] = []

    def slow(message: Outgoing) -> None:
        # Sending takes longer than the 1-second claim; meanwhile another dispatcher looks.
        while utcnow() <= message.claimed_until + timedelta(milliseconds=300):
            time.sleep(0.05)
        with session_factory() as session, session.begin():
            taken.append(outbox.claim(session, "w2", limit=10, claim_seconds=1))

    short = replace(fast, dispatch_claim_seconds=1)
    report = dispatcher(short, session_factory, Recorder(on_send=slow)).tick()
    assert taken == [[]]  # still held by w1: nobody else sends it
    assert (report.sent, report.lost) == (1, 0)
    assert messages(session_factory)[0][2] == "sent"


def test_a_dispatcher_takes_back_at_once_what_its_earlier_run_left_claimed(
    fast: Settings, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    build(session_factory, 4)
    with session_factory() as session, session.begin():
        # w1 died holding three for an hour; w9, alive elsewhere, holds the fourth.
        left = outbox.claim(session, "w1", limit=3, claim_seconds=3600)
        held = outbox.claim(session, "w9", limit=1, claim_seconds=3600)
    transport = Recorder()
    with caplog.at_level(logging.WARNING, logger="collector.delivery.dispatcher"):
        total = dispatcher(fast, session_factory, transport).run(until_idle=True)
    assert total.sent == 3
    assert sorted(r for _, r in transport.sent) == sorted(m.recipient for m in left)
    with session_factory() as session:
        rows = {m.id: m for m in session.scalars(select(models.OutboxMessage))}
    assert [rows[m.id].status for m in left] == ["sent"] * 3
    assert [rows[m.id].attempts for m in left] == [2] * 3  # the lost run's attempt counts
    assert (rows[held[0].id].status, rows[held[0].id].claimed_by) == ("sending", "w9")
    assert "3 messages were still claimed by an earlier run of dispatcher w1" in caplog.text


def test_a_result_after_the_claim_was_taken_over_is_not_recorded(
    fast: Settings, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    build(session_factory, 1)

    def taken_over(message: Outgoing) -> None:
        with session_factory() as session, session.begin():
            session.execute(
                update(models.OutboxMessage)
                .where(models.OutboxMessage.id == message.id)
                .values(claimed_by="another")
            )

    with caplog.at_level(logging.WARNING, logger="collector.delivery.dispatcher"):
        report = dispatcher(fast, session_factory, Recorder(on_send=taken_over)).tick()
    assert (report.sent, report.lost) == (1, 1)
    assert messages(session_factory)[0][2] == "sending"  # the other dispatcher's to record
    assert "another dispatcher may send it too" in caplog.text


def test_an_unexpected_error_is_logged_without_personal_data_and_the_loop_goes_on(
    fast: Settings, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    _, emails = build(session_factory, 3)
    stop = threading.Event()
    transport = Recorder()
    transport.errors[emails[0]] = RuntimeError("bug in a transport")
    d = dispatcher(fast, session_factory, transport)
    calls = []
    real_tick = d.tick

    def tick() -> TickReport:
        calls.append(1)
        report = real_tick()
        stop.set()  # one tick after the failing one, then stop
        return report

    d.tick = tick  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="collector.delivery.dispatcher"):
        d.run(stop_event=stop)
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert failure.exc_info is not None and "dispatcher tick failed" in failure.getMessage()
    assert "@" not in caplog.text
    # The message being sent keeps its claim (it may have gone); the others went back, then
    # the next tick sent them.
    assert [m[2] for m in messages(session_factory)] == ["sending", "sent", "sent"]
    # Run until idle (a one-off run), the error is raised for the command to report.
    with session_factory() as session, session.begin():
        session.execute(
            update(models.OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(RuntimeError, match="bug in a transport"):
        dispatcher(fast, session_factory, transport).run(until_idle=True)


def test_the_schedules_run_in_each_tick(
    fast: Settings, session_factory: sessionmaker[Session]
) -> None:
    now = utcnow()
    with session_factory() as session, session.begin():
        due = round_for(
            session,
            2,
            opens_at=now - timedelta(days=3),
            closes_at=now + timedelta(days=10),
            reminder_days=[2, 5],
        )
        complete(session, sorted(due.invitations, key=lambda i: i.id)[0])
        ending = round_for(
            session, 1, opens_at=now - timedelta(days=3), closes_at=now + timedelta(hours=1)
        )
        due_id, ending_id = due.id, ending.id
    transport = Recorder()
    total = dispatcher(fast, session_factory, transport).run(until_idle=True)
    assert (total.reminders, total.reminded, total.closed) == (1, 1, 0)
    # The group that answered gets neither its invitation (cancelled) nor the reminder.
    assert total.cancelled == 1
    assert sorted(t for t, _ in transport.sent) == ["invite", "invite", "reminder"]
    # An hour later the second round closes; the next reminder of the first is days away.
    later = now + timedelta(hours=2)
    report = dispatcher(fast, session_factory, transport, clock=lambda: later).tick()
    assert (report.closed, report.reminders) == (1, 0)
    with session_factory() as session:
        assert session.get(models.Round, ending_id).status == "closed"  # type: ignore[union-attr]
        assert session.get(models.Round, due_id).status == "open"  # type: ignore[union-attr]


def test_the_pacer_spaces_sends_to_the_rate() -> None:
    now = [100.0]
    waits: list[float] = []

    class Stop:
        def wait(self, seconds: float) -> bool:
            waits.append(round(seconds, 6))
            now[0] += seconds
            return False

    pacer = Pacer(4, clock=lambda: now[0])
    for _ in range(3):
        pacer.wait(Stop())  # type: ignore[arg-type]
    now[0] += 2.0  # idle for a while: no burst is saved up beyond the next slot
    pacer.wait(Stop())  # type: ignore[arg-type]
    pacer.wait(Stop())  # type: ignore[arg-type]
    assert waits == [0.25, 0.25, 0.25]


def test_the_report_says_what_happened_in_one_line() -> None:
    report = TickReport(claimed=5, sent=3, failed=1, cancelled=1, reminders=1, reminded=4)
    assert report.summary() == (
        "sent 3, failed 1, cancelled 1, reminders queued 4 (from 1 schedules)"
    )
    assert not TickReport().busy
    report.add(TickReport(sent=2, closed=1))
    assert (report.sent, report.closed) == (5, 1)


# The command -------------------------------------------------------------------------------


def test_the_dispatch_command_prints_emails_without_addresses_when_smtp_is_not_set(
    run: Callable[..., Any], session_factory: sessionmaker[Session]
) -> None:
    round_id, emails = build(session_factory, 2)
    with session_factory() as session:
        tokens = session.scalars(
            select(models.Invitation.token).where(models.Invitation.round_id == round_id)
        ).all()
    result = run("dispatch", "--until-idle", "--name", "test-dispatcher")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "Dispatcher test-dispatcher: email printed to the console, not sent (SMTP_HOST is "
        "empty); webhooks: signed POSTs to their addresses; batches of 10, at most 10 emails a "
        "second."
    )
    printed = [line for line in lines if line.startswith("[email not sent: no SMTP_HOST]")]
    assert len(printed) == 2 and "(invite): Test CVS" in printed[0]
    assert lines[-2].endswith(" sent 2") and lines[-1] == "Done: sent 2."
    for secret in (*emails, *tokens):
        assert secret not in result.output
    assert [m[2] for m in messages(session_factory)] == ["sent", "sent"]
    again = run("dispatch", "--once")
    assert again.exit_code == 0 and again.output.splitlines()[-1] == "Done: sent 0."


def test_the_dispatch_command_takes_one_of_once_and_until_idle(run: Callable[..., Any]) -> None:
    result = run("dispatch", "--once", "--until-idle")
    assert result.exit_code == 1 and "Choose one of --until-idle and --once" in result.output
