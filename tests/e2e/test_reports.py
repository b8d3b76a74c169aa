"""Reports in a real browser: staff read a closed round's draft report, write a narrative and
publish it; the funder opens the published report from their provider page, downloads its PDF
and workbook, and prints it.

Each page is checked with every axe rule (WCAG 2.2 AA and best practices) and saved at a
computer's width and a phone's, and the report pages also as printed (print media), as
artifacts/screenshots/report-page-*.png.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from analysis.model import KpiReport
from collector import db, models, reports, users
from collector.localtime import long_date
from tests.e2e.conftest import DESKTOP, PHONE, LiveServer

pytestmark = pytest.mark.e2e

# Every rule axe has, at any impact: WCAG 2.2 AA and its best practices (landmarks, say).
EVERY_RULE = {"resultTypes": ["violations"]}
_axe = Axe()
PROVIDER = "brentwood-cvs"
STAFF = ("rowan.staff@example.org", "Rowan Staff")
FUNDER = ("fran.funder@example.org", "Fran Funder")
PASSWORD = "a long enough password"
NARRATIVE = (
    "Two advisers were away over the summer, so some groups waited longer for a reply.\n\n"
    "A duty adviser now answers every enquiry within two working days."
)


class Shots:
    """Screenshots of the report pages at a computer's width, a phone's, and printed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def audit(self, page: Page, name: str, *, printed: bool = False) -> None:
        """Check the page with axe at both widths and save it (and as printed, if asked)."""
        stem = f"report-page-{name}"
        results = _axe.run(page, options=EVERY_RULE)
        assert results.violations_count == 0, f"{name}: {results.generate_report()}"
        page.screenshot(path=str(self.folder / f"{stem}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        results = _axe.run(page, options=EVERY_RULE)
        assert results.violations_count == 0, f"{name} (phone): {results.generate_report()}"
        page.screenshot(path=str(self.folder / f"{stem}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        if printed:
            # An A4 page's printable width at 96 dpi: what the printed page lays out in.
            page.set_viewport_size({"width": 700, "height": 990})
            page.emulate_media(media="print")
            page.screenshot(path=str(self.folder / f"{stem}-print.png"), full_page=True)
            page.emulate_media(media="screen")
            page.set_viewport_size(DESKTOP)


def _accounts(server: LiveServer) -> tuple[int, int]:
    """Add a staff member and a funder of the provider; give the closed round to report on and
    how many funders the provider has now (the demo's and this one)."""
    with db.transaction(server.sessions) as session:
        provider = session.scalars(
            select(models.Provider).where(models.Provider.slug == PROVIDER)
        ).one()
        users.create_user(
            session,
            email=STAFF[0],
            name=STAFF[1],
            password=PASSWORD,
            role="staff",
            provider=provider,
        )
        users.create_user(
            session,
            email=FUNDER[0],
            name=FUNDER[1],
            password=PASSWORD,
            role="funder",
            funded=[provider],
        )
        round_id = session.scalars(
            select(models.Round.id)
            .where(models.Round.provider_id == provider.id, models.Round.status == "closed")
            .order_by(models.Round.closes_at.desc())
        ).first()
        assert round_id is not None
        return round_id, len(reports.funders(session, provider.id))


def _sign_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _printed_pages(page: Page, folder: Path) -> None:
    """Print the page as Chromium does (A4) and check that each KPI starts a page of its own,
    without the site's header, navigation, footer or download links."""
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    page.emulate_media(media="screen")
    (folder / "report-page-funder-print.pdf").write_bytes(pdf)
    pages = [p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages]
    headings = [text.strip() for text in page.locator(".tc-report__kpi h2").all_inner_texts()]
    assert headings
    for heading in headings:
        # The page the KPI starts on has nothing of the KPI before it.
        where = [n for n, text in enumerate(pages) if heading in " ".join(text.split())]
        assert where, heading
        before = " ".join(pages[where[0]].split()).split(heading)[0]
        assert len(before) < 40, f"{heading!r} does not start its page: {before!r}"
    printed = " ".join(pages)
    for furniture in ("Sign out", "Download the report", "Funder pages", "tempcheck collects"):
        assert furniture not in printed, furniture


def _watch(page: Page, problems: list[str]) -> None:
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)


def test_staff_explain_and_publish_a_report_and_the_funder_reads_it(
    chromium: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    round_id, funders = _accounts(live_server)
    assert funders == 2
    shots = Shots(screenshots)
    problems: list[str] = []

    # Staff: the reports list, then the closed round's draft.
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    _watch(page, problems)
    _sign_in(page, live_server, STAFF[0])
    page.get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    shots.audit(page, "staff-list")
    page.locator(f"a[href='/console/{PROVIDER}/reports/{round_id}']").click()
    expect(page.locator(".tempcheck-draft")).to_contain_text("Draft: not yet published.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("KPI report for")
    shots.audit(page, "staff-draft", printed=True)

    # A narrative: the count follows the typing; saved, it shows in the report.
    box = page.locator("#narrative-ix")
    box.fill(NARRATIVE)
    count = page.locator(".govuk-character-count", has=box)
    expect(count.locator(".govuk-character-count__status")).to_contain_text("characters remaining")
    page.get_by_role("button", name="Save the narrative for ix").click()
    expect(page.locator(".tempcheck-saved")).to_have_text("Saved.")
    expect(page.locator("#kpi-ix .govuk-inset-text")).to_contain_text("A duty adviser now")
    shots.audit(page, "staff-narrative-saved")

    # A narrative too long: the error, and the text still there to shorten.
    page.locator("#narrative-x").fill("So long. " * 450)
    page.get_by_role("button", name="Save the narrative for x", exact=True).click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("4,000 characters or fewer")
    expect(page.locator("#narrative-x")).to_have_value(re.compile(r"^(So long\. )+So long\.$"))
    shots.audit(page, "staff-narrative-error")

    # Publish, after a confirmation that says who is emailed.
    page.goto(f"{live_server.url}/console/{PROVIDER}/reports/{round_id}")
    page.get_by_role("link", name="Publish this report").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Publish the report?")
    expect(page.locator("main")).to_contain_text("2 funders are emailed")
    shots.audit(page, "staff-publish-confirm")
    page.get_by_role("button", name="Publish and email the funders").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "2 funders will be emailed the PDF and the workbook."
    )
    with live_server.sessions() as session:
        snapshot_id = session.scalars(select(models.ReportSnapshot.id)).one()
    context.close()

    # The funder: their provider page lists the report; it opens, downloads and prints.
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    _watch(page, problems)
    _sign_in(page, live_server, FUNDER[0])
    page.goto(f"{live_server.url}/funder/{PROVIDER}")
    shots.audit(page, "funder-provider")
    page.locator(f"a[href='/funder/{PROVIDER}/reports/{snapshot_id}']").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("KPI report for")
    expect(page.locator("#kpi-ix .govuk-inset-text")).to_contain_text("A duty adviser now")
    expect(page.locator("main")).not_to_contain_text("Draft")
    shots.audit(page, "funder", printed=True)
    _printed_pages(page, screenshots)
    for name, start in (("PDF", b"%PDF"), ("Excel", b"PK")):
        with page.expect_download() as info:
            page.get_by_role("link", name=re.compile(name)).click()
        saved = info.value.path()
        assert Path(saved).read_bytes().startswith(start), name
    context.close()
    assert not problems, problems


def _published_val_report(server: LiveServer) -> tuple[int, int, int, str]:
    """Publish the volunteer centre's VAL report of its last closed period (the follow-up
    round's, as closing it does, without the files), then record three enquiries back-dated
    into that period; give the round, the snapshot and the open period's round."""
    from analysis.publish import build_report, frozen

    with db.transaction(server.sessions) as session:
        provider = session.scalars(
            select(models.Provider).where(models.Provider.slug == PROVIDER)
        ).one()
        rolling = session.scalars(
            select(models.Round)
            .join(models.Survey)
            .where(
                models.Round.provider_id == provider.id,
                models.Round.kind == "rolling",
                models.Survey.slug == "volunteer-placement",
            )
            .order_by(models.Round.opens_at)
        ).all()
        closed = [r for r in rolling if r.status == "closed"][-1]
        still_open = next(r for r in rolling if r.status == "open")
        report = build_report(session, closed, "leicestershire-val")
        data, _ = frozen(report)
        snapshot = reports.save_snapshot(
            session,
            round_=closed,
            framework="leicestershire-val",
            title=f"{provider.name}: VAL, {closed.period_label}",
            data=data,
            pdf=None,
            xlsx=None,
            published_by="e2e",
        )
        period = report.result("VAL 25").period
        assert period is not None
        for days in (3, 40, 90):
            session.add(
                models.Enquiry(
                    provider_id=provider.id,
                    external_ref=f"LATE{days}",
                    enquired_on=period.start + timedelta(days=days),
                    source="phone",
                    outcome="pending",
                )
            )
        return closed.id, snapshot.id, still_open.id, closed.period_label


def test_staff_see_volunteering_figures_that_changed_since_publication_and_interim_ones(
    chromium: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    """Issue 12, items 23 and 24 on the console's live report: what the funders were sent no
    longer matches the records, and an open period's enquiries are said to be interim."""
    _accounts(live_server)
    round_id, snapshot_id, open_id, period = _published_val_report(live_server)
    with live_server.sessions() as session:
        sent = session.get(models.ReportSnapshot, snapshot_id)
        assert sent is not None
        published_on = long_date(sent.published_at)
        was = KpiReport.from_json(sent.data).result("VAL 25").overall.count
    assert was is not None
    problems: list[str] = []
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    _watch(page, problems)
    _sign_in(page, live_server, STAFF[0])

    page.goto(f"{live_server.url}/console/{PROVIDER}/reports/{round_id}")
    changed = page.locator("#changed-since-published")
    expect(changed).to_contain_text("Changed since published.")
    expect(changed).to_contain_text("publish a corrected version to send them these")
    expect(changed.locator("li").first).to_have_text(
        f"VAL 25 Volunteer enquiries, {period}: changed since published on {published_on}: "
        f"was {was} enquiries, now {was + 3} enquiries, 3 more"
    )
    expect(changed.locator("li").nth(1)).to_contain_text(
        f"VAL 26 Volunteers taking up volunteering opportunities, {period}: changed since "
        f"published on {published_on}: was "
    )
    expect(page.locator("#kpi-val-25")).not_to_contain_text("interim")
    # The whole page is audited in the test above; here, what this test adds to it.
    results = _axe.run(page, context="#changed-since-published", options=EVERY_RULE)
    assert results.violations_count == 0, results.generate_report()
    changed.screenshot(path=str(screenshots / "report-page-staff-changed-since-published.png"))

    # What the funders were sent is as it was.
    page.goto(f"{live_server.url}/funder/{PROVIDER}/reports/{snapshot_id}")
    expect(page.locator("#kpi-val-25")).to_contain_text(f"Enquiries\n{was}")
    expect(page.locator("main")).not_to_contain_text("changed since published")

    # The open period's draft: its enquiries are the ones so far.
    page.goto(f"{live_server.url}/console/{PROVIDER}/reports/{open_id}")
    expect(page.locator("#kpi-val-25")).to_contain_text(
        f"interim: volunteer-placement round {open_id} is still open, so "
    )
    expect(page.locator("#kpi-val-25")).to_contain_text(
        "is not over: these are the enquiries recorded so far, against the target for the "
        "whole period"
    )
    expect(page.locator("#changed-since-published")).to_have_count(0)
    page.locator("#kpi-val-25").screenshot(
        path=str(screenshots / "report-page-staff-interim-records.png")
    )
    context.close()
    assert not problems, problems
