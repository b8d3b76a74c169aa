"""The database: engines for SQLite and PostgreSQL, sessions, and Alembic migrations."""

from __future__ import annotations

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
from sqlalchemy.orm import Session, sessionmaker

from collector.config import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
# The execution option that marks a read-only session's connections.
READ_ONLY = "tempcheck_read_only"


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    """Create the engine for the configured database, with SQLite tuned for several processes."""
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
    return create_engine(url, pool_pre_ping=True, **kwargs)


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


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a factory for sessions that only read: on SQLite they take no write lock.

    Writing in one of these may fail with SQLITE_BUSY under load: use it only for work that
    is known not to write, and do anything else in a session from `make_sessionmaker`.
    """
    return sessionmaker(
        engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False, autoflush=False
    )


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
