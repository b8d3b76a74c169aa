"""Health: is the database there, are the dispatcher and the bot alive, is anything piling up?

`/healthz` asks only `database_reachable` (for a load balancer or an uptime monitor: no
details). Staff ask `status` (the console's status page, `tempcheck status`): six checks, each
ok or warning with one line saying why. The dispatcher and the bot prove they are alive with a
`Pulse`, a thread that writes their row in `heartbeats` every HEARTBEAT_SECONDS; one silent for
three of those (45 s) is a warning, so a dispatcher killed and not restarted shows within a
minute. A process stopped cleanly says so in its row, and that is a warning too (nothing is
sent while no dispatcher runs).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from collector import backup, db, models
from collector.config import Settings
from collector.models import utcnow

log = logging.getLogger(__name__)

OK, WARNING = "ok", "warning"
KINDS = ("dispatcher", "bot")
# A process whose heartbeat is this many intervals old is taken for dead.
SILENT_BEATS = 3
# Messages due this long and still not sent: sending is stuck or far behind.
WAITING_WARNING = timedelta(minutes=30)
# A backup older than this (a daily one that did not run) is a warning.
BACKUP_WARNING = timedelta(hours=26)
# Free disk space below either of these is a warning.
DISK_WARNING_BYTES = 1024**3
DISK_WARNING_SHARE = 0.10
# Rows of processes silent this long are removed when another of their kind starts.
FORGET_AFTER = timedelta(days=7)


# Heartbeats ------------------------------------------------------------------------------------


def beat(session: Session, kind: str, name: str, now: datetime, *, starting: bool = False) -> None:
    """Write that the process `name` of `kind` is alive now (starting: since now)."""
    values: dict[str, Any] = {"beat_at": now, "stopped_at": None}
    if starting:
        values["started_at"] = now
    db.upsert(
        session,
        models.Heartbeat,
        {"kind": kind, "name": name, "started_at": now, **values},
        ["kind", "name"],
        update=values,
    )


def stopped(session: Session, kind: str, name: str, now: datetime) -> None:
    """Write that the process stopped cleanly."""
    hb = models.Heartbeat
    session.execute(
        update(hb).where(hb.kind == kind, hb.name == name).values(beat_at=now, stopped_at=now)
    )


def forget_old(session: Session, kind: str, now: datetime) -> int:
    """Remove the rows of processes of `kind` silent for FORGET_AFTER; give how many."""
    hb = models.Heartbeat
    result = session.execute(delete(hb).where(hb.kind == kind, hb.beat_at < now - FORGET_AFTER))
    return int(getattr(result, "rowcount", 0) or 0)


class Pulse:
    """A thread that writes a process's heartbeat every `every` seconds until stopped.

    A beat that fails (the database is away) is logged and tried again at the next one: the
    status then shows the process as silent, which is the truth seen from outside.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        kind: str,
        name: str,
        every: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions, self.kind, self.name, self.every, self.clock = (
            sessions,
            kind,
            name,
            every,
            clock,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pulse {kind}", daemon=True)

    def start(self) -> None:
        """Write the first beat (the process is starting), then keep beating."""
        self._write(starting=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and write that the process stopped cleanly."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            with db.transaction(self.sessions) as session:
                stopped(session, self.kind, self.name, self.clock())
        except Exception:  # the process's way out: logged, and the row just goes silent
            log.warning("could not record that this %s stopped", self.kind, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._write()

    def _write(self, starting: bool = False) -> None:
        try:
            with db.transaction(self.sessions) as session:
                now = self.clock()
                beat(session, self.kind, self.name, now, starting=starting)
                if starting:
                    forget_old(session, self.kind, now)
        except Exception:  # the thread's boundary: logged, and the next beat tries again
            log.warning("could not write this %s's heartbeat", self.kind, exc_info=True)


# /healthz --------------------------------------------------------------------------------------


def database_reachable(engine: Engine, settings: Settings) -> bool:
    """Tell whether the database answers, and is tempcheck's (its schema is there)."""
    url = engine.url
    # A pooled connection keeps reading a SQLite file deleted under it, and a new one would
    # create an empty file: look for the file itself.
    if (
        url.get_backend_name() == "sqlite"
        and url.database not in (None, "", ":memory:")
        and not Path(url.database).is_file()
    ):
        log.warning("the SQLite database file is missing")
        return False
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT version_num FROM alembic_version")).first()
    except Exception as error:  # any failure to reach or read it is "not reachable"
        # The error's kind only: its text may name the server, never worth a password's risk.
        log.warning("the database is not reachable (%s)", type(error).__name__)
        return False
    return True


# The status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One thing the status looks at: ok or warning, one line why, and its figures."""

    key: str
    label: str
    state: str
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Tell whether nothing needs looking at."""
        return self.state == OK


@dataclass(frozen=True)
class Status:
    """Every check, at one moment."""

    at: datetime
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """Tell whether every check is ok."""
        return all(c.ok for c in self.checks)

    @property
    def warnings(self) -> list[Check]:
        """Give the checks that warn."""
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        """Give the status as plain JSON values (times in ISO 8601, UTC)."""
        return {
            "at": self.at.isoformat(),
            "state": OK if self.ok else WARNING,
            "checks": {
                c.key: {k: v for k, v in asdict(c).items() if k != "key"} for c in self.checks
            },
        }


def status(session: Session, settings: Settings, now: datetime | None = None) -> Status:
    """Look at everything an operator should know about, now."""
    now = now or utcnow()
    checks = [
        _waiting(session, now),
        _process(session, settings, "dispatcher", now),
        _process(session, settings, "bot", now),
        _failed(session, now),
        _backup(settings, now),
        _disk(settings),
    ]
    return Status(now, checks)


def age(span: timedelta) -> str:
    """Say a span of time roughly, in its largest whole unit: 12 s, 4 min, 3 h, 2 days."""
    seconds = max(int(span.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _waiting(session: Session, now: datetime) -> Check:
    m = models.OutboxMessage
    due = (m.status == "sending") | ((m.status == "pending") & (m.next_attempt_at <= now))
    count, oldest = session.execute(
        select(func.count(), func.min(m.next_attempt_at)).where(due)
    ).one()
    later = session.scalar(
        select(func.count()).where(m.status == "pending", m.next_attempt_at > now)
    )
    figures = {
        "due": count,
        "later": later or 0,
        "oldest_due_at": _iso(oldest),
        "oldest_seconds": None if oldest is None else int((now - oldest).total_seconds()),
    }
    later_text = f"; {later} to retry or send later" if later else ""
    if not count:
        return Check("outbox", "Messages waiting", OK, f"none due{later_text}", figures)
    waited = now - oldest
    state = WARNING if waited > WAITING_WARNING else OK
    summary = f"{count} due, the oldest for {age(waited)}{later_text}"
    if state == WARNING:
        summary += " (is a dispatcher running, and can it send on their channel?)"
    return Check("outbox", "Messages waiting", state, summary, figures)


def _process(session: Session, settings: Settings, kind: str, now: datetime) -> Check:
    hb = models.Heartbeat
    rows = session.scalars(select(hb).where(hb.kind == kind).order_by(hb.beat_at.desc())).all()
    silent_after = timedelta(seconds=SILENT_BEATS * settings.heartbeat_seconds)
    alive = [r for r in rows if r.stopped_at is None and now - r.beat_at <= silent_after]
    label = "Dispatcher" if kind == "dispatcher" else "Telegram bot"
    figures: dict[str, Any] = {
        "running": len(alive),
        "last_heartbeat_at": _iso(rows[0].beat_at) if rows else None,
        "last_heartbeat_seconds": int((now - rows[0].beat_at).total_seconds()) if rows else None,
        "processes": [
            {
                "name": r.name,
                "started_at": _iso(r.started_at),
                "last_heartbeat_at": _iso(r.beat_at),
                "stopped_at": _iso(r.stopped_at),
                "alive": r in alive,
            }
            for r in rows
        ],
    }
    if alive:
        names = ", ".join(r.name for r in alive)
        since = age(now - alive[0].beat_at)
        summary = f"{len(alive)} running ({names}), last heartbeat {since} ago"
        return Check(kind, label, OK, summary, figures)
    if not rows:
        if kind == "bot" and not settings.telegram_bot_token:
            return Check(kind, label, OK, "not set up (no TELEGRAM_BOT_TOKEN)", figures)
        what = "nothing is sent" if kind == "dispatcher" else "nobody is answered in Telegram"
        return Check(kind, label, WARNING, f"none has run: {what}", figures)
    last = rows[0]
    if last.stopped_at is not None:
        summary = f"stopped {age(now - last.stopped_at)} ago ({last.name}), none running"
    else:
        summary = (
            f"no heartbeat for {age(now - last.beat_at)} ({last.name}): it stopped without "
            "saying so (killed, or the machine went down), none running"
        )
    return Check(kind, label, WARNING, summary, figures)


def _failed(session: Session, now: datetime) -> Check:
    m = models.OutboxMessage
    since = now - timedelta(days=1)
    count = (
        session.scalar(select(func.count()).where(m.status == "failed", m.failed_at >= since)) or 0
    )
    retrying = (
        session.scalar(select(func.count()).where(m.status == "pending", m.attempts > 0)) or 0
    )
    figures = {"failed_last_day": count, "retrying": retrying}
    retry_text = f"; {retrying} failed once and will be tried again" if retrying else ""
    if count:
        summary = f"{count} given up in the last day (see each provider's Outbox page){retry_text}"
        return Check("failed", "Failed sends", WARNING, summary, figures)
    return Check("failed", "Failed sends", OK, f"none in the last day{retry_text}", figures)


def _backup(settings: Settings, now: datetime) -> Check:
    try:
        found = backup.last_backup(settings)
    except OSError as error:
        return Check("backup", "Last backup", WARNING, f"cannot tell: {error}", {})
    if found is None:
        return Check(
            "backup",
            "Last backup",
            WARNING,
            "none found: run `tempcheck backup` daily and copy it off the machine",
            {"at": None, "seconds": None, "file": None},
        )
    when, path = found
    figures = {"at": _iso(when), "seconds": int((now - when).total_seconds()), "file": path.name}
    state = WARNING if now - when > BACKUP_WARNING else OK
    return Check("backup", "Last backup", state, f"{age(now - when)} ago ({path.name})", figures)


def _disk(settings: Settings) -> Check:
    folders = [Path(settings.instance_path), settings.backup_folder]
    worst: tuple[int, int, Path] | None = None
    for folder in folders:
        existing = folder.resolve()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        usage = shutil.disk_usage(existing)
        if worst is None or usage.free < worst[0]:
            worst = (usage.free, usage.total, folder)
    assert worst is not None
    free, total, folder = worst
    share = free / total if total else 0.0
    figures = {"free_bytes": free, "total_bytes": total, "free_share": round(share, 3)}
    summary = (
        f"{free / 1024**3:.1f} GB free of {total / 1024**3:.1f} GB ({share:.0%}) where {folder} is"
    )
    state = WARNING if free < DISK_WARNING_BYTES or share < DISK_WARNING_SHARE else OK
    return Check("disk", "Free disk space", state, summary, figures)
