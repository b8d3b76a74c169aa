"""Activity records in a real browser: staff import a bad activity file (an unknown group, a
negative amount, a date outside any period, a duplicate row: nothing saved, every problem
listed), then a good one, and see it listed. Each page is checked with every axe rule and saved
as artifacts/screenshots/activities-*.png at a computer's width and a phone's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select
from werkzeug.serving import make_server

from collector import db, models, users
from collector.activities import uk_today
from collector.config import Settings
from forms import create_app, services
from tests.conftest import _free_port
from tests.e2e.conftest import DESKTOP, LiveServer, buffered
from tests.e2e.test_volunteers import Shots
from tests.factories import make_organisation, make_provider

pytestmark = pytest.mark.e2e

EMAIL = "essex.staff@example.org"
PASSWORD = "a long enough password"
SLUG = "brentwood-cvs"
DAY = uk_today().replace(day=1)
HEADER = "external_ref,kind,date,organisation_ref,description,amount_applied,amount_obtained"
GOOD = (
    f"{HEADER}\n"
    f"A1,event,{DAY},,Community breakfast,,\n"
    f"A2,funding_application,{DAY},BRE1,Lottery bid,\"£5,000\",4500\n"
)
BAD = (
    f"{HEADER}\n"
    f"A1,event,{DAY},,Community breakfast,,\n"
    f"A2,funding_application,{DAY},NOPE,Lottery bid,5000,-1\n"
    "A3,guidance,2001-05-01,BRE1,Finance,,\n"
    f"A4,event,{DAY},,Community breakfast,,\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """Serve the app on a fresh database with one CVS, a group on its list, and its staff."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'activities.db'}",
        secret_key="e2e-secret-key-not-for-production",
        base_url="http://127.0.0.1",
    )
    app = create_app(settings)
    engine = services(app).engine
    db.upgrade(engine)
    with db.transaction(services(app).sessions) as session:
        provider = make_provider(session, slug=SLUG, name="Brentwood CVS")
        make_organisation(session, provider, external_ref="BRE1", name="Shenfield Foodbank")
        users.create_user(
            session, email=EMAIL, name="Essex Staff", password=PASSWORD, role="staff",
            provider=provider,
        )
    port = _free_port()
    http = make_server("127.0.0.1", port, buffered(app), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(
            f"http://127.0.0.1:{port}", services(app).sessions, settings.database_url, app
        )
    finally:
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
        engine.dispose()


def _count(server: LiveServer) -> int:
    with server.sessions() as session:
        return int(session.scalar(select(func.count(models.ActivityRecord.id))) or 0)


def test_staff_import_activities_a_bad_file_first(
    chromium: Browser, server: LiveServer, screenshots: Path, tmp_path: Path
) -> None:
    shots = Shots(screenshots, "activities")
    errors: list[str] = []
    page = chromium.new_context(viewport=DESKTOP).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/login")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Activities").click()
    expect(page).to_have_url(f"{server.url}/console/{SLUG}/activities")
    expect(page.get_by_role("heading", name="0 activities recorded")).to_be_visible()

    for name, text in (("bad.csv", BAD), ("good.csv", GOOD)):
        path = tmp_path / name
        path.write_text(text)
        page.get_by_label("CSV file").set_input_files(str(path))
        page.get_by_role("button", name="Check the file").click()
        if name == "bad.csv":
            expect(page.locator(".govuk-error-summary")).to_contain_text("The file has 4 problems")
            table = page.locator("table", has_text="Problem")
            expect(table).to_contain_text("'NOPE' is not an organisation on the provider's list")
            expect(table).to_contain_text("-1 is negative")
            expect(table).to_contain_text("is outside any reporting period of this provider")
            expect(table).to_contain_text("the same activity as line 2")
            shots.audit(page, "problems")
            assert _count(server) == 0
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Imported 2 new and 0 updated activities"
    )
    rows = page.locator("table", has_text="Group helped")
    expect(rows).to_contain_text("Shenfield Foodbank")
    expect(rows).to_contain_text("£4,500.00")
    shots.audit(page, "list")
    assert _count(server) == 2 and not errors
