"""`/healthz` for anyone (200 or 503, no details) and the status page for admins."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from collector import db, health
from collector.config import Settings
from collector.models import utcnow
from forms import create_app, services
from tests.conftest import create_database, drop_database
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def doomed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, object]]:
    """Give an app on a database of its own, and a function that makes that database go."""
    if request.param == "sqlite":
        path = tmp_path / "doomed.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"

        def gone() -> None:
            path.unlink()
            # WAL and shared-memory files of a database that is gone.
            for extra in tmp_path.glob("doomed.db-*"):
                extra.unlink()

    else:
        server: str = request.getfixturevalue("postgres_server")
        name = f"h_{uuid.uuid4().hex[:12]}"
        url = create_database(server, name, template=request.getfixturevalue("postgres_template"))

        def gone() -> None:
            drop_database(server, name)  # WITH (FORCE): the app's connections are cut

    settings = Settings(database_url=url, secret_key="health-test-secret-key", base_url="http://t")
    app = create_app(settings)
    yield app, gone
    services(app).engine.dispose()
    if request.param == "postgresql":
        drop_database(request.getfixturevalue("postgres_server"), name)


def test_healthz_answers_200_then_503_once_the_database_is_gone(
    doomed: tuple[Flask, object],
) -> None:
    app, gone = doomed
    client = app.test_client()
    page = client.get("/healthz")
    assert (page.status_code, page.get_data(as_text=True)) == (200, "ok\n")
    assert page.mimetype == "text/plain"
    assert page.headers["Cache-Control"] == "no-store"
    client.get("/healthz")  # a pooled connection, as in a running server
    gone()  # type: ignore[operator]
    page = client.get("/healthz")
    # No details: which database, or why, is for the status page and the log.
    assert (page.status_code, page.get_data(as_text=True)) == (503, "unavailable\n")


def test_healthz_needs_no_sign_in_and_says_nothing_more(app: Flask) -> None:
    page = app.test_client().get("/healthz")
    assert page.status_code == 200
    assert page.get_data(as_text=True) == "ok\n"
    assert "Set-Cookie" not in page.headers


def test_the_status_page_shows_each_check_to_an_admin(
    app: Flask, world: World, tmp_path: Path
) -> None:
    sessions = services(app).sessions
    with db.transaction(sessions) as session:
        health.beat(session, "dispatcher", "web-1:dispatch", utcnow(), starting=True)
    backups = Path(services(app).settings.instance_path or tmp_path) / "backups"
    app.extensions["tempcheck"].settings = replace(services(app).settings, backup_dir=str(backups))
    browser = as_persona(Browser(app.test_client()), world, "admin")
    browser.get("/console/status")
    text = browser.text
    assert browser.page is not None and browser.page.status_code == 200
    assert '<h1 class="govuk-heading-l">Status</h1>' in text
    for label in (
        "Messages waiting",
        "Dispatcher",
        "Telegram bot",
        "Failed sends",
        "Last backup",
        "Free disk space",
    ):
        assert f'<dt class="govuk-summary-list__key">{label}</dt>' in text
    assert "1 running (web-1:dispatch)" in text
    with services(app).readers() as session:
        warnings = len(health.status(session, services(app).settings).warnings)
    assert warnings >= 1  # no backup yet
    assert f"{warnings} warning{'s' if warnings > 1 else ''} at" in text
    assert "none found: run `tempcheck backup` daily" in text
    # The console's navigation leads there, for admins.
    assert 'href="/console/status"' in text
    staff = as_persona(Browser(app.test_client()), world, "staff_a")
    staff.get("/console/alpha-cvs/rounds")
    assert 'href="/console/status"' not in staff.text
