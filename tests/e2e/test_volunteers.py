"""Volunteering in a real browser: staff import volunteers (a bad file first: nothing saved,
every problem listed), then placements, find a volunteer, see when their follow-up is due,
add a placement by hand and mark one ended.

Each page on the way is checked with every axe rule (WCAG 2.2 AA and best practices) and saved
as artifacts/screenshots/volunteers-*.png at a computer's width and a phone's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select
from werkzeug.serving import make_server

from collector import db, models, users
from collector.config import Settings
from collector.volunteering.volunteers import uk_today
from forms import create_app, services
from tests.conftest import _free_port
from tests.e2e.conftest import DESKTOP, PHONE, LiveServer, buffered
from tests.factories import make_organisation, make_provider

pytestmark = pytest.mark.e2e

# Every rule axe has, at any impact: WCAG 2.2 AA and its best practices (landmarks, say).
EVERY_RULE = {"resultTypes": ["violations"]}
EMAIL = "val.staff@example.org"
PASSWORD = "a long enough password"
SLUG = "harlow-vc"
STARTED = uk_today() - timedelta(days=10)
VOLUNTEERS = (
    "external_ref,name,consent,consent_date,email,district,consent_email,preferred_channel\n"
    f"V001,Priya Shah,yes,{STARTED},priya@example.org,Harlow,yes,email\n"
    f"V002,Tom Okafor,yes,{STARTED},,Epping,no,\n"
)
BAD_VOLUNTEERS = VOLUNTEERS + f"V001,Priya Again,yes,{STARTED},,,no,\nV003,Jo Bloggs,no,,,,no,\n"
PLACEMENTS = (
    "external_ref,volunteer_ref,host_ref,role,start_date,status,end_date\n"
    f"P001,V001,HVC1,Befriender,{STARTED},active,\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """Serve the app on a fresh database with one volunteer centre, two host groups, staff."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'volunteers.db'}",
        secret_key="e2e-secret-key-not-for-production",
        base_url="http://127.0.0.1",
    )
    app = create_app(settings)
    engine = services(app).engine
    db.upgrade(engine)
    with db.transaction(services(app).sessions) as session:
        provider = make_provider(session, slug=SLUG, name="Harlow Volunteer Centre")
        make_organisation(session, provider, external_ref="HVC1", name="Harlow Foodbank")
        make_organisation(session, provider, external_ref="HVC2", name="Old Harlow Men's Shed")
        users.create_user(
            session,
            email=EMAIL,
            name="Val Staff",
            password=PASSWORD,
            role="staff",
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


class Shots:
    """Numbered, axe-checked screenshots at a computer's width and a phone's."""

    def __init__(self, folder: Path, prefix: str = "volunteers") -> None:
        self.folder = folder
        self.prefix = prefix
        self.n = 0
        self.axe = Axe()

    def audit(self, page: Page, name: str) -> None:
        """Check the page with axe, and save it at both widths."""
        self.n += 1
        stem = f"{self.prefix}-{self.n:02d}-{name}"
        for size, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
            page.set_viewport_size(size)
            results = self.axe.run(page, options=EVERY_RULE)
            assert results.violations_count == 0, f"{name}{suffix}: {results.generate_report()}"
            page.screenshot(path=str(self.folder / f"{stem}{suffix}.png"), full_page=True)
        page.set_viewport_size(DESKTOP)


def _count(server: LiveServer, model: type[models.Base]) -> int:
    with server.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _upload(page: Page, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Check the file").click()


def test_staff_import_volunteers_and_placements_and_follow_one_up(
    chromium: Browser, server: LiveServer, screenshots: Path, tmp_path: Path
) -> None:
    shots = Shots(screenshots)
    problems: list[str] = []
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    base = f"{server.url}/console/{SLUG}"

    page.goto(f"{server.url}/login")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Volunteering").click()
    expect(page).to_have_url(f"{base}/volunteers")
    expect(page.get_by_text("There are no volunteers yet.")).to_be_visible()

    # A file with a duplicate and a row without consent: every problem listed, nothing saved.
    page.get_by_role("link", name="Import volunteers from CSV").click()
    _upload(page, tmp_path, "bad.csv", BAD_VOLUNTEERS)
    expect(page.locator(".govuk-error-summary")).to_contain_text("The file has 2 problems")
    problems_table = page.locator("table", has_text="Problem")
    expect(problems_table).to_contain_text("V001 appears again (first on line 2)")
    expect(problems_table).to_contain_text("only kept with their consent")
    shots.audit(page, "import-problems")
    assert _count(server, models.Volunteer) == 0

    _upload(page, tmp_path, "volunteers.csv", VOLUNTEERS)
    expect(page.get_by_text("Importing it will add 2 and update 0 volunteers")).to_be_visible()
    page.get_by_role("button", name="Import 2 volunteers").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Imported 2 volunteers")

    page.get_by_role("link", name="Placements", exact=True).click()
    page.get_by_role("link", name="Import placements from CSV").click()
    _upload(page, tmp_path, "placements.csv", PLACEMENTS.replace("HVC1", "HVC9"))
    expect(page.locator("table", has_text="Problem")).to_contain_text(
        "no organisation on your list has the reference 'HVC9'"
    )
    assert _count(server, models.Placement) == 0
    _upload(page, tmp_path, "placements.csv", PLACEMENTS)
    page.get_by_role("button", name="Import 1 placement").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Imported 1 placements")

    # Find Priya, and add a second placement from her page with a mistake corrected.
    page.get_by_role("link", name="Volunteers", exact=True).click()
    page.get_by_label("Name or reference").fill("priya")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Priya Shah").click()
    due = (STARTED + timedelta(days=28)).strftime("%-d %b %Y")
    expect(page.locator("table")).to_contain_text(due)
    expect(page.locator("table")).to_contain_text("Not yet due")
    page.get_by_role("link", name="Add a placement").click()
    expect(page.get_by_label("Volunteer’s reference")).to_have_value("V001")
    page.get_by_label("Host organisation’s reference").fill("HVC2")
    page.get_by_label("Role").fill("Shed helper")
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill(str(STARTED.year))
    page.get_by_role("button", name="Add placement").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("must be a real date")
    shots.audit(page, "placement-error")
    page.get_by_label("Day").fill(str(STARTED.day))
    page.get_by_label("Month").fill(str(STARTED.month))
    page.get_by_role("button", name="Add placement").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The placement was added")

    # It did not work out: end it today.
    page.get_by_role("button", name="Mark as ended").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("marked as ended")
    page.get_by_role("link", name="Priya Shah").click()
    expect(page.locator("table")).to_contain_text("Old Harlow Men's Shed")
    expect(page.locator("table")).to_contain_text("Ended")
    shots.audit(page, "volunteer")

    with server.sessions() as session:
        statuses = sorted(session.scalars(select(models.Placement.status)))
        actions = list(session.scalars(select(models.AuditEvent.action)))
    assert statuses == ["active", "ended"]
    assert actions == ["volunteers.import", "placements.import", "placement.add", "placement.end"]
    assert not problems, problems
    context.close()
