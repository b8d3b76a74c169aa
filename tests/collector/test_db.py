"""The database: migrations match the models, SQLite is tuned, both engines work."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from collector import db
from collector.models import Base, utcnow


def test_migrations_create_exactly_the_models_tables(engine: Engine) -> None:
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        assert engine.dialect.driver == "psycopg"
        return
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()


def test_a_read_only_session_neither_takes_nor_waits_for_the_write_lock(engine: Engine) -> None:
    from sqlalchemy import func, select

    from collector.models import Provider

    writer = db.make_sessionmaker(engine)()
    try:
        writer.begin()
        writer.add(Provider(slug="locking", name="Holds the write lock"))
        writer.flush()  # on SQLite the write lock is now held until commit
        with db.transaction(db.make_read_sessionmaker(engine)) as reader:
            # Reads see the last committed state, without waiting for the writer.
            assert reader.scalar(select(func.count()).select_from(Provider)) == 0
    finally:
        writer.rollback()
        writer.close()


def test_a_read_only_session_refuses_to_write(engine: Engine) -> None:
    from sqlalchemy import func, select, update

    from collector.models import Provider

    for snapshot in (True, False):
        factory = db.make_read_sessionmaker(engine, snapshot=snapshot)
        with factory() as reader:
            with pytest.raises(RuntimeError, match="read-only session was asked to write"):
                reader.execute(update(Provider).values(name="Changed"))
            with pytest.raises(RuntimeError, match="read-only session was asked to write"):
                reader.execute(insert(Provider).values(slug="sneaky", name="Sneaky"))
            assert reader.scalar(select(func.count()).select_from(Provider)) == 0


def test_a_glance_runs_without_a_transaction_on_postgresql_only(engine: Engine) -> None:
    from sqlalchemy import text

    def in_autocommit(snapshot: bool) -> object:
        with db.make_read_sessionmaker(engine, snapshot=snapshot)() as reader:
            assert reader.scalar(text("SELECT 1")) == 1
            dbapi_connection = reader.connection().connection.dbapi_connection
            return getattr(dbapi_connection, "autocommit", None)

    if engine.dialect.name == "postgresql":
        assert in_autocommit(snapshot=False) is True
        assert in_autocommit(snapshot=True) is False
    else:
        # SQLite: the same read transaction either way (it costs no round trip).
        assert in_autocommit(snapshot=False) == in_autocommit(snapshot=True)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_a_pooled_connection_closed_by_the_server_while_idle_is_replaced(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    # The server ends the pooled connection (a restart or an idle timeout would).
    killer = create_engine(engine.url, poolclass=NullPool)
    with killer.begin() as other:
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    killer.dispose()
    with db.transaction(db.make_sessionmaker(engine)) as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) not in (None, pid)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_a_connection_in_steady_use_is_not_pinged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(
        engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn)
    )
    for _ in range(3):
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert len(pings) == 1


def test_upsert_inserts_updates_or_leaves_a_clashing_row(session: Session) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from collector.models import RateCount

    key = {"bucket": "b", "client": "c", "window_start": datetime(2026, 1, 1, tzinfo=UTC)}
    columns = ["bucket", "client", "window_start"]
    assert db.upsert(session, RateCount, {**key, "count": 1}, columns) is True
    assert db.upsert(session, RateCount, {**key, "count": 5}, columns) is False
    assert session.scalars(select(RateCount.count)).all() == [1]
    bump = {"count": RateCount.count + 1}
    assert db.upsert(session, RateCount, {**key, "count": 1}, columns, update=bump) is True
    assert session.scalars(select(RateCount.count)).all() == [2]


def test_upsert_refuses_a_database_other_than_sqlite_or_postgresql() -> None:
    from unittest.mock import MagicMock

    import pytest

    from collector.models import RateCount

    session = MagicMock(spec=Session)
    session.get_bind.return_value.dialect.name = "mysql"
    with pytest.raises(RuntimeError, match="SQLite and PostgreSQL only, not the 'mysql'"):
        db.upsert(session, RateCount, {"count": 1}, ["bucket"])


def test_a_frozen_cvs_support_version_1_learns_that_none_of_these_is_exclusive(
    engine: Engine,
) -> None:
    from alembic import command
    from sqlalchemy import select

    from collector.models import Survey
    from collector.survey.loader import library_survey, survey_from_dict
    from collector.survey.store import definition, register
    from tests.factories import english_only

    # Version 1 was English only: version 2 added Welsh and Urdu, and nothing else.
    data = english_only(library_survey("cvs-support")).to_dict()
    data.update(id="cvs-support", version=1)
    survey = survey_from_dict(data)
    with db.transaction(db.make_sessionmaker(engine)) as session:
        register(session, survey).frozen_at = utcnow()

    # Before issue 13 the rule was a constraint on each of three questions.
    command.downgrade(db._alembic_config(engine), "0008")
    with db.transaction(db.make_sessionmaker(engine)) as session:
        row = session.scalars(select(Survey)).one()
        assert row.fingerprint == "42129a3f47d11bc032860bd78662d902441268332941158c859c0d8a28e1be29"
        old = definition(row).question("aware_outcomes")
        assert old.constraint is not None and not any(c.exclusive for c in old.choices)

    db.upgrade(engine)
    with db.transaction(db.make_sessionmaker(engine)) as session:
        row = session.scalars(select(Survey)).one()
        assert row.fingerprint == survey.fingerprint()
        assert row.definition == survey.to_dict()
        # The library's version 1 registers again, frozen as it is.
        assert register(session, survey) is row
