"""Fixtures on fixtures: settings, a real database (SQLite and PostgreSQL), sessions, factories.

Every test that asks for `engine` (or anything built on it) runs twice: once on a SQLite file
and once on a throwaway PostgreSQL cluster that this file starts itself from Debian's
`postgresql` binaries (as the `postgres` user when the tests run as root, because `initdb`
refuses root). Set TEMPCHECK_TEST_POSTGRES_URL to use an existing server instead.

The suite runs in parallel (`make test`: pytest-xdist on every core), so everything expensive
is paid once and everything a test touches belongs to its worker:

- the schema is migrated once per worker: SQLite tests get a copy of a migrated file, and
  PostgreSQL tests share the worker's own database, made from a migrated template database and
  emptied after each test (TRUNCATE ... RESTART IDENTITY), never migrated again;
- the demo data set is built once per run (whichever worker needs it first builds it, the
  other waits for it) into a SQLite file; a test marked `demo_data` starts from a copy of it,
  on PostgreSQL from a database made from a template the rows were loaded into;
- a scenario many tests start from is built once per worker and its rows copied into each
  test's database (`restore`);
- Jinja templates are compiled once per worker, however many apps the tests make;
- ports come from a block of the worker's own, so two workers never race for one.
"""

from __future__ import annotations

import copy
import fcntl
import itertools
import os
import pickle
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import jinja2
import jinja2.bccache
import pytest
from flask import Flask
from sqlalchemy import Engine, NullPool, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from collector.cli.demo import DemoSummary
from collector.config import Settings
from collector.db import make_engine, make_sessionmaker, upgrade
from collector.models import Base

POSTGRES_ENV = "TEMPCHECK_TEST_POSTGRES_URL"
T = TypeVar("T")
DEMO_KINDS = ("plain", "published")


# Workers --------------------------------------------------------------------------------------


def worker_name() -> str:
    """Give this pytest-xdist worker's name (gw0, gw1, ...), or gw0 when not in parallel."""
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def worker_index() -> int:
    """Give this worker's number: 0, 1, ..."""
    return int(worker_name().removeprefix("gw") or 0)


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Give the folder every worker of this run shares (their own folders are inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (a lock file) across this run's workers."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CompiledTemplates(jinja2.BytecodeCache):
    """Keep each compiled Jinja template in memory, for every app this worker makes.

    Nearly every web test makes its own app, and each app would otherwise parse and compile
    every template it renders again. The bucket checks the source's checksum, so a changed
    template is compiled afresh.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Fill the bucket from memory when this template was compiled before."""
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Keep a newly compiled template."""
        self._code[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": CompiledTemplates()}


# Ports: the workers share 20000-31999 in blocks of their own (1,000 each, less with more than
# 12 workers), below Linux's ephemeral range (32768 up), which the kernel never hands out to
# outgoing connections: a port checked free stays free until the test binds it.
PORTS_FROM, PORTS_TO = 20_000, 32_000
_next_port = itertools.count()


def _free_port() -> int:
    """Give a port on 127.0.0.1 that nothing listens on, from this worker's own block."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    size = min(1_000, (PORTS_TO - PORTS_FROM) // workers)
    first = PORTS_FROM + worker_index() * size
    for _ in range(size):
        port = first + next(_next_port) % size
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or still closing after an earlier test
            return port
    raise RuntimeError(f"no free port in {first}-{first + size - 1}")


# PostgreSQL -----------------------------------------------------------------------------------


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
    """Start a throwaway PostgreSQL cluster for this worker and give its admin URL."""
    if os.environ.get(POSTGRES_ENV):
        yield os.environ[POSTGRES_ENV]
        return
    bindir = _postgres_bin()
    datadir = Path(tempfile.mkdtemp(prefix=f"tempcheck-pg-{worker_name()}-"))
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


def _database(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _admin(server: str) -> Iterator[Engine]:
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        yield admin
    finally:
        admin.dispose()


def create_database(server: str, name: str, template: str | None = None) -> str:
    with _admin(server) as admin, admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    return _database(server, name)


def drop_database(server: str, name: str) -> None:
    with _admin(server) as admin, admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    """Create this worker's migrated template database once; give its name."""
    name = f"tempcheck_template_{worker_name()}"
    engine = make_engine(Settings(database_url=create_database(postgres_server, name)))
    upgrade(engine)
    engine.dispose()
    return name


@dataclass
class WorkerDatabase:
    """This worker's PostgreSQL test database, emptied after each test that used it."""

    url: str
    engine: Engine

    def empty(self) -> None:
        """Delete every row (the migrations' version stays) and restart the ids at 1."""
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with self.engine.begin() as conn:
            # Whatever a test left connected (a server thread, a process it killed) goes, as
            # DROP DATABASE ... WITH (FORCE) would have done; it may hold locks TRUNCATE needs.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str, postgres_template: str) -> Iterator[WorkerDatabase]:
    """Make this worker's test database from the template, once."""
    name = f"tempcheck_test_{worker_name()}"
    url = create_database(postgres_server, name, template=postgres_template)
    engine = create_engine(url, poolclass=NullPool)
    yield WorkerDatabase(url, engine)
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create a migrated SQLite file once; each test copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


# The demo data set, built once per run -------------------------------------------------------


@dataclass(frozen=True)
class DemoBuild:
    """A demo data set in a SQLite file, with what building it said."""

    path: Path
    summary: DemoSummary
    output: str  # what `tempcheck demo-data` printed (the published kind only)


def _build_plain(path: Path) -> DemoBuild:
    from collector import db
    from collector.cli import demo

    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    upgrade(engine)
    with db.transaction(db.make_sessionmaker(engine)) as session:
        summary = demo.build(session)
    engine.dispose()
    return DemoBuild(path, summary, "")


def _build_published(path: Path) -> DemoBuild:
    """Run `tempcheck demo-data` as a user would, keeping the summary it printed from."""
    from click.testing import CliRunner

    from collector.cli import demo, main

    built: list[DemoSummary] = []
    real_build = demo.build

    def build_and_keep(*args: Any, **kwargs: Any) -> DemoSummary:
        summary = real_build(*args, **kwargs)
        built.append(summary)
        return summary

    env = {
        "DATABASE_URL": f"sqlite:///{path}",
        "TEMPCHECK_INSTANCE": str(path.parent / "instance"),
        "TELEGRAM_BOT_USERNAME": "@tempcheck_demo_bot",
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(path.parent)  # no stray .env
        patch.setattr(demo, "build", build_and_keep)
        result = CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        result = CliRunner().invoke(main, ["demo-data"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (summary,) = built
    return DemoBuild(path, summary, result.output)


def demo_build(tmp_path_factory: pytest.TempPathFactory, kind: str) -> DemoBuild:
    """Give the run's demo data set of `kind`, building it if no worker has yet."""
    folder = shared_folder(tmp_path_factory) / f"demo-{kind}"
    kept = folder / "build.pickle"
    with locked(shared_folder(tmp_path_factory) / f"demo-{kind}.lock"):
        if not kept.exists():
            folder.mkdir(exist_ok=True)
            build = {"plain": _build_plain, "published": _build_published}[kind]
            made = build(folder / "demo.db")
            assert not made.path.with_name(made.path.name + "-wal").exists()
            kept.write_bytes(pickle.dumps(made))
    made = pickle.loads(kept.read_bytes())
    assert isinstance(made, DemoBuild)
    return made


def load_rows(source: Path, target_url: str) -> None:
    """Copy every row of a SQLite database into a migrated, empty one (SQLite or PostgreSQL)."""
    reader = create_engine(f"sqlite:///{source}", poolclass=NullPool)
    writer = create_engine(target_url, poolclass=NullPool)
    with reader.connect() as src, writer.begin() as dst:
        for table in Base.metadata.sorted_tables:
            rows = [dict(row._mapping) for row in src.execute(select(table))]
            if rows:
                dst.execute(table.insert(), rows)
            if writer.dialect.name == "postgresql" and "id" in table.c:
                # Ids given explicitly leave the sequence behind: the next insert takes max+1.
                dst.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f'COALESCE(MAX(id), 0) + 1, false) FROM "{table.name}"'
                    )
                )
    reader.dispose()
    writer.dispose()


# Scenarios built once per worker, by name: the SQLite file they were built in, and what the
# builder gave back (ids, say).
_scenarios: dict[str, tuple[Path, Any]] = {}


@pytest.fixture
def restore(
    settings: Settings, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, Callable[[sessionmaker[Session]], T]], T]:
    """Give `restore(name, build)`: fill the test's empty database with a scenario.

    The first test of a worker to ask for `name` runs `build(sessions)` (it commits) on a SQLite
    file of its own; every test then gets a copy of its rows, on SQLite or PostgreSQL, and what
    `build` gave back. For scenarios many tests start from, which take a second to build
    through the engine (answered rounds) but a few milliseconds to copy.
    """

    def load(name: str, build: Callable[[sessionmaker[Session]], T]) -> T:
        if name not in _scenarios:
            path = tmp_path_factory.mktemp(f"scenario-{name}") / "scenario.db"
            shutil.copy(sqlite_template, path)
            engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
            made = build(make_sessionmaker(engine))
            engine.dispose()
            _scenarios[name] = (path, made)
        path, made = _scenarios[name]
        load_rows(path, settings.resolved_database_url)
        return cast(T, copy.deepcopy(made))

    return load


# This worker's PostgreSQL demo templates, by kind, made as they are first needed.
_postgres_demo_templates: dict[str, str] = {}


def _postgres_demo_template(request: pytest.FixtureRequest, kind: str) -> str:
    if kind not in _postgres_demo_templates:
        server: str = request.getfixturevalue("postgres_server")
        template: str = request.getfixturevalue("postgres_template")
        build = demo_build(request.getfixturevalue("tmp_path_factory"), kind)
        name = f"tempcheck_demo_{kind}_{worker_name()}"
        load_rows(build.path, create_database(server, name, template=template))
        _postgres_demo_templates[kind] = name
    return _postgres_demo_templates[kind]


# The test's database -------------------------------------------------------------------------


def _demo_kind(request: pytest.FixtureRequest, backend: str) -> str | None:
    marker = request.node.get_closest_marker("demo_data")
    if marker is None or marker.kwargs.get("only", backend) != backend:
        return None
    kind = marker.args[0] if marker.args else "plain"
    assert kind in DEMO_KINDS, f"demo_data kind must be one of {DEMO_KINDS}"
    return str(kind)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Give the URL of a migrated database of the test's own: SQLite, then PostgreSQL.

    Empty, or a copy of the demo data for a test marked `demo_data`.
    """
    kind = _demo_kind(request, request.param)
    if request.param == "sqlite":
        source: Path = (
            demo_build(request.getfixturevalue("tmp_path_factory"), kind).path
            if kind
            else request.getfixturevalue("sqlite_template")
        )
        path = tmp_path / "tempcheck.db"
        shutil.copy(source, path)
        yield f"sqlite:///{path}"
        return
    if kind:
        server: str = request.getfixturevalue("postgres_server")
        name = f"t_{uuid.uuid4().hex[:12]}"
        yield create_database(server, name, template=_postgres_demo_template(request, kind))
        drop_database(server, name)
        return
    database: WorkerDatabase = request.getfixturevalue("postgres_database")
    try:
        yield database.url
    finally:
        database.empty()


@pytest.fixture
def demo_summary(request: pytest.FixtureRequest, database_url: str) -> DemoSummary:
    """Give the summary of the demo build the test's database (marked `demo_data`) copies."""
    kind = _demo_kind(request, "sqlite") or _demo_kind(request, "postgresql")
    assert kind, "demo_summary needs the test marked demo_data"
    return demo_build(request.getfixturevalue("tmp_path_factory"), kind).summary


@pytest.fixture(autouse=True)
def rate_limit_clock_stands_still(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the rate limits' clock at the test's start while it runs.

    Rate limits count in fixed windows aligned to the clock (10 minutes to an hour), so a test
    that counts up to a limit fails when a window ends halfway through it (one did, in a
    parallel run). Code that passes its own `now` (tests of the windows, the bot's /link) is
    unaffected.
    """
    from collector.delivery import ratelimits

    now = ratelimits.utcnow()
    monkeypatch.setattr(ratelimits, "utcnow", lambda: now)


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
