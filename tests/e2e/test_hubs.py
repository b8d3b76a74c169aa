"""The Community Hub Temperature Check in a real browser (issue 17): staff correct a quarter's
returns by CSV (a bad file first: every problem listed, nothing saved), and the county
council's funder opens the quarter's table from the provider page, checked with every axe rule
at a computer's width and a phone's, and downloads its PDF.

Saved as artifacts/screenshots/hubs-*.png (the PDF's pages too, rendered with pdftoppm).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from collector import db, hubs, models, users
from collector.cli import demo
from tests.e2e.conftest import DESKTOP, PHONE, LiveServer

pytestmark = pytest.mark.e2e

EVERY_RULE = {"resultTypes": ["violations"]}
_axe = Axe()
STAFF = "hana.hubs@example.org"
FUNDER = "fin.hubs@example.org"
PASSWORD = "a long enough password"


def _accounts(server: LiveServer) -> str:
    """Add a staff member and a funder of VAL; give the latest quarter with returns."""
    with db.transaction(server.sessions) as session:
        provider = session.scalars(
            select(models.Provider).where(models.Provider.slug == demo.LEICESTERSHIRE[0])
        ).one()
        users.create_user(
            session,
            email=STAFF,
            name="Hana Hubs",
            password=PASSWORD,
            role="staff",
            provider=provider,
        )
        users.create_user(
            session,
            email=FUNDER,
            name="Fin Hubs",
            password=PASSWORD,
            role="funder",
            funded=[provider],
        )
        return hubs.quarter_label(hubs.quarters_of(session, provider.id)[0])


def _sign_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _audit(page: Page, folder: Path, name: str) -> None:
    """Check the page with axe at both widths and save it."""
    results = _axe.run(page, options=EVERY_RULE)
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"
    page.screenshot(path=str(folder / f"hubs-{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    results = _axe.run(page, options=EVERY_RULE)
    assert results.violations_count == 0, f"{name} (phone): {results.generate_report()}"
    page.screenshot(path=str(folder / f"hubs-{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_staff_correct_a_return_and_the_funder_reads_the_quarter(
    chromium: Browser, live_server: LiveServer, screenshots: Path, tmp_path: Path
) -> None:
    quarter = _accounts(live_server)
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    _sign_in(page, live_server, STAFF)
    page.get_by_role("link", name="Hubs").click()
    expect(
        page.get_by_role("heading", name="Community Hubs and Local Resource Centres")
    ).to_be_visible()
    page.get_by_role("link", name="Import quarterly returns").click()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "hub_ref,quarter,variable,value,target,note\n"
        f"VAM,{quarter},volunteer_enquiries,-2,,\n"
        f"VAM,{quarter},volunteer_enquiries,70,,\n"
        f"LUTLRC,{quarter},volunteers_placed,4,,\n"
    )
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_text("The file has 3 problems, listed below")).to_have_count(2)
    _audit(page, screenshots, "staff-import-problems")
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(
        "hub_ref,quarter,variable,value,target,note\n"
        f"VAM,{quarter},volunteer_enquiries,70,,corrected after the quarter's count\n"
    )
    page.get_by_label("CSV file").set_input_files(str(fixed))
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("button", name="Import 1 returned figure").click()
    expect(page.get_by_text("Imported 1 returned figure: 0 added, 1 updated.")).to_be_visible()
    # VAM's amber enquiries are green now: the demo's latest quarter had one amber.
    expect(page.get_by_text(f"Of 31 variables across all localities in {quarter}")).to_be_visible()
    expect(page.get_by_text("0 (0%) amber")).to_be_visible()
    _audit(page, screenshots, "staff")
    page.get_by_role("button", name="Sign out").click()

    _sign_in(page, live_server, FUNDER)
    page.goto(f"{live_server.url}/funder/{demo.LEICESTERSHIRE[0]}")
    page.get_by_role("link", name="Community Hub Temperature Check").click()
    heading = page.get_by_role(
        "heading", level=1, name=f"Community Hub Temperature Check: {quarter}"
    )
    expect(heading).to_be_visible()
    table = page.get_by_role("table", name="How many of each one's variables")
    # Red, amber, green, not reported, total: the demo's one red, its amber now corrected.
    expect(table.get_by_role("row", name="Total 1 0 23 7 31", exact=True)).to_be_visible()
    expect(page.get_by_role("table", name="Status of each variable")).to_contain_text(
        "Not reported"
    )
    _audit(page, screenshots, "funder")
    with page.expect_download() as info:
        page.get_by_role("link", name=f"Download {quarter} (PDF)").click()
    pdf = tmp_path / "hubs.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", str(pdf), str(screenshots / "hubs-pdf")], check=True
    )
    assert not problems, problems
    context.close()
