"""The database: engines for SQLite and PostgreSQL, sessions, and Alembic migrations."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from collector.config import Settings
from collector.errors import CollectorError

MIGRATIONS = Path(__file__).parent / "migrations"
# The execution option that marks a read-only session's connections.
READ_ONLY = "tempcheck_read_only"
# A pooled PostgreSQL connection that sat unused for longer than this is pinged before it is
# used again: the server may have closed it in between (a restart, an idle timeout). One in
# steady use is not, since a ping is a round trip on every request. A connection that breaks
# while in use fails that one request, and SQLAlchemy then replaces the pool's connections.
PING_AFTER_IDLE_SECONDS = 5.0
# Each engine's backup folder (BACKUP_DIR), where the register of erasures is copied as it grows.
_backup_folders: weakref.WeakKeyDictionary[Engine, Path] = weakref.WeakKeyDictionary()


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    """Create the engine for the configured database, with SQLite tuned for several processes."""
    engine = _make_engine(settings, **kwargs)
    _backup_folders[engine] = settings.backup_folder
    return engine


def backup_folder(bind: Any) -> Path | None:
    """Give the backup folder of the settings an engine (or a connection to one) was made with."""
    engine = getattr(bind, "engine", bind)
    return _backup_folders.get(getattr(engine, "_proxied", engine)) or _backup_folders.get(engine)


def _make_engine(settings: Settings, **kwargs: Any) -> Engine:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
            **kwargs,
        )
        _tune_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    engine = create_engine(url, **kwargs)
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it has been idle (SQLAlchemy's pessimistic
    disconnect handling, as pool_pre_ping does, but not on every checkout)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # The pool throws this connection away and checks out another.
                raise DisconnectionError(str(error)) from error
            raise


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (savepoints need it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a read that later turns into a write can
        # otherwise fail at once with SQLITE_BUSY when another process wrote in between,
        # which the busy timeout cannot help with. Sessions that only read say so, and take
        # no lock at all (WAL readers never wait for writers).
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory that every edge (web request, bot update, CLI) uses."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: Engine, *, snapshot: bool = True) -> sessionmaker[Session]:
    """Return a factory for sessions that only read: on SQLite they take no write lock.

    Writing in one of these may fail with SQLITE_BUSY under load: use it only for work that
    is known not to write, and do anything else in a session from `make_sessionmaker`.

    `snapshot=False`: on PostgreSQL each statement runs on its own (autocommit), which saves
    the BEGIN and ROLLBACK round trips of a transaction, for a page whose few statements need
    not see one snapshot. Anything such a session writes is kept at once: it must not write.
    """
    options: dict[str, Any] = {READ_ONLY: True}
    if not snapshot and engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    factory = sessionmaker(
        engine.execution_options(**options), expire_on_commit=False, autoflush=False
    )

    @event.listens_for(factory, "do_orm_execute")
    def _only_reads(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            raise RuntimeError("a read-only session was asked to write: use make_sessionmaker")

    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit when the block ends normally, roll back when it raises."""
    with factory() as session, session.begin():
        yield session


def upsert(
    session: Session,
    table: Any,
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
    *,
    update: Mapping[str, Any] | None = None,
) -> bool:
    """Insert a row; where it clashes on `conflict_columns`, set `update` (or leave it be).

    Give whether a row went in or was updated: with no `update`, False means the row was
    already there. Either database's own INSERT ... ON CONFLICT does it in one statement, so
    two processes racing for the same key cannot both insert.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).values(dict(values))
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(dict(values))
    else:
        raise RuntimeError(
            f"upsert supports SQLite and PostgreSQL only, not the {dialect!r} database"
        )
    if update is None:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
    else:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict_columns), set_=dict(update)
        )
    # RETURNING tells whether a row went in: through the ORM session the driver's rowcount
    # is -1 on PostgreSQL whether or not the key was already there.
    primary_key = list(table.__table__.primary_key.columns)
    return session.execute(statement.returning(*primary_key)).first() is not None


def _alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the database schema to `revision`."""
    command.upgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """Give the schema revision the database is at (None when it has none)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """Give the newest migration's revision."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def known_revisions() -> set[str]:
    """Give every schema revision this code's migrations know."""
    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


class SchemaMismatch(CollectorError):
    """The database's schema is not the one this code was written for."""

    code = "schema_mismatch"


def check_schema(engine: Engine) -> None:
    """Refuse a database behind or ahead of the code, saying which command puts it right.

    A long-running process (the web server, the bot, the dispatcher) must not run on a schema
    it was not written for: behind, its queries fail half-way through someone's answers;
    ahead, it may write rows a newer version reads differently. A database with no schema at
    all is new and is created here (there is nothing in it to lose).
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if current is None:
        upgrade(engine)
        return
    if current in known_revisions():
        raise SchemaMismatch(
            f"The database is at schema {current}, behind this tempcheck's schema {head}. "
            "Back it up with `tempcheck backup`, upgrade it with `tempcheck init`, then start "
            "again."
        )
    raise SchemaMismatch(
        f"The database is at schema {current}, which this tempcheck (schema {head}) does not "
        "know: a newer tempcheck upgraded it. Install that version or newer (`git pull && make "
        "install`), or go back to a backup taken before the upgrade with `tempcheck restore "
        "FILE --force`."
    )
