"""The outbox: queueing once per key, claiming, recording results, back-off, giving up, retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from collector.delivery import outbox
from collector.models import utcnow
from tests.factories import make_provider

NOW = utcnow().replace(microsecond=0)


def queue(session: Session, key: str, **overrides: object) -> models.OutboxMessage:
    """Queue a message due now and give its row."""
    values: dict[str, object] = {
        "dedupe_key": key,
        "channel": "email",
        "recipient": f"{key}@example.org",
        "template": "invite",
        "data": {"n": key},
        "not_before": NOW,
    }
    values.update(overrides)
    outbox.enqueue(session, **values)  # type: ignore[arg-type]
    message = outbox.message_by_key(session, key)
    assert message is not None
    return message


def row(session: Session, key: str) -> models.OutboxMessage:
    """Read a message afresh from the database."""
    session.expire_all()
    message = outbox.message_by_key(session, key)
    assert message is not None
    return message


def claim(session: Session, worker: str = "w1", limit: int = 10, **kwargs: object) -> list[str]:
    """Claim as `worker` at NOW and give the claimed dedupe keys."""
    options: dict[str, object] = {"now": NOW, "claim_seconds": 60}
    options.update(kwargs)
    claimed = outbox.claim(session, worker, limit=limit, **options)  # type: ignore[arg-type]
    return [m.dedupe_key for m in claimed]


def test_queueing_the_same_key_twice_stores_one_message(session: Session) -> None:
    assert outbox.enqueue(
        session, dedupe_key="k", channel="email", recipient="a@example.org", template="invite"
    )
    assert not outbox.enqueue(
        session, dedupe_key="k", channel="email", recipient="b@example.org", template="reminder"
    )
    rows = session.scalars(select(models.OutboxMessage)).all()
    assert [(m.recipient, m.template) for m in rows] == [("a@example.org", "invite")]


def test_an_unknown_channel_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        outbox.enqueue(session, dedupe_key="k", channel="fax", recipient="x", template="invite")


def test_claiming_takes_due_messages_oldest_first_and_marks_them_sending(session: Session) -> None:
    queue(session, "later", not_before=NOW + timedelta(minutes=5))
    queue(session, "second", not_before=NOW - timedelta(minutes=1))
    queue(session, "first", not_before=NOW - timedelta(minutes=2))
    claimed = outbox.claim(session, "w1", limit=10, now=NOW, claim_seconds=60)
    assert [m.dedupe_key for m in claimed] == ["first", "second"]
    assert claimed[0].recipient == "first@example.org" and claimed[0].data == {"n": "first"}
    assert claimed[0].attempts == 1 and claimed[0].claimed_until == NOW + timedelta(seconds=60)
    first = row(session, "first")
    assert (first.status, first.claimed_by, first.attempts) == ("sending", "w1", 1)
    assert first.claimed_until == NOW + timedelta(seconds=60)
    assert row(session, "later").status == "pending"


def test_claiming_respects_the_limit_and_the_channels(session: Session) -> None:
    for n in range(5):
        queue(session, f"e{n}")
    queue(session, "t0", channel="telegram", recipient="12345")
    assert claim(session, limit=3, channels=["email"]) == ["e0", "e1", "e2"]
    assert claim(session, limit=10, channels=["email"]) == ["e3", "e4"]
    assert claim(session, limit=10, channels=["email"]) == []
    assert row(session, "t0").status == "pending"
    assert outbox.due_without_transport(session, ["email"], now=NOW) == {"telegram": 1}


def test_a_live_claim_is_left_alone_and_an_expired_one_is_taken_over(session: Session) -> None:
    queue(session, "m")
    assert claim(session, "dead") == ["m"]
    assert claim(session, "other", now=NOW + timedelta(seconds=59)) == []
    assert claim(session, "other", now=NOW + timedelta(seconds=61)) == ["m"]
    message = row(session, "m")
    assert (message.claimed_by, message.attempts) == ("other", 2)
    # The first dispatcher wakes up: its result is not recorded over the new owner's claim.
    assert not outbox.mark_sent(session, message.id, "dead")
    assert row(session, "m").status == "sending"
    assert outbox.mark_sent(session, message.id, "other", now=NOW)
    message = row(session, "m")
    assert (message.status, message.sent_at, message.claimed_by) == ("sent", NOW, "other")
    assert claim(session, "third", now=NOW + timedelta(hours=1)) == []


def test_an_expired_claim_out_of_attempts_is_given_up_not_taken(session: Session) -> None:
    queue(session, "m")
    for n in range(3):
        assert claim(session, "w", now=NOW + timedelta(minutes=2 * n)) == ["m"]
    later = NOW + timedelta(hours=1)
    assert claim(session, "w2", now=later, max_attempts=3) == []
    message = row(session, "m")
    assert message.status == "failed"
    assert message.last_error is not None and "Gave up after 3 attempts" in message.last_error


def test_a_temporary_failure_backs_off_doubling_then_gives_up(session: Session) -> None:
    message_id = queue(session, "m").id
    now = NOW
    waits = []
    for attempt in range(1, 5):
        assert claim(session, now=now) == ["m"]
        status = outbox.mark_failed(
            session, message_id, "w1", "421 busy", permanent=False, max_attempts=4, now=now
        )
        message = row(session, "m")
        if attempt < 4:
            assert status == "pending" and message.status == "pending"
            assert message.claimed_by is None and message.last_error == "421 busy"
            waits.append(message.next_attempt_at - now)
            assert claim(session, now=message.next_attempt_at - timedelta(seconds=1)) == []
            now = message.next_attempt_at
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert status == "failed"
    assert (message.status, message.attempts) == ("failed", 4)
    assert message.last_error == "Gave up after 4 attempts: 421 busy"
    assert claim(session, now=now + timedelta(days=1)) == []


def test_back_off_is_capped_at_an_hour() -> None:
    assert outbox.backoff(1) == timedelta(minutes=1)
    assert outbox.backoff(6) == timedelta(minutes=32)
    assert outbox.backoff(7) == outbox.backoff(30) == timedelta(hours=1)


def test_a_permanent_failure_gives_up_at_once(session: Session) -> None:
    message_id = queue(session, "m").id
    claim(session)
    status = outbox.mark_failed(
        session, message_id, "w1", "550 no such user", permanent=True, max_attempts=8, now=NOW
    )
    message = row(session, "m")
    assert status == "failed"
    assert (message.status, message.attempts, message.last_error) == (
        "failed",
        1,
        "550 no such user",
    )


def test_a_failure_reported_by_a_worker_that_lost_the_claim_changes_nothing(
    session: Session,
) -> None:
    message_id = queue(session, "m").id
    claim(session, "w1")
    status = outbox.mark_failed(
        session, message_id, "w2", "oops", permanent=True, max_attempts=8, now=NOW
    )
    assert status is None
    assert row(session, "m").status == "sending"


def test_releasing_gives_unsent_claims_back_without_counting_an_attempt(
    session: Session,
) -> None:
    ids = [queue(session, k).id for k in ("a", "b", "c")]
    claim(session, "w1")
    assert outbox.release(session, "w2", ids) == 0  # not its own
    assert outbox.release(session, "w1", ids[1:]) == 2
    assert [(row(session, k).status, row(session, k).attempts) for k in ("a", "b", "c")] == [
        ("sending", 1),
        ("pending", 0),
        ("pending", 0),
    ]
    assert claim(session, "w2") == ["b", "c"]


def test_cancelling_and_readdressing_need_the_claim(session: Session) -> None:
    message_id = queue(session, "m").id
    claim(session, "w1")
    assert not outbox.readdress(session, message_id, "w2", "new@example.org")
    assert outbox.readdress(session, message_id, "w1", "new@example.org")
    assert not outbox.cancel(session, message_id, "w2", "no")
    assert outbox.cancel(session, message_id, "w1", "The group opted out")
    message = row(session, "m")
    assert (message.status, message.recipient, message.last_error) == (
        "cancelled",
        "new@example.org",
        "The group opted out",
    )


def test_retrying_puts_failed_messages_back_with_fresh_attempts(session: Session) -> None:
    ours, theirs = make_provider(session), make_provider(session)
    for key, provider in (("a", ours), ("b", ours), ("c", theirs), ("d", ours)):
        queue(session, key, provider_id=provider.id)
    claim(session)
    for key in ("a", "b", "c"):
        outbox.mark_failed(
            session, row(session, key).id, "w1", "550", permanent=True, max_attempts=8, now=NOW
        )
    outbox.mark_sent(session, row(session, "d").id, "w1", now=NOW)
    assert [m.dedupe_key for m in outbox.failures(session, provider_id=ours.id)] == ["b", "a"]
    assert len(outbox.failures(session)) == 3
    ids = [row(session, k).id for k in ("a", "c", "d")]
    # Staff of one provider retry only their own; a sent message is not sent again.
    assert outbox.retry(session, ids, provider_id=ours.id, now=NOW) == 1
    a = row(session, "a")
    assert (a.status, a.attempts, a.next_attempt_at) == ("pending", 0, NOW)
    assert row(session, "c").status == "failed" and row(session, "d").status == "sent"
    assert outbox.counts(session, provider_id=ours.id) == {
        "pending": 1,
        "sending": 0,
        "sent": 1,
        "failed": 1,
        "cancelled": 0,
    }
    assert outbox.counts(session)["failed"] == 2
    assert outbox.retry(session, []) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one dispatcher
def test_two_dispatchers_claiming_at_once_on_postgresql_take_different_messages(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        for n in range(10):
            queue(session, f"m{n}")
    with session_factory() as first, session_factory() as second:
        first.begin()
        second.begin()
        # The first claim is not committed yet: its rows are locked, and skipped by the second.
        taken_first = claim(first, "w1", limit=6)
        taken_second = claim(second, "w2", limit=6)
        first.commit()
        second.commit()
    assert len(taken_first) == 6 and len(taken_second) == 4
    assert not set(taken_first) & set(taken_second)
