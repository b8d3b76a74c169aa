"""Browser tests: Debian's Chromium (Playwright) against the web app on a demo database.

The run's demo data set is copied once into a SQLite file with a few extra cases (a round not open
yet, an opted-out group); each test gets its own copy and its own server on a free port.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Playwright, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from collector import db, models
from collector.config import Settings
from collector.models import utcnow
from forms import create_app, services
from tests.conftest import _free_port, create_database, demo_build, drop_database, load_rows
from tests.e2e.telegram.harness import Emulator, emulator_running
from tests.factories import cvs_support, make_invitation, make_organisation

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass(frozen=True)
class Demo:
    """Tokens and links in the demo database, by the case they show."""

    path: Path
    fresh: tuple[str, ...]  # unanswered invitations in open rounds of cvs-support
    completed: str
    closed: str
    not_open_yet: str
    opted_out: str
    open_link: str  # slug of an open round with an open link
    every_type: str  # an invitation to the test survey with every question type, in en and cy


def _token_of_round(session: Session, *, status: str, answered: str | None) -> str:
    query = (
        select(models.Invitation.token)
        .join(models.Round)
        .outerjoin(models.Response, models.Response.invitation_id == models.Invitation.id)
        .where(models.Round.status == status)
        .order_by(models.Invitation.id)
    )
    if answered is None:
        query = query.where(models.Response.id.is_(None))
    else:
        query = query.where(models.Response.status == answered)
    token = session.scalars(query.limit(1)).first()
    assert token is not None
    return token


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """Copy the run's demo data set once, and add the extra cases, into a SQLite file."""
    path = tmp_path_factory.mktemp("e2e") / "demo.db"
    shutil.copy(demo_build(tmp_path_factory, "plain").path, path)
    engine = db.make_engine(Settings(database_url=f"sqlite:///{path}"))
    factory = db.make_sessionmaker(engine)
    with db.transaction(factory) as session:
        provider = session.scalars(select(models.Provider).order_by(models.Provider.id)).first()
        assert provider is not None
        later = make_invitation(
            session,
            provider=provider,
            organisation=make_organisation(session, provider, name="Shenfield Men's Shed"),
            survey=cvs_support(),
            period_label="2027/28 H1",
            opens_at=utcnow() + timedelta(days=60),
            closes_at=utcnow() + timedelta(days=100),
        )
        fresh = tuple(
            session.scalars(
                select(models.Invitation.token)
                .join(models.Round)
                .outerjoin(models.Response, models.Response.invitation_id == models.Invitation.id)
                .where(models.Round.status == "open", models.Response.id.is_(None))
                .where(models.Round.opens_at < utcnow())
                # Groups' invitations (the demo's rolling rounds also invite volunteers).
                .where(models.Invitation.organisation_id.is_not(None))
                .order_by(models.Invitation.id)
                .limit(8)
            )
        )
        opted = session.scalars(
            select(models.Invitation).join(models.Round).where(models.Invitation.token == fresh[-1])
        ).one()
        assert opted.organisation is not None
        opted.organisation.opted_out_at = utcnow()
        every_type = make_invitation(session, period_label="Every type").token
        slug = session.scalars(
            select(models.Round.slug).where(
                models.Round.status == "open", models.Round.open_link.is_(True)
            )
        ).first()
        assert slug is not None
        made = Demo(
            path=path,
            fresh=fresh[:-1],
            completed=_token_of_round(session, status="open", answered="completed"),
            closed=_token_of_round(session, status="closed", answered=None),
            not_open_yet=later.token,
            opted_out=opted.token,
            open_link=slug,
            every_type=every_type,
        )
    engine.dispose()
    return made


def buffered(app: WSGIApplication) -> WSGIApplication:
    """Wrap a WSGI app so that each response is read whole, and closed, before it is sent.

    Werkzeug's development server leaves a response unclosed when the browser drops the
    connection mid-send (a page closed while its favicon.svg streams), and the open file's
    ResourceWarning then fails whichever test is running. Nothing the tests serve is large.
    """

    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        response = app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()

    return serve


# The slow end-to-end tests run on SQLite; one of each kind also runs on PostgreSQL (a smoke run).
ALSO_ON_POSTGRESQL = pytest.mark.parametrize(
    "live_database",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)


@dataclass
class LiveServer:
    """The web app, served over HTTP on a free port, on the test's copy of the demo database."""

    url: str
    sessions: sessionmaker[Session]
    database_url: str
    app: Flask


@pytest.fixture
def live_database(
    request: pytest.FixtureRequest, demo_template: Demo, tmp_path: Path
) -> Iterator[str]:
    """Give the URL of the test's copy of the demo database: SQLite, or PostgreSQL for a test
    parametrised with `indirect=["live_database"]` (the slow tests' PostgreSQL smoke runs)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        path = tmp_path / "demo.db"
        shutil.copy(demo_template.path, path)
        yield f"sqlite:///{path}"
        return
    server: str = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    url = create_database(server, name, template=template)
    load_rows(demo_template.path, url)
    yield url
    drop_database(server, name)


@contextmanager
def serving(database_url: str, **overrides: Any) -> Iterator[LiveServer]:
    """Serve the app on `database_url` from a thread on 127.0.0.1 (settings as `overrides`
    say, beside the database)."""
    settings = Settings(
        database_url=database_url,
        secret_key="e2e-secret-key-not-for-production",
        base_url="http://127.0.0.1",
        **overrides,
    )
    app = create_app(settings)
    port = _free_port()
    server = make_server("127.0.0.1", port, buffered(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", services(app).sessions, database_url, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        services(app).engine.dispose()


@pytest.fixture
def live_server(live_database: str) -> Iterator[LiveServer]:
    """Serve the app from a thread on 127.0.0.1 for one test."""
    with serving(live_database) as server:
        yield server


@pytest.fixture
def published_server(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> Iterator[LiveServer]:
    """Serve the app on a copy of the published demo (`tempcheck demo-data`: reports published
    to funders, volunteering, the demo's accounts) for one test, on SQLite."""
    path = tmp_path / "published.db"
    shutil.copy(demo_build(tmp_path_factory, "published").path, path)
    with serving(f"sqlite:///{path}") as server:
        yield server


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Start Playwright once."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    """Launch Debian's Chromium once for the session (`make test` installs it)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Give the folder for screenshots (git-ignored test artefacts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def telegram_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Start the Telegram Bot API emulator once per worker (`emulator` empties it per test)."""
    with emulator_running(tmp_path_factory.mktemp("emulator")) as running:
        yield running


@pytest.fixture
def emulator(telegram_emulator: Emulator) -> Iterator[Emulator]:
    """Give the worker's emulator, emptied: no chats, messages or webhook, no flood control."""
    telegram_emulator.reset()
    yield telegram_emulator
    telegram_emulator.close_users()
