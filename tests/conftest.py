"""Fixtures on fixtures: settings, a real database (SQLite and PostgreSQL), sessions, factories.

Every test that asks for `engine` (or anything built on it) runs twice: once on a SQLite file
and once on a throwaway PostgreSQL cluster that this file starts itself from Debian's
`postgresql` binaries (as the `postgres` user when the tests run as root, because `initdb`
refuses root). Set TEMPCHECK_TEST_POSTGRES_URL to use an existing server instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from collector.config import Settings
from collector.db import make_engine, make_sessionmaker, upgrade

POSTGRES_ENV = "TEMPCHECK_TEST_POSTGRES_URL"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        pytest.fail(
            "PostgreSQL server binaries are missing: `make test` installs Debian's postgresql "
            "package (or set TEMPCHECK_TEST_POSTGRES_URL to a server of your own)."
        )
    return candidates[0].parent


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL cluster for the test session and give its admin URL."""
    if os.environ.get(POSTGRES_ENV):
        yield os.environ[POSTGRES_ENV]
        return
    bindir = _postgres_bin()
    datadir = Path(tempfile.mkdtemp(prefix="tempcheck-pg-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir / "data"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(datadir / "data"),
                "-o",
                options,
                "-l",
                str(datadir / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(datadir / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    """Create a migrated template database once; each test copies it."""
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS tempcheck_template"))
        conn.execute(text("CREATE DATABASE tempcheck_template"))
    admin.dispose()
    url = make_url(postgres_server).set(database="tempcheck_template")
    engine = make_engine(Settings(database_url=url.render_as_string(hide_password=False)))
    upgrade(engine)
    engine.dispose()
    return "tempcheck_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create a migrated SQLite file once; each test copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Give the URL of a fresh, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "tempcheck.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    server: str = request.getfixturevalue("postgres_server")
    request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE tempcheck_template'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Give settings for a test: its own database and instance folder, a test secret."""
    return Settings(
        database_url=database_url,
        instance_path=str(tmp_path / "instance"),
        secret_key="test-secret-key-not-for-production",
        base_url="http://testserver",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """Give an engine on the test's database."""
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Give the session factory the edges use."""
    return make_sessionmaker(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """Give a session; the test decides when to commit."""
    with session_factory() as session:
        yield session
