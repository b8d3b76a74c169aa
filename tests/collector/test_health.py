"""Health: the heartbeats, each check of the status, `tempcheck status`, and a real dispatcher
killed and not restarted showing as a warning within a minute."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from collector import db, health, models
from collector.backup import default_output
from collector.config import Settings
from collector.models import utcnow
from tests.collector.conftest import Run


def _status(sessions: sessionmaker[Session], settings: Settings, **kwargs: object) -> health.Status:
    with sessions() as session:
        return health.status(session, settings, **kwargs)  # type: ignore[arg-type]


def _check(found: health.Status, key: str) -> health.Check:
    return next(c for c in found.checks if c.key == key)


def _message(session: Session, n: int, **values: object) -> None:
    session.add(
        models.OutboxMessage(
            dedupe_key=f"health:{n}",
            channel="email",
            recipient=f"group{n}@example.org",
            template="invite",
            data={},
            **values,
        )
    )


def test_a_dispatcher_is_ok_while_it_beats_and_a_warning_once_silent_or_stopped(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    now = utcnow()
    found = _check(_status(session_factory, settings, now=now), "dispatcher")
    assert (found.state, found.summary) == ("warning", "none has run: nothing is sent")

    with db.transaction(session_factory) as session:
        health.beat(session, "dispatcher", "host:up:5000", now, starting=True)
    found = _check(_status(session_factory, settings, now=now + timedelta(seconds=5)), "dispatcher")
    assert found.state == "ok"
    assert found.summary == "1 running (host:up:5000), last heartbeat 5 s ago"
    assert found.figures["running"] == 1

    # Silent for three heartbeats (45 s by default): taken for dead, with its name.
    later = now + timedelta(seconds=3 * settings.heartbeat_seconds + 1)
    found = _check(_status(session_factory, settings, now=later), "dispatcher")
    assert found.state == "warning"
    assert "no heartbeat for 46 s (host:up:5000)" in found.summary
    assert "killed" in found.summary

    with db.transaction(session_factory) as session:
        health.beat(session, "dispatcher", "host:up:5000", later)
        health.stopped(session, "dispatcher", "host:up:5000", later)
    found = _check(
        _status(session_factory, settings, now=later + timedelta(minutes=3)), "dispatcher"
    )
    assert found.state == "warning"
    assert found.summary == "stopped 3 min ago (host:up:5000), none running"


def test_the_bot_is_ok_when_not_set_up_and_a_warning_when_set_up_and_silent(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    assert _check(_status(session_factory, settings), "bot").summary == (
        "not set up (no TELEGRAM_BOT_TOKEN)"
    )
    with_bot = replace(settings, telegram_bot_token="123:abc")
    assert _check(_status(session_factory, with_bot), "bot").state == "warning"
    with db.transaction(session_factory) as session:
        health.beat(session, "bot", "host:42", utcnow(), starting=True)
    assert _check(_status(session_factory, with_bot), "bot").state == "ok"


def test_messages_due_for_long_and_failed_sends_of_the_last_day_are_warnings(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    now = utcnow()
    with db.transaction(session_factory) as session:
        _message(session, 1, next_attempt_at=now - timedelta(minutes=5))
        _message(session, 2, next_attempt_at=now + timedelta(minutes=5), attempts=1)
        _message(session, 3, status="sent", next_attempt_at=now - timedelta(days=3))
        # Given up two days ago: no longer "the last day".
        _message(session, 4, status="failed", failed_at=now - timedelta(days=2))
    found = _status(session_factory, settings, now=now)
    waiting, failed = _check(found, "outbox"), _check(found, "failed")
    assert (waiting.state, waiting.summary) == (
        "ok",
        "1 due, the oldest for 5 min; 1 to retry or send later",
    )
    assert (failed.state, failed.figures) == ("ok", {"failed_last_day": 0, "retrying": 1})

    with db.transaction(session_factory) as session:
        _message(session, 5, next_attempt_at=now - timedelta(minutes=45))
        _message(session, 6, status="failed", failed_at=now - timedelta(hours=2))
    found = _status(session_factory, settings, now=now)
    waiting, failed = _check(found, "outbox"), _check(found, "failed")
    assert waiting.state == "warning"
    assert waiting.summary.startswith("2 due, the oldest for 45 min")
    assert failed.state == "warning"
    assert failed.summary.startswith("1 given up in the last day")
    assert not found.ok


def test_a_message_given_up_records_when(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    from collector.delivery import outbox

    with db.transaction(session_factory) as session:
        _message(session, 1)
    now = utcnow() + timedelta(seconds=1)
    with db.transaction(session_factory) as session:
        [claimed] = outbox.claim(session, "d1", limit=5, now=now, claim_seconds=15)
        outbox.mark_failed(
            session, claimed.id, "d1", "550 no such user", permanent=True, max_attempts=8, now=now
        )
    with session_factory() as session:
        row = session.get(models.OutboxMessage, claimed.id)
        assert row is not None and row.status == "failed" and row.failed_at == now


def test_the_last_backup_is_ok_when_fresh_and_a_warning_when_old_or_missing(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    settings = replace(settings, backup_dir=str(backups))
    found = _check(_status(session_factory, settings), "backup")
    assert found.state == "warning" and found.summary.startswith("none found")
    backups.mkdir()
    # A backup is named by when it was taken (collector.backup.default_output).
    old = default_output(settings, datetime.now(UTC) - timedelta(days=2, minutes=5))
    old.write_bytes(b"x")
    found = _check(_status(session_factory, settings), "backup")
    assert (found.state, found.summary) == ("warning", f"2 days ago ({old.name})")
    new = default_output(settings, datetime.now(UTC) - timedelta(minutes=5))
    new.write_bytes(b"x")
    found = _check(_status(session_factory, settings), "backup")
    assert found.state == "ok" and found.figures["file"] == new.name


def test_free_disk_space_is_measured_where_the_instance_folder_is(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    found = _check(_status(session_factory, settings), "disk")
    assert found.figures["total_bytes"] > found.figures["free_bytes"] > 0
    expected = (
        "warning"
        if found.figures["free_bytes"] < health.DISK_WARNING_BYTES
        or (found.figures["free_share"] < health.DISK_WARNING_SHARE)
        else "ok"
    )
    assert found.state == expected


def test_status_prints_each_check_and_exits_1_on_a_warning(run: Run) -> None:
    run("init")
    result = run("status")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("ok       Database: reachable, schema at revision")
    assert "warning  Dispatcher: none has run: nothing is sent" in lines
    assert "ok       Telegram bot: not set up (no TELEGRAM_BOT_TOKEN)" in lines
    assert any(line.startswith("warning  Last backup: none found") for line in lines)
    found = json.loads(run("status", "--json").output)
    assert found["state"] == "warning"
    assert set(found["checks"]) == {"outbox", "dispatcher", "bot", "failed", "backup", "disk"}
    assert found["checks"]["dispatcher"]["figures"]["running"] == 0


def test_status_says_so_when_the_database_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from collector.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        ["status"],
        env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"},
    )
    assert result.exit_code == 1
    assert (
        "warning  Database: the database cannot be reached (check DATABASE_URL, and that it "
        "is running)\n"
    ) in result.output
    assert "Traceback" not in result.output


# A real dispatcher ----------------------------------------------------------------------------


@pytest.fixture
def dispatchers(settings: Settings, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Give a list to put started dispatcher processes in; kill what is left at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _start(settings: Settings, folder: Path, name: str) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).with_name("tempcheck")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "DISPATCH_"))}
    env.update(
        DATABASE_URL=settings.resolved_database_url,
        TEMPCHECK_INSTANCE=settings.instance_path,
        HEARTBEAT_SECONDS="1",
        # Nothing is queued: the dispatcher never connects to it.
        SMTP_HOST="127.0.0.1",
        SMTP_PORT="9",
    )
    log = folder / f"{name}.log"
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(script), "dispatch", "--name", name],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _wait_for(
    sessions: sessionmaker[Session], settings: Settings, state: str, seconds: float
) -> tuple[health.Check, float]:
    """Poll the status until the dispatcher's check is `state`; give it and how long it took."""
    started = time.monotonic()
    while True:
        found = _check(_status(sessions, settings), "dispatcher")
        waited = time.monotonic() - started
        if found.state == state or waited > seconds:
            return found, waited
        time.sleep(0.2)


def test_a_real_dispatcher_killed_and_not_restarted_shows_as_a_warning_within_a_minute(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    dispatchers: list[subprocess.Popen[bytes]],
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = replace(settings, heartbeat_seconds=1)
    monkeypatch.setenv("HEARTBEAT_SECONDS", "1")  # for `tempcheck status` below
    dispatchers.append(_start(settings, tmp_path, "health-test"))
    found, _ = _wait_for(session_factory, settings, "ok", 60)
    assert found.state == "ok", (tmp_path / "health-test.log").read_text()
    assert found.summary.startswith("1 running (health-test)")

    dispatchers[0].send_signal(signal.SIGKILL)
    dispatchers[0].wait()
    found, waited = _wait_for(session_factory, settings, "warning", 60)
    assert found.state == "warning", "no warning a minute after the dispatcher was killed"
    assert "(health-test): it stopped without saying so" in found.summary
    result = run("status")
    assert result.exit_code == 1
    assert "warning  Dispatcher: no heartbeat for" in result.output

    # Started again under its name, it is ok again; stopped cleanly, it says so.
    dispatchers.append(_start(settings, tmp_path, "health-test"))
    found, _ = _wait_for(session_factory, settings, "ok", 60)
    assert found.state == "ok"
    dispatchers[1].send_signal(signal.SIGTERM)
    assert dispatchers[1].wait(timeout=60) == 0, (tmp_path / "health-test.log").read_text()
    found = _check(_status(session_factory, settings), "dispatcher")
    assert found.state == "warning"
    assert found.summary.endswith("ago (health-test), none running")
    assert found.summary.startswith("stopped ")
