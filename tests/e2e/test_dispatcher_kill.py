"""Dispatchers as real processes (`tempcheck dispatch`) against an SMTP server on loopback: one
killed with SIGKILL mid-send and restarted under its name takes the rest of its batch back at
once; another takes over from a killed one when the claim runs out; either way every message is
delivered and only the one in flight may arrive twice. Two at once on PostgreSQL deliver each
message exactly once.

No browser here (so not marked `e2e`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models, rounds
from collector.cli import mailsink
from collector.config import Settings
from collector.delivery import mailer
from collector.models import utcnow
from tests.conftest import _free_port
from tests.factories import make_provider, make_round

pytestmark = pytest.mark.slow

MESSAGES = 500
BATCH = 10
CLAIM_SECONDS = 2


@pytest.fixture
def sink() -> Iterator[tuple[mailsink.Sink, int]]:
    """Run an SMTP server on a free loopback port that keeps what it receives."""
    sink, port = mailsink.Sink(), _free_port()
    controller = mailsink.serve(sink, "127.0.0.1", port)
    yield sink, port
    controller.stop()


def queue_round(sessions: sessionmaker[Session], groups: int) -> list[str]:
    """Open a round for `groups` groups that agreed to email; give the messages' dedupe keys."""
    with db.transaction(sessions) as session:
        provider = make_provider(session)
        now = utcnow()
        session.execute(
            insert(models.Organisation),
            [
                {
                    "provider_id": provider.id,
                    "external_ref": f"K{n:04d}",
                    "name": f"Group {n}",
                    "org_type": "community_group",
                    "outcomes": "",
                    "is_member": False,
                    "contact_email": f"group{n:04d}@example.org",
                    "consent_email": True,
                    "consent_telegram": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(groups)
            ],
        )
        round_ = make_round(session, provider, open_now=False)
        assert rounds.open_round(session, round_) == groups
    with sessions() as session:
        return list(session.scalars(select(models.OutboxMessage.dedupe_key)))


def start_dispatcher(
    settings: Settings,
    port: int,
    log: Path,
    *extra: str,
    rate: int = 200,
    forever: bool = False,
    claim_seconds: int | None = CLAIM_SECONDS,
) -> subprocess.Popen[bytes]:
    """Start `tempcheck dispatch --until-idle` (or without, `forever`) as its own process,
    sending to the sink (claims of `claim_seconds`, or None for the default)."""
    script = Path(sys.executable).with_name("tempcheck")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from collector.cli import main; main()"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "DISPATCH_"))}
    env.update(
        DATABASE_URL=settings.resolved_database_url,
        TEMPCHECK_INSTANCE=settings.instance_path,
        BASE_URL=settings.base_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        SMTP_TLS="false",
        MAIL_FROM=settings.mail_from,
        EMAIL_PER_SECOND=str(rate),
        DISPATCH_BATCH=str(BATCH),
    )
    if claim_seconds is not None:
        env["DISPATCH_CLAIM_SECONDS"] = str(claim_seconds)
    # Its own folder, so that no .env of the checkout is read.
    with log.open("ab") as output:
        return subprocess.Popen(
            [*command, "dispatch", *([] if forever else ["--until-idle"]), *extra],
            cwd=log.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def finish(process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for a dispatcher to finish, and show its output if it failed."""
    code = process.wait(timeout=120)
    assert code == 0, log.read_text()


def wait_for_claims_to_expire(sessions: sessionmaker[Session]) -> None:
    """Wait until no message is held by a live claim (the killed dispatcher's run out)."""
    for _ in range(100):
        with sessions() as session:
            latest = session.scalar(
                select(func.max(models.OutboxMessage.claimed_until)).where(
                    models.OutboxMessage.status == "sending"
                )
            )
        if latest is None or latest < utcnow():
            return
        time.sleep(0.2)
    raise AssertionError("claims did not expire")


def delivered(settings: Settings, sink: mailsink.Sink, keys: list[str]) -> Counter[str]:
    """Count how many copies of each outbox message the SMTP server received."""
    by_id = {mailer.message_id(settings, key): key for key in keys}
    received = Counter(by_id[str(m["Message-ID"])] for m in sink.snapshot())
    return received


def kill_mid_batch(
    process: subprocess.Popen[bytes], server: mailsink.Sink, log: Path, after: int = 155
) -> None:
    """Kill a dispatcher with SIGKILL once `after` emails have arrived (mid-batch)."""
    while server.count < after:
        assert process.poll() is None, log.read_text()
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert server.count < after + 2 * BATCH, "the dispatcher finished before it could be killed"


def claimed_keys(sessions: sessionmaker[Session]) -> set[str]:
    """Give the dedupe keys of the messages held under a claim (status sending)."""
    with sessions() as session:
        return set(
            session.scalars(
                select(models.OutboxMessage.dedupe_key).where(
                    models.OutboxMessage.status == "sending"
                )
            )
        )


def test_a_dispatcher_killed_mid_batch_and_restarted_under_its_name_sends_the_rest_at_once(
    settings: Settings,
    session_factory: sessionmaker[Session],
    sink: tuple[mailsink.Sink, int],
    tmp_path: Path,
) -> None:
    server, port = sink
    keys = queue_round(session_factory, 100)
    log = tmp_path / "dispatch.log"
    # The default claim length: the restart must not wait for it to run out.
    process = start_dispatcher(settings, port, log, "--name", "d1", claim_seconds=None)
    kill_mid_batch(process, server, log, after=35)
    in_batch = claimed_keys(session_factory)
    assert 1 <= len(in_batch) <= BATCH  # the killed one's batch: sent or not, unrecorded

    # Run to idle at once: what is still claimed when it stops was not taken back.
    finish(start_dispatcher(settings, port, log, "--name", "d1", claim_seconds=None), log)

    with session_factory() as session:
        statuses = Counter(session.scalars(select(models.OutboxMessage.status)))
    assert statuses == {"sent": 100}
    copies = delivered(settings, server, keys)
    assert set(copies) == set(keys)  # every message arrived
    twice = {key for key, count in copies.items() if count > 1}
    assert max(copies.values()) <= 2 and len(twice) <= 1 and twice <= in_batch
    assert f"{len(in_batch)} messages were still claimed by an earlier run of dispatcher d1" in (
        log.read_text()
    )
    print(
        f"\nSIGKILL with {len(in_batch)} messages of its batch claimed; restarted under its name"
        f" it took them back at once: every message delivered, {len(twice)} twice"
    )


def test_a_dispatcher_killed_mid_send_is_taken_over_when_its_claim_runs_out(
    settings: Settings,
    session_factory: sessionmaker[Session],
    sink: tuple[mailsink.Sink, int],
    tmp_path: Path,
) -> None:
    server, port = sink
    keys = queue_round(session_factory, MESSAGES)
    log = tmp_path / "dispatch.log"
    process = start_dispatcher(settings, port, log)
    kill_mid_batch(process, server, log)
    in_batch = claimed_keys(session_factory)

    # Another dispatcher (another name): the killed one's claim has to run out first.
    wait_for_claims_to_expire(session_factory)
    finish(start_dispatcher(settings, port, log), log)

    copies = delivered(settings, server, keys)
    assert set(copies) == set(keys)  # every message arrived
    with session_factory() as session:
        statuses = Counter(session.scalars(select(models.OutboxMessage.status)))
    assert statuses == {"sent": MESSAGES}
    twice = {key for key, count in copies.items() if count > 1}
    assert max(copies.values()) <= 2 and len(twice) <= 1 and twice <= in_batch


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one dispatcher
def test_two_dispatchers_on_postgresql_share_the_work_without_sending_twice(
    settings: Settings,
    session_factory: sessionmaker[Session],
    sink: tuple[mailsink.Sink, int],
    tmp_path: Path,
) -> None:
    server, port = sink
    keys = queue_round(session_factory, MESSAGES)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [
        start_dispatcher(settings, port, log, "--name", name, rate=100)
        for log, name in zip(logs, ("dispatcher-a", "dispatcher-b"), strict=True)
    ]
    for process, log in zip(processes, logs, strict=True):
        finish(process, log)

    copies = delivered(settings, server, keys)
    assert set(copies) == set(keys)
    assert max(copies.values()) == 1 and sum(copies.values()) == MESSAGES
    with session_factory() as session:
        by_dispatcher = dict(
            session.execute(
                select(models.OutboxMessage.claimed_by, func.count())
                .where(models.OutboxMessage.status == "sent")
                .group_by(models.OutboxMessage.claimed_by)
            ).all()
        )
    assert set(by_dispatcher) == {"dispatcher-a", "dispatcher-b"}
    assert sum(by_dispatcher.values()) == MESSAGES
    print(f"\nTwo dispatchers sent {by_dispatcher}, no message twice")


def test_a_dispatcher_stopped_with_sigterm_finishes_its_email_and_gives_the_rest_back(
    settings: Settings,
    session_factory: sessionmaker[Session],
    sink: tuple[mailsink.Sink, int],
    tmp_path: Path,
) -> None:
    server, port = sink
    keys = queue_round(session_factory, 100)
    log = tmp_path / "dispatch.log"
    process = start_dispatcher(settings, port, log, rate=50, forever=True)
    while server.count < 20:
        assert process.poll() is None, log.read_text()
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    finish(process, log)
    output = log.read_text()
    assert "Stopping after the message being sent..." in output
    assert output.splitlines()[-1].startswith(f"Stopped: sent {server.count}")
    with session_factory() as session:
        statuses = Counter(session.scalars(select(models.OutboxMessage.status)))
        attempts = Counter(
            session.scalars(
                select(models.OutboxMessage.attempts).where(
                    models.OutboxMessage.status == "pending"
                )
            )
        )
    # What was sent is recorded; nothing is left claimed; the rest waits, no attempt counted.
    assert statuses == {"sent": server.count, "pending": 100 - server.count}
    assert attempts == {0: 100 - server.count}
    assert max(delivered(settings, server, keys).values()) == 1
