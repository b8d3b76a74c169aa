"""Backups taken while tempcheck runs restore every answer acknowledged before they began; bad
backup files and targets are refused with a message; a restore does not bring back the personal
details of someone erased after the backup was taken. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import backup, db, flow, models
from collector.cli import main
from collector.config import Settings
from collector.contacts import erase_contact
from collector.delivery.dispatcher import Dispatcher
from collector.delivery.outbox import Outgoing
from collector.volunteering import erasure
from tests.collector.mail_helpers import Recorder, round_for
from tests.collector.test_erasure import (  # noqa: F401 - story is a fixture
    CHAT_ID,
    EMAIL,
    NAME,
    everywhere,
    story,
)
from tests.conftest import create_database, drop_database
from tests.factories import make_contact, make_provider

CLIENTS = 20
CONTACT_NAME = "Ignatius Pemberton-Olawale"
CONTACT_EMAIL = "ignatius.po@example.net"


@pytest.fixture
def fresh(settings: Settings, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Give settings for an empty database of the same kind as the test's (no schema at all),
    with the same backup folder."""
    if settings.resolved_database_url.startswith("sqlite"):
        yield replace(settings, database_url=f"sqlite:///{tmp_path / 'fresh.db'}")
        return
    server: str = request.getfixturevalue("postgres_server")
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    yield replace(settings, database_url=create_database(server, name))
    drop_database(server, name)


def cli(settings: Settings, *args: str) -> Result:
    """Run `tempcheck ARGS` on the database and instance folder of `settings`."""
    env = {
        "DATABASE_URL": settings.resolved_database_url,
        "TEMPCHECK_INSTANCE": settings.instance_path,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def answers_of(engine: Engine) -> dict[tuple[int, str], Any]:
    """Give every stored answer by (response, question)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(models.Answer.response_id, models.Answer.question_id, models.Answer.value)
        )
        return {(r, q): v for r, q, v in rows}


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(model)) or 0)


# A backup while everything runs -----------------------------------------------------------


def every_answer(view: flow.QuestionView) -> str | list[str] | None:
    """Answer every question, optional ones too (a note takes none)."""
    values = [c.value for c in view.choices]
    if view.type == "note":
        return None
    if view.type == "multiple":
        return [values[0]]
    if view.type in ("single", "scale"):
        return values[0]
    if view.type in ("integer", "decimal"):
        return "3"
    return f"Thanks, from response {view.response_id}"


def test_a_backup_taken_while_20_clients_answer_and_the_dispatcher_sends_restores_every_answer_acknowledged_before_it(  # noqa: E501
    settings: Settings, fresh: Settings, tmp_path: Path
) -> None:
    engine = db.make_engine(settings, pool_size=CLIENTS + 5)
    sessions = db.make_sessionmaker(engine)
    with db.transaction(sessions) as session:
        round_ = round_for(session, CLIENTS)
        invitations = [i.id for i in round_.invitations]
        queued = session.scalar(select(func.count()).select_from(models.OutboxMessage))
    assert len(invitations) == CLIENTS and queued == CLIENTS  # the invitations wait to be sent

    acknowledged: list[tuple[int, str, float]] = []  # (response, question, when it was saved)
    lock = threading.Lock()
    halfway = threading.Event()
    errors: list[BaseException] = []

    def client(invitation_id: int) -> None:
        """Answer one question a transaction, as a page submitted at a time does."""
        try:
            with db.transaction(sessions) as session:
                invitation = session.get(models.Invitation, invitation_id)
                assert invitation is not None
                response_id = flow.start(session, invitation, channel="web").id
            while True:
                with db.transaction(sessions) as session:
                    response = session.get(models.Response, response_id)
                    assert response is not None
                    view = flow.view(session, response)
                    if not isinstance(view, flow.QuestionView):
                        flow.complete(session, response)
                        break
                    value = every_answer(view)
                    flow.answer(session, response, view.question_id, value)
                # Committed: this is when the respondent's page says "saved".
                with lock:
                    if view.type != "note" and value is not None:  # an answer row was stored
                        acknowledged.append((response_id, view.question_id, time.monotonic()))
                    if len(acknowledged) >= CLIENTS * 2:
                        halfway.set()
                time.sleep(0.005)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)
            halfway.set()

    def slow_send(_message: Outgoing) -> None:
        time.sleep(0.02)

    sender = Recorder(on_send=slow_send)
    dispatcher = Dispatcher(
        replace(settings, email_per_second=50),
        sessions,
        {"email": sender},  # type: ignore[dict-item]
        "w1",
        idle_seconds=0.05,
    )
    stopping = threading.Event()
    dispatching = threading.Thread(target=dispatcher.run, kwargs={"stop_event": stopping})
    clients = [threading.Thread(target=client, args=(i,)) for i in invitations]
    dispatching.start()
    for thread in clients:
        thread.start()
    assert halfway.wait(60)
    output = tmp_path / "live.backup"
    began = time.monotonic()
    manifest = backup.create_backup(engine, output)
    ended = time.monotonic()
    for thread in clients:
        thread.join(60)
    stopping.set()
    dispatching.join(30)
    assert errors == []
    engine.dispose()

    before = [(r, q) for r, q, at in acknowledged if at < began]
    during = [(r, q) for r, q, at in acknowledged if began <= at <= ended]
    after = [(r, q) for r, q, at in acknowledged if at > ended]
    # The backup fell while the clients were answering (on a busy machine they may all finish
    # while it runs) and the dispatcher was sending.
    assert len(before) >= CLIENTS * 2 and during + after, (len(before), len(during), len(after))
    assert 0 < len(sender.sent) <= CLIENTS

    restored = cli(fresh, "restore", str(output))
    assert restored.exit_code == 0, restored.output
    assert "Re-applied 0 erasures" in restored.output
    fresh_engine = db.make_engine(fresh)
    live_engine = db.make_engine(settings)
    try:
        kept, live = answers_of(fresh_engine), answers_of(live_engine)
        missing = [key for key in before if key not in kept]
        assert missing == []
        assert all(kept[key] == live[key] for key in before)
        # Nothing the backup did not hold, and its counts are the copy's.
        assert set(kept) <= set(live)
        assert manifest.counts["answers"] == len(kept) == count(fresh_engine, models.Answer)
        assert manifest.counts["outbox"] == count(fresh_engine, models.OutboxMessage) == CLIENTS
        assert db.current_revision(fresh_engine) == db.head_revision()
    finally:
        fresh_engine.dispose()
        live_engine.dispose()


# The file, its checks and the refusals -----------------------------------------------------


@pytest.fixture
def taken(settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path) -> Path:
    """A backup of a database with a round of 5 groups, taken with `tempcheck backup`."""
    with db.transaction(session_factory) as session:
        round_for(session, 5)
    output = tmp_path / "backups" / "taken.backup"
    result = cli(settings, "backup", "--output", str(output))
    assert result.exit_code == 0, result.output
    assert f"Backed up to {output}" in result.output
    assert "5 organisations, 0 responses, 0 answers, 5 outbox messages" in result.output
    return output


def test_a_backup_says_what_it_holds_is_owner_only_and_verifies(
    settings: Settings, taken: Path
) -> None:
    assert stat.S_IMODE(taken.stat().st_mode) == 0o600
    first, manifest = taken.read_bytes().split(b"\n", 2)[:2]
    assert first == b"TEMPCHECK-BACKUP 1"
    described = json.loads(manifest)
    assert described["schema_revision"] == db.head_revision()
    assert described["tempcheck_version"] == backup.tempcheck_version() != "unknown"
    assert described["database"] == settings.resolved_database_url.split(":")[0].split("+")[0]

    verified = cli(settings, "backup", "--verify", str(taken))
    assert verified.exit_code == 0, verified.output
    lines = verified.output.splitlines()
    assert "Checksum:   ok" in lines and "Integrity:  ok" in lines
    assert any(line.split() == ["Organisations:", "5"] for line in lines)
    assert any(line.split() == ["Outbox", "messages:", "5"] for line in lines)


def _rewrite(path: Path, change: Any, payload: bytes | None = None) -> None:
    """Write a backup again with its manifest (or database) changed and a checksum that
    matches, as a newer tempcheck, or a faulty one, would have written it."""
    head, manifest_line, kept = path.read_bytes().split(b"\n", 2)
    payload = kept if payload is None else payload
    fields = json.loads(manifest_line)
    fields["payload_bytes"] = len(payload)
    change(fields)
    fields["sha256"] = ""
    manifest = backup.Manifest(**fields)
    body = path.parent / "payload"
    body.write_bytes(payload)
    manifest = replace(manifest, sha256=backup._checksum(manifest, body))
    path.write_bytes(head + b"\n" + json.dumps(manifest.__dict__).encode() + b"\n" + payload)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("truncated", "is cut short: it holds"),
        ("altered", "has been changed or damaged since it was written"),
        ("manifest altered", "has been changed or damaged since it was written"),
        ("not a backup", "is not a tempcheck backup"),
        ("newer schema", "comes from a newer tempcheck (version 9.0.0, schema 0099)"),
    ],
)
def test_a_bad_backup_is_refused_with_a_message_and_the_target_is_left_alone(
    settings: Settings, fresh: Settings, taken: Path, damage: str, said: str
) -> None:
    data = taken.read_bytes()
    if damage == "truncated":
        taken.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "altered":
        middle = len(data) // 2
        taken.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :])
    elif damage == "manifest altered":
        taken.write_bytes(data.replace(b'"organisations": 5', b'"organisations": 6', 1))
    elif damage == "not a backup":
        taken.write_text("id,name\n1,Harlow CVS\n")
    else:
        _rewrite(
            taken,
            lambda fields: fields.update(schema_revision="0099", tempcheck_version="9.0.0"),
        )
    restored = cli(fresh, "restore", str(taken))
    assert restored.exit_code == 1
    assert said in restored.output
    assert "Traceback" not in restored.output
    engine = db.make_engine(fresh)
    try:
        assert backup.tables_with_rows(engine) == []
        assert db.current_revision(engine) is None  # not even a schema was made
    finally:
        engine.dispose()
    if damage != "newer schema":
        verified = cli(settings, "backup", "--verify", str(taken))
        assert verified.exit_code == 1 and said in verified.output


def test_a_backup_whose_database_cannot_be_read_leaves_the_database_as_it_was(
    settings: Settings, session_factory: sessionmaker[Session], engine: Engine, taken: Path
) -> None:
    _rewrite(taken, lambda fields: None, payload=b"PGDMP and then nothing a restore can read")
    with db.transaction(session_factory) as session:
        make_provider(session, slug="added-after", name="Added after the backup")
    engine.dispose()
    refused = cli(settings, "restore", str(taken), "--force")
    assert refused.exit_code == 1
    assert "and the database was left as it was" in refused.output
    assert "Traceback" not in refused.output
    engine.dispose()
    assert count(engine, models.Provider) == 2
    assert count(engine, models.Organisation) == 5
    assert db.current_revision(engine) == db.head_revision()


def test_a_database_that_holds_data_is_replaced_only_with_force(
    settings: Settings, session_factory: sessionmaker[Session], engine: Engine, taken: Path
) -> None:
    with db.transaction(session_factory) as session:
        make_provider(session, slug="added-after", name="Added after the backup")
    refused = cli(settings, "restore", str(taken))
    assert refused.exit_code == 1
    assert "The database already holds data (in " in refused.output
    assert "give --force to replace everything in it" in refused.output
    assert count(engine, models.Provider) == 2  # nothing lost

    forced = cli(settings, "restore", str(taken), "--force")
    assert forced.exit_code == 0, forced.output
    engine.dispose()
    assert count(engine, models.Provider) == 1
    assert count(engine, models.Organisation) == 5


@pytest.mark.postgres
def test_a_missing_pg_dump_is_named(
    postgres_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(database_url=postgres_server, instance_path=str(tmp_path / "instance"))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    result = cli(settings, "backup", "--output", str(tmp_path / "x.backup"))
    assert result.exit_code == 1
    assert "pg_dump is not installed" in result.output
    assert not (tmp_path / "x.backup").exists()


# Erasures since the backup stay erased -----------------------------------------------------


def test_a_restore_does_not_bring_back_a_volunteer_or_contact_erased_after_the_backup(
    settings: Settings,
    fresh: Settings,
    story: dict[str, int],  # noqa: F811 - the fixture imported above
    engine: Engine,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, story["provider"])
        assert provider is not None
        contact_id = make_contact(
            session, provider, name=CONTACT_NAME, contact_email=CONTACT_EMAIL
        ).id
    needles = (NAME, EMAIL, str(CHAT_ID), CONTACT_NAME, CONTACT_EMAIL)
    assert len({place.split(":")[0] for place in everywhere(engine, *needles)}) >= 5
    taken = cli(settings, "backup")
    assert taken.exit_code == 0, taken.output
    (when, path) = backup.last_backup(settings) or (None, None)
    assert path is not None and path.parent == settings.backup_folder
    assert when is not None and datetime.now(UTC) - when < timedelta(minutes=1)

    with db.transaction(session_factory) as session:
        volunteer = session.get(models.Volunteer, story["volunteer"])
        contact = session.get(models.Contact, contact_id)
        assert volunteer is not None and contact is not None
        erasure.erase_volunteer(session, volunteer)
        erase_contact(session, contact)
    assert everywhere(engine, *needles) == []
    register = (settings.backup_folder / "erasures.jsonl").read_text()
    assert NAME not in register and EMAIL not in register  # which record and when, no more
    assert [json.loads(line)["kind"] for line in register.splitlines()] == [
        "volunteer",
        "contact",
    ]

    # Into a new database: the register beside the backups says what to erase again.
    restored = cli(fresh, "restore", str(path))
    assert restored.exit_code == 0, restored.output
    assert "Re-applied 2 erasures made after the backup was taken" in restored.output
    fresh_engine = db.make_engine(fresh)
    try:
        assert everywhere(fresh_engine, *needles) == []
        assert count(fresh_engine, models.Volunteer) == count(engine, models.Volunteer)
    finally:
        fresh_engine.dispose()

    # Over the live database, the file gone: the register in the database replaced says it.
    os.unlink(settings.backup_folder / "erasures.jsonl")
    engine.dispose()
    again = cli(settings, "restore", str(path), "--force")
    assert again.exit_code == 0, again.output
    assert "Re-applied 2 erasures" in again.output
    engine.dispose()
    assert everywhere(engine, *needles) == []
    with session_factory() as session:
        volunteer = session.get(models.Volunteer, story["volunteer"])
        assert volunteer is not None and volunteer.erased_at is not None
        restores = session.scalars(
            select(models.AuditEvent).where(models.AuditEvent.action == "backup.restore")
        ).all()
        assert [event.details["erasures_reapplied"] for event in restores] == [2]


# The backups `tempcheck up` takes ----------------------------------------------------------


def test_the_daily_backups_are_found_newest_first_and_the_oldest_pruned(tmp_path: Path) -> None:
    settings = Settings(instance_path=str(tmp_path / "instance"), backup_keep=2)
    assert backup.last_backup(settings) is None and backup.due(settings)
    folder = settings.backup_folder
    folder.mkdir(parents=True)
    days = [datetime(2026, 12, d, 3, 0, tzinfo=UTC) for d in (1, 3, 2)]
    for day in days:
        (folder / f"tempcheck-{day:%Y%m%dT%H%M%SZ}.backup").write_bytes(b"x")
    (folder / "elsewhere.backup").write_bytes(b"x")  # not one of up's: never counted or pruned
    assert backup.last_backup(settings) == (days[1], folder / "tempcheck-20261203T030000Z.backup")
    assert backup.due(settings, now=days[1] + timedelta(hours=25))
    assert not backup.due(settings, now=days[1] + timedelta(hours=23))
    assert [p.name for p in backup.prune(settings)] == ["tempcheck-20261201T030000Z.backup"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "elsewhere.backup",
        "tempcheck-20261202T030000Z.backup",
        "tempcheck-20261203T030000Z.backup",
    ]
