"""Backups and restores: a consistent copy of the database, taken while everything runs, that
says what it is and whether it is whole; and a restore that erases again what was erased since.

A backup file is one line that names the format, one line of JSON (the manifest: the kind of
database, its schema revision, the tempcheck version, when, the counts of organisations,
responses, answers and outbox messages in the copy, the copy's size and a SHA-256 checksum
over the manifest and the copy), then the copy itself:

- SQLite: the database copied with SQLite's online backup API, which reads one consistent
  snapshot while other processes go on writing (never a file copy, which can catch a page
  half-written or miss what is still in the write-ahead log);
- PostgreSQL: `pg_dump` in its custom format, run on a snapshot exported from the
  transaction the counts are taken in, so the counts are those of the dump.

The file is written beside its final name and renamed when complete, readable by its owner
only (it holds personal data). A file cut short or changed in any byte fails its checksum.

A restore replaces the whole database with the backup (refusing one that holds data without
`force`, and a backup from a newer schema), upgrades it to the code's schema when it is older,
then re-applies the register of erasures (see `collector.erasure`): every record erased since
the backup was taken is erased again. The register is read, before anything is replaced, from
the database being replaced and from its copy in the backup folder, so neither restoring over
the live database nor restoring into a new one brings back someone's details.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from collector import audit, db, erasure, models
from collector.config import Settings
from collector.errors import CollectorError

MAGIC = b"TEMPCHECK-BACKUP 1\n"
# Backups that `tempcheck up` takes (and `tempcheck backup` without --output) are named so.
PREFIX = "tempcheck-"
SUFFIX = ".backup"
_NAMED = re.compile(r"^tempcheck-(\d{8}T\d{6}Z)(?:-\d+)?\.backup$")
_STAMP = "%Y%m%dT%H%M%SZ"
# What `--verify` counts, and the table each is in.
COUNTED = {
    "organisations": "organisations",
    "responses": "responses",
    "answers": "answers",
    "outbox": "outbox_messages",
}
# How often `tempcheck up` takes one.
DAILY = timedelta(hours=24)
# The longest manifest line read: anything longer is not a tempcheck backup.
_MOST_HEADER_BYTES = 64 * 1024


class BackupError(CollectorError):
    """A backup cannot be taken, read or restored; the message says why."""

    code = "bad_backup"


@dataclass(frozen=True)
class Manifest:
    """What a backup file says about itself."""

    database: str  # "sqlite" or "postgresql"
    schema_revision: str | None
    tempcheck_version: str
    created_at: str  # ISO 8601, UTC
    counts: dict[str, int]
    payload_bytes: int
    sha256: str = ""

    def canonical(self) -> bytes:
        """Give the manifest without its checksum, as the checksum covers it."""
        fields = asdict(self)
        fields.pop("sha256")
        return json.dumps(fields, sort_keys=True).encode()


@dataclass
class Verified:
    """What checking a backup found."""

    manifest: Manifest
    integrity: str  # "ok", or what SQLite's integrity check or pg_restore said
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Restored:
    """What a restore did."""

    manifest: Manifest
    upgraded_to: str | None  # the schema it was upgraded to, when the backup's was older
    reapplied: int  # erasures re-applied: records the backup still had un-erased
    registered: int  # erasures in the register after the restore


def tempcheck_version() -> str:
    """Give the installed tempcheck's version."""
    try:
        return metadata.version("tempcheck")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


# Taking a backup -------------------------------------------------------------------------


def default_output(settings: Settings, now: datetime | None = None) -> Path:
    """Give a new file name in the backup folder, stamped with the time (UTC)."""
    now = now or datetime.now(UTC)
    folder = settings.backup_folder
    name = f"{PREFIX}{now.astimezone(UTC).strftime(_STAMP)}"
    path = folder / f"{name}{SUFFIX}"
    number = 2
    while path.exists():
        path = folder / f"{name}-{number}{SUFFIX}"
        number += 1
    return path


def create_backup(engine: Engine, output: Path) -> Manifest:
    """Write a consistent backup of the database to `output` (owner-only); give its manifest."""
    output.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="tempcheck-backup-", dir=output.parent) as work:
        payload = Path(work) / "payload"
        if engine.dialect.name == "sqlite":
            revision, counts = _sqlite_snapshot(_sqlite_path(engine), payload)
        else:
            revision, counts = _postgres_dump(engine, payload)
        manifest = Manifest(
            database=engine.dialect.name,
            schema_revision=revision,
            tempcheck_version=tempcheck_version(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            counts=counts,
            payload_bytes=payload.stat().st_size,
        )
        manifest = Manifest(**{**asdict(manifest), "sha256": _checksum(manifest, payload)})
        partial = Path(work) / "backup"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(descriptor, 0o600)  # whatever the umask
        with os.fdopen(descriptor, "wb") as out, payload.open("rb") as copy:
            out.write(MAGIC)
            out.write(json.dumps(asdict(manifest), sort_keys=True).encode() + b"\n")
            shutil.copyfileobj(copy, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, output)
    return manifest


def _sqlite_path(engine: Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up")
    if not Path(database).is_file():
        raise BackupError(f"There is no database at {database}")
    return database


def _sqlite_snapshot(database: str, payload: Path) -> tuple[str | None, dict[str, int]]:
    source = sqlite3.connect(database, timeout=30)
    target = sqlite3.connect(payload)
    try:
        # One step: the whole database from one read snapshot, writers carrying on in the WAL.
        source.backup(target)
        # A single self-contained file, whatever mode the live database runs in.
        target.execute("PRAGMA journal_mode=DELETE")
        return _sqlite_facts(target)
    finally:
        target.close()
        source.close()


def _sqlite_facts(connection: sqlite3.Connection) -> tuple[str | None, dict[str, int]]:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    revision = None
    if "alembic_version" in tables:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    counts = {
        name: int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        for name, table in COUNTED.items()
        if table in tables
    }
    return revision, counts


def _postgres_dump(engine: Engine, payload: Path) -> tuple[str | None, dict[str, int]]:
    pg_dump = _client_tool("pg_dump")
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            # pg_dump reads the snapshot this transaction sees: the counts are the dump's.
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables = set(inspect(connection).get_table_names())
            revision = None
            if "alembic_version" in tables:
                revision = connection.execute(
                    text("SELECT version_num FROM alembic_version")
                ).scalar()
            counts = {
                name: int(connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
                for name, table in COUNTED.items()
                if table in tables
            }
            _run(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={payload}"],
                engine,
                "pg_dump",
            )
    return revision, counts


def _client_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: a PostgreSQL database is backed up and restored with "
            f"PostgreSQL's client tools, of the server's major version or newer (on Debian: "
            f"apt-get install postgresql-client)"
        )
    return found


def _libpq_environment(engine: Engine) -> dict[str, str]:
    """Give the PG* variables that reach the engine's database (the password stays out of the
    command line, where other users of the machine could read it)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[key] = str(value)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return env


def _run(command: list[str], engine: Engine, tool: str) -> None:
    done = subprocess.run(
        command, env=_libpq_environment(engine), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        raise BackupError(f"{tool} failed: {said[-1] if said else f'exit code {done.returncode}'}")


def _checksum(manifest: Manifest, payload: Path) -> str:
    digest = hashlib.sha256(manifest.canonical())
    with payload.open("rb") as copy:
        for block in iter(lambda: copy.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


# Reading one -----------------------------------------------------------------------------


@contextmanager
def opened(path: Path) -> Iterator[tuple[Manifest, Path]]:
    """Check a backup file whole and give its manifest and its copy, as a temporary file."""
    if not path.is_file():
        raise BackupError(f"There is no backup file at {path}")
    with path.open("rb") as backup:
        if backup.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{path} is not a tempcheck backup")
        header = backup.readline(_MOST_HEADER_BYTES)
        try:
            fields = json.loads(header)
            manifest = Manifest(**fields)
        except (ValueError, TypeError):
            raise BackupError(f"{path} is damaged: its description cannot be read") from None
        with tempfile.TemporaryDirectory(prefix="tempcheck-restore-") as work:
            payload = Path(work) / "payload"
            with payload.open("wb") as copy:
                shutil.copyfileobj(backup, copy, 1024 * 1024)
            size = payload.stat().st_size
            if size < manifest.payload_bytes:
                raise BackupError(
                    f"{path} is cut short: it holds {size} of the {manifest.payload_bytes} bytes "
                    "of its database (a copy that did not finish?)"
                )
            if size > manifest.payload_bytes or _checksum(manifest, payload) != manifest.sha256:
                raise BackupError(
                    f"{path} has been changed or damaged since it was written: its checksum "
                    "does not match. Use another backup."
                )
            yield manifest, payload


def verify_backup(path: Path) -> Verified:
    """Check a backup's checksum and its database's integrity; give what it holds."""
    with opened(path) as (manifest, payload):
        if manifest.database == "sqlite":
            connection = sqlite3.connect(f"file:{payload}?mode=ro", uri=True)
            try:
                result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
                _revision, counts = _sqlite_facts(connection)
            except sqlite3.DatabaseError as error:
                return Verified(manifest, f"not a readable SQLite database ({error})", {})
            finally:
                connection.close()
            integrity = "ok" if result == ["ok"] else "; ".join(result[:5])
            return Verified(manifest, integrity, counts)
        pg_restore = _client_tool("pg_restore")
        done = subprocess.run(
            [pg_restore, "--list", str(payload)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            said = done.stderr.strip().splitlines()
            return Verified(manifest, f"pg_restore cannot read it ({said[-1] if said else ''})")
        # pg_dump's archive is counted when it is restored: these are the counts of its snapshot.
        return Verified(manifest, "ok", dict(manifest.counts))


# Restoring -------------------------------------------------------------------------------


def tables_with_rows(engine: Engine) -> list[str]:
    """Give the tables of the database that hold rows (the migrations' version aside)."""
    with engine.connect() as connection:
        names = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
        return [
            name
            for name in names
            if connection.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None
        ]


def restore_backup(
    path: Path, engine: Engine, settings: Settings, *, force: bool = False, actor: str = ""
) -> Restored:
    """Replace the database with a backup, bring it to the code's schema and re-apply the
    register of erasures; give what was done."""
    with opened(path) as (manifest, payload):
        if manifest.database != engine.dialect.name:
            raise BackupError(
                f"{path} is a backup of a {manifest.database} database and this database is "
                f"{engine.dialect.name}: restore it into a {manifest.database} database"
            )
        if manifest.schema_revision is not None and manifest.schema_revision not in (
            db.known_revisions()
        ):
            raise BackupError(
                f"{path} comes from a newer tempcheck (version {manifest.tempcheck_version}, "
                f"schema {manifest.schema_revision}) than this one ({tempcheck_version()}, "
                f"schema {db.head_revision()}): upgrade tempcheck, then restore it"
            )
        holding = tables_with_rows(engine)
        if holding and not force:
            shown = ", ".join(holding[:5]) + (" ..." if len(holding) > 5 else "")
            raise BackupError(
                f"The database already holds data (in {shown}): restore into an empty database, "
                "or give --force to replace everything in it with the backup"
            )
        register = _register_before(engine, settings)
        engine.dispose()
        if engine.dialect.name == "sqlite":
            _sqlite_replace(payload, _sqlite_path(engine))
        else:
            _postgres_replace(payload, engine)
    engine.dispose()
    upgraded_to = None
    if db.current_revision(engine) != db.head_revision():
        db.upgrade(engine)
        upgraded_to = db.head_revision()
    sessions = db.make_sessionmaker(engine)
    with db.transaction(sessions) as session:
        reapplied = reapply(session, register)
        registered = len(session.scalars(select(models.Erasure.id)).all())
        audit.record(
            session,
            "backup.restore",
            actor=actor or audit.command_line_actor(),
            subject=path.name,
            details={
                "backup_taken": manifest.created_at,
                "schema": manifest.schema_revision,
                "erasures_reapplied": reapplied,
            },
        )
    return Restored(manifest, upgraded_to, reapplied, registered)


def _register_before(engine: Engine, settings: Settings) -> dict[tuple[str, int], datetime]:
    """Read the register from the database about to be replaced and from the backup folder."""
    found: dict[tuple[str, int], datetime] = {}

    def note(kind: str, record_id: int, when: datetime) -> None:
        key = (kind, record_id)
        found[key] = min(when, found.get(key, when))

    for entry in erasure.read_file(settings.backup_folder / erasure.REGISTER_FILE):
        note(*entry)
    with engine.connect() as connection:
        if "erasures" in inspect(connection).get_table_names():
            table = models.Erasure.__table__
            for kind, record_id, when in connection.execute(
                select(table.c.kind, table.c.record_id, table.c.erased_at)
            ):
                note(kind, record_id, when)
    return found


def _sqlite_replace(payload: Path, database: str) -> None:
    source = sqlite3.connect(f"file:{payload}?mode=ro", uri=True)
    target = sqlite3.connect(database, timeout=30)
    try:
        # Read it before anything is written: a copy SQLite cannot read changes nothing.
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        # The backup API writes the backup's pages over the database, through SQLite's own
        # locking and journal: the file is never half one and half the other.
        source.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as error:
        raise BackupError(
            f"The backup's database cannot be read ({error}), and the database was left as it was"
        ) from None
    finally:
        target.close()
        source.close()


def _postgres_replace(payload: Path, engine: Engine) -> None:
    """Drop every table and restore the archive in one transaction: psql runs the DROPs, then
    the SQL pg_restore writes, so a restore that fails half-way leaves the database as it was."""
    pg_restore, psql = _client_tool("pg_restore"), _client_tool("psql")
    with engine.connect() as connection:
        names = inspect(connection).get_table_names()
    # The DROPs' notices about tables not there would only fill the pipe.
    env = {**_libpq_environment(engine), "PGOPTIONS": "-c client_min_messages=warning"}
    runner = subprocess.Popen(
        [psql, "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert runner.stdin is not None and runner.stderr is not None
    try:
        runner.stdin.write(
            "".join(f'DROP TABLE IF EXISTS "{name}" CASCADE;\n' for name in names).encode()
        )
        runner.stdin.flush()
        script = subprocess.run(
            [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(payload)],
            stdout=runner.stdin,
            stderr=subprocess.PIPE,
            check=False,
        )
        if script.returncode != 0:
            # psql must not commit the DROPs: end its transaction with an error.
            runner.stdin.write(b"\nSELECT 1/0;\n")
    finally:
        runner.stdin.close()
    said = runner.stderr.read().decode(errors="replace").strip().splitlines()
    runner.stderr.close()
    if runner.wait() != 0 or script.returncode != 0:
        problem = script.stderr.decode(errors="replace").strip().splitlines() or said
        raise BackupError(
            f"pg_restore failed, and the database was left as it was: "
            f"{problem[-1] if problem else 'exit code ' + str(runner.returncode)}"
        )


def reapply(session: Session, register: dict[tuple[str, int], datetime]) -> int:
    """Write the register into the database and erase again each record it names that is not
    erased there; give how many were."""
    from collector.contacts import erase_contact
    from collector.volunteering.erasure import erase_volunteer

    for (kind, record_id), when in register.items():
        db.upsert(
            session,
            models.Erasure,
            {"kind": kind, "record_id": record_id, "erased_at": when},
            ["kind", "record_id"],
        )
    again = 0
    for (kind, record_id), when in sorted(register.items()):
        if kind == "volunteer":
            volunteer = session.get(models.Volunteer, record_id)
            if volunteer is not None and volunteer.erased_at is None:
                erase_volunteer(session, volunteer, now=when)
                again += 1
        elif kind == "contact":
            contact = session.get(models.Contact, record_id)
            if contact is not None and contact.erased_at is None:
                erase_contact(session, contact, now=when)
                again += 1
    return again


# The backups `tempcheck up` takes --------------------------------------------------------


def backups(settings: Settings) -> list[tuple[datetime, Path]]:
    """List the backups in the backup folder, oldest first, with when each was taken (UTC)."""
    folder = settings.backup_folder
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        named = _NAMED.match(path.name)
        if named and path.is_file():
            taken = datetime.strptime(named.group(1), _STAMP).replace(tzinfo=UTC)
            found.append((taken, path))
    return sorted(found)


def last_backup(settings: Settings) -> tuple[datetime, Path] | None:
    """Give the newest backup in the backup folder and when it was taken (UTC), or None."""
    found = backups(settings)
    return found[-1] if found else None


def due(settings: Settings, now: datetime | None = None) -> bool:
    """Say whether `tempcheck up` should take its daily backup now."""
    last = last_backup(settings)
    return last is None or (now or datetime.now(UTC)) - last[0] >= DAILY


def prune(settings: Settings) -> list[Path]:
    """Delete the oldest backups in the backup folder beyond BACKUP_KEEP; give those deleted."""
    found = backups(settings)
    gone = [path for _taken, path in found[: max(0, len(found) - settings.backup_keep)]]
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


def scheduled(settings: Settings, engine: Engine) -> tuple[Path, Manifest, list[Path]]:
    """Take the daily backup into the backup folder and prune the old ones."""
    output = default_output(settings)
    manifest = create_backup(engine, output)
    return output, manifest, prune(settings)
