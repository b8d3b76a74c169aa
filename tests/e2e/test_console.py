"""The staff console in a real browser: sign in, import a CSV (a bad row first, then fixed),
create and open a round, watch its status page count a response as it arrives (the page
polls), and close the round.

Every console page on the way is checked with every axe rule (WCAG 2.2 AA and best practices)
and saved as a screenshot at a computer's width and a phone's, as
artifacts/screenshots/console-*.png. One more test opens every console and funder page.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Select, func, select

from analysis.publish import publish
from collector import audit as log
from collector import db, flow, models, reports, rounds, selfeval, users
from collector.models import utcnow
from tests.e2e.conftest import DESKTOP, PHONE, LiveServer
from tests.factories import cvs_support, make_round

pytestmark = pytest.mark.e2e

# Every rule axe has, at any impact: WCAG 2.2 AA and its best practices (landmarks, say).
EVERY_RULE = {"resultTypes": ["violations"]}
_axe = Axe()
EMAIL = "sam.staff@example.org"
PASSWORD = "a long enough password"
PROVIDER = "brentwood-cvs"
HEADER = (
    "external_ref,name,org_type,income_band,district,outcomes,is_member,contact_email,consent_email"
)
ROWS = [
    "E2E001,Pilgrims Hatch Lunch Club,community_group,under_10k,E2E Town,good_lives,yes,"
    "lunch@example.org,yes",
    "E2E002,Kelvedon Hatch Carers,charity shop,10k_100k,E2E Town,,no,carers@example.org,yes",
    "E2E003,Doddinghurst Youth Football,sports_arts_heritage,,E2E Town,healthy_lifestyles,no,"
    "football@example.org,yes",
]


class Shots:
    """Numbered screenshots of each console page, at a computer's width and a phone's."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0

    def audit(self, page: Page, name: str) -> None:
        """Check the page with axe, and save it at both widths."""
        self.n += 1
        results = _axe.run(page, options=EVERY_RULE)
        assert results.violations_count == 0, f"{name}: {results.generate_report()}"
        stem = f"console-{self.n:02d}-{name}"
        page.screenshot(path=str(self.folder / f"{stem}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(self.folder / f"{stem}-phone.png"), full_page=True)
        results = _axe.run(page, options=EVERY_RULE)
        assert results.violations_count == 0, f"{name} (phone): {results.generate_report()}"
        page.set_viewport_size(DESKTOP)


def _staff(server: LiveServer) -> None:
    with db.transaction(server.sessions) as session:
        provider = session.scalars(
            select(models.Provider).where(models.Provider.slug == PROVIDER)
        ).one()
        users.create_user(
            session,
            email=EMAIL,
            name="Sam Staff",
            password=PASSWORD,
            role="staff",
            provider=provider,
        )


def _count(server: LiveServer, model: type[models.Base], **where: object) -> int:
    with server.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).filter_by(**where)) or 0)


def _answer_one(server: LiveServer, round_id: int) -> str:
    """Answer one invitation of the round to the end, as a group would; give its group."""
    with db.transaction(server.sessions) as session:
        invitation = session.scalars(
            select(models.Invitation)
            .where(models.Invitation.round_id == round_id)
            .order_by(models.Invitation.id)
        ).first()
        assert invitation is not None and invitation.organisation is not None
        response = flow.start(session, invitation, channel="web")
        for _ in range(100):
            view = flow.view(session, response)
            if not isinstance(view, flow.QuestionView):
                break
            values = [c.value for c in view.choices]
            picked: str | list[str] | None = None
            if view.type == "multiple":
                picked = [next(v for v in values if not v.startswith("none"))]
            elif values:
                picked = values[0]
            elif view.type in ("integer", "decimal"):
                picked = "3"
            flow.answer(session, response, view.question_id, picked)
        assert isinstance(flow.complete(session, response), flow.DoneView)
        return invitation.organisation.name


def test_staff_import_groups_run_a_round_and_watch_answers_arrive(
    chromium: Browser, live_server: LiveServer, screenshots: Path, tmp_path: Path
) -> None:
    _staff(live_server)
    shots = Shots(screenshots)
    problems: list[str] = []
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    base = f"{live_server.url}/console/{PROVIDER}"

    # Sign in: the console sends an anonymous visitor to sign in first.
    page.goto(f"{live_server.url}/console/")
    expect(page).to_have_url(f"{live_server.url}/login?next=/console/")
    shots.audit(page, "sign-in")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "The email address or password is not right"
    )
    shots.audit(page, "sign-in-error")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/rounds")
    expect(page.locator(".tempcheck-account")).to_contain_text("Sam Staff")
    shots.audit(page, "rounds")

    # Import: a bad row first. Its problem is named by line and column, and nothing is saved.
    page.get_by_role("link", name="Organisations", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisations")
    shots.audit(page, "organisations")
    before = _count(live_server, models.Organisation)
    page.get_by_role("link", name="Import from CSV").click()
    bad = tmp_path / "groups.csv"
    bad.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    page.get_by_label("CSV file").set_input_files(bad)
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The file has 1 problem")
    problem = page.locator("table", has_text="Line").locator("tbody tr")
    expect(problem).to_have_count(1)
    expect(problem.first).to_contain_text("3")
    expect(problem.first).to_contain_text("org_type")
    expect(problem.first).to_contain_text("'charity shop' is not a known type of group")
    shots.audit(page, "import-problems")
    assert _count(live_server, models.Organisation) == before

    fixed = tmp_path / "groups-fixed.csv"
    fixed.write_text(bad.read_text().replace("charity shop", "registered_charity"))
    page.get_by_label("CSV file").set_input_files(fixed)
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the import")
    expect(page.get_by_text("Importing it will add 3 and update 0")).to_be_visible()
    shots.audit(page, "import-preview")
    assert _count(live_server, models.Organisation) == before
    page.get_by_role("button", name="Import 3 organisations").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Imported 3 organisations: 3 added, 0 updated."
    )
    assert _count(live_server, models.Organisation) == before + 3
    page.get_by_label("Name or reference").fill("hatch")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Kelvedon Hatch Carers")).to_be_visible()
    shots.audit(page, "organisations-search")

    # Create a round for the three new groups: the count follows the ticked boxes.
    page.get_by_role("link", name="Rounds", exact=True).click()
    page.get_by_role("link", name="Create a round").click()
    shots.audit(page, "round-new")
    page.get_by_label("Support from your CVS").check()
    page.get_by_label("Period").fill("2026/27 E2E")
    today = utcnow().astimezone(ZoneInfo("Europe/London")).date()  # staff enter UK dates
    closes = today + timedelta(days=30)
    for prefix, day in (("opens", today), ("closes", closes)):
        page.locator(f"#{prefix}-day").fill(str(day.day))
        page.locator(f"#{prefix}-month").fill(str(day.month))
        page.locator(f"#{prefix}-year").fill(str(day.year))
    page.get_by_label("E2E Town").check()
    expect(page.locator(".tempcheck-audience__count")).to_have_text(
        "3 organisations match, 3 of them can be invited by email."
    )
    page.get_by_label("Remind groups that have not answered (optional)").fill("7, 14")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the round before creating it")
    expect(page.locator("#reach")).to_contain_text("3 organisations match")
    shots.audit(page, "round-check")
    page.get_by_role("button", name="Create the round").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("created as a draft")
    round_id = int(page.url.rsplit("/", 1)[1])
    shots.audit(page, "round-draft")

    # Open it, after the confirmation page.
    page.get_by_role("link", name="Open the round").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open the round?")
    shots.audit(page, "round-open-confirm")
    page.get_by_role("button", name="Open the round").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "3 organisations were invited"
    )
    expect(page.locator('[data-stat="invited"]')).to_have_text("3")
    expect(page.locator('[data-stat="completed"]')).to_have_text("0")
    shots.audit(page, "round-open")

    # A group answers: the page's numbers change without a reload (it polls every few seconds).
    page.evaluate("window.tempcheckMark = 'still the same page'")
    answered = _answer_one(live_server, round_id)
    expect(page.locator('[data-stat="completed"]')).to_have_text("1", timeout=20_000)
    expect(page.locator('[data-stat="rate"]')).to_have_text("33%")
    assert page.evaluate("window.tempcheckMark") == "still the same page"
    page.get_by_role("link", name="Refresh the numbers").click()
    expect(page.locator("#waiting")).to_have_text("Not answered yet (2)")
    expect(page.locator("table", has_text="Progress")).not_to_contain_text(answered)
    shots.audit(page, "round-answered")

    page.get_by_role("link", name="Print QR codes").click()
    expect(page.locator("img.tempcheck-qr__image")).to_have_count(2)
    shots.audit(page, "round-qr")
    page.go_back()

    # Close it, after the confirmation page.
    page.get_by_role("link", name="Close the round").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Close the round?")
    shots.audit(page, "round-close-confirm")
    page.get_by_role("button", name="Close the round").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The round is closed.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Closed")
    # Its reports are built in the background, not in the request: the page says so...
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Its KPI reports are being prepared"
    )
    expect(page.locator("#reports-preparing")).to_contain_text("being prepared, since")
    assert _count(live_server, models.ReportSnapshot, round_id=round_id) == 0
    shots.audit(page, "round-closed")
    # ...until the background step (the dispatcher's, driven here) publishes them.
    with db.transaction(live_server.sessions) as session:
        hook = partial(publish, published_by="dispatcher e2e")
        [outcome] = reports.publish_due(session, hook, actor="dispatcher e2e")
    assert outcome.error is None and outcome.snapshots, outcome.describe()
    page.get_by_role("link", name="Refresh the numbers").click()
    expect(page.locator("#reports-preparing")).to_have_count(0)
    expect(page.locator("#reports")).to_contain_text(outcome.describe())
    expect(page.locator("#reports a")).to_have_count(len(outcome.snapshots))
    shots.audit(page, "round-reports-published")

    page.get_by_role("link", name="Outbox").click()
    shots.audit(page, "outbox")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out.")
    context.close()
    assert problems == []

    with live_server.sessions() as session:
        round_ = session.get(models.Round, round_id)
        assert round_ is not None
        assert (round_.status, round_.period_label) == ("closed", "2026/27 E2E")
        assert round_.audience == {"district": ["E2E Town"]}
        staff_events = [e.action for e in log.recent(session) if e.actor == EMAIL]
    assert staff_events[::-1] == [
        "organisations.import",
        "round.create",
        "round.open",
        "round.print_links",
        "round.close",
        "report.publish",  # published in the background, in the name of who closed it
    ]
    assert _count(live_server, models.Response, round_id=round_id, status="completed") == 1


def test_forms_with_errors_and_the_admin_and_funder_pages_pass_axe(
    chromium: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    _staff(live_server)
    with db.transaction(live_server.sessions) as session:
        providers = session.scalars(select(models.Provider).order_by(models.Provider.id)).all()
        users.create_user(
            session,
            email="ada.admin@example.org",
            name="Ada Admin",
            password=PASSWORD,
            role="admin",
        )
        users.create_user(
            session,
            email="fay.funder@example.org",
            name="Fay Funder",
            password=PASSWORD,
            role="funder",
            funded=providers[:2],
        )
    shots = Shots(screenshots)
    shots.n = 50
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()

    def sign_in(email: str) -> None:
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

    # Staff: an organisation with mistakes, then a round with mistakes.
    sign_in(EMAIL)
    page.goto(f"{live_server.url}/console/{PROVIDER}/organisations/new")
    page.get_by_label("Name of the group").fill("Hutton Poplars Residents")
    page.get_by_label("Email address (optional)").fill("not an address")
    page.get_by_role("button", name="Add organisation").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a reference")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Choose the type of group")
    expect(page.get_by_label("Name of the group")).to_have_value("Hutton Poplars Residents")
    shots.audit(page, "organisation-errors")
    page.goto(f"{live_server.url}/console/{PROVIDER}/organisations")
    page.locator("table a.govuk-link").first.click()
    expect(page.get_by_role("button", name="Opt out")).to_be_visible()
    shots.audit(page, "organisation-edit")
    page.goto(f"{live_server.url}/console/{PROVIDER}/rounds/new")
    page.get_by_label("Remind groups that have not answered (optional)").fill("soon")
    page.get_by_role("button", name="Continue").click()
    summary = page.locator(".govuk-error-summary")
    for message in ("Choose a survey", "Enter a period label", "Enter the open date"):
        expect(summary).to_contain_text(message)
    summary.get_by_role("link", name="Enter the open date").click()
    expect(page.locator("#opens-day")).to_be_focused()
    shots.audit(page, "round-new-errors")
    page.get_by_role("button", name="Sign out").click()

    # Admin: the providers and the audit log.
    sign_in("ada.admin@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text("Providers")
    shots.audit(page, "admin-providers")
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    shots.audit(page, "admin-audit")
    page.get_by_role("button", name="Sign out").click()

    # Funder: the providers it funds, and one's rounds.
    sign_in("fay.funder@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text("The providers you fund")
    shots.audit(page, "funder-index")
    page.get_by_role("link", name=providers[0].name).click()
    expect(page.locator("table")).to_contain_text("2025/26 H1")
    shots.audit(page, "funder-provider")
    context.close()


# Console and funder addresses that give a file, not a page.
FILES = (".json", ".csv", ".pdf", ".xlsx")
# Views that give a file whatever their address ends with (a round's responses, in the format
# asked).
FILE_VIEWS = frozenset({"console.round_responses"})
SELF_EVALUATION_PROVIDER = "val-leicestershire"
SELF_EVALUATION_PAGES = (
    "console.selfeval_list",
    "console.selfeval_report",
    "console.selfeval_agreed",
    "console.selfeval_actions",
    "console.selfeval_action_edit",
    "funder.selfeval",
)
# Who opens each page: the provider's staff, unless named here.
OPENED_BY = {
    "console.index": "admin",
    "console.audit": "admin",
    "console.status": "admin",
    "funder.index": "funder",
    "funder.provider": "funder",
    "funder.report": "funder",
    "funder.hubs_view": "funder",
    # Leicestershire's self-evaluation pages, which an admin reads (the personas are
    # another provider's).
    **{endpoint: "admin" for endpoint in SELF_EVALUATION_PAGES},
}


def _every_page(server: LiveServer) -> dict[str, str]:
    """Give the path of every console and funder page (GET, not a file) on the published demo,
    by endpoint: its rounds in each state, a group, a volunteer, a placement, a report."""
    with db.transaction(server.sessions) as session:
        provider = session.scalars(
            select(models.Provider).where(models.Provider.slug == PROVIDER)
        ).one()
        draft = make_round(session, provider, cvs_support(), open_now=False, period_label="Draft")

        def first(query: Select[tuple[int]]) -> int:
            found = session.scalars(query.limit(1)).first()
            assert found is not None, query
            return found

        rounds = select(models.Round.id).where(models.Round.provider_id == provider.id)
        open_round = first(rounds.where(models.Round.status == "open").order_by(models.Round.id))
        closed = first(
            rounds.where(models.Round.status == "closed").order_by(models.Round.closes_at.desc())
        )
        values = {
            "provider_slug": PROVIDER,
            "organisation_id": first(
                select(models.Organisation.id).where(models.Organisation.provider_id == provider.id)
            ),
            "volunteer_id": first(
                select(models.Volunteer.id).where(models.Volunteer.provider_id == provider.id)
            ),
            "placement_id": first(
                select(models.Placement.id).where(models.Placement.provider_id == provider.id)
            ),
            "snapshot_id": first(
                select(models.ReportSnapshot.id).where(
                    models.ReportSnapshot.provider_id == provider.id
                )
            ),
        }
        # The self-evaluation pages (issue 16): Leicestershire's published evaluation.
        leicestershire = session.scalars(
            select(models.Provider).where(models.Provider.slug == SELF_EVALUATION_PROVIDER)
        ).one()
        evaluation = selfeval.evaluations_of(session, leicestershire.id)[-1]
        values["evaluation_id"] = evaluation.id
        values["action_id"] = selfeval.actions_of(session, evaluation.round_id)[0].id
        # Each confirmation page needs a round in the state it acts on; the rest, an open one.
        round_of = {"console.round_open": draft.id, "console.report": closed}
        round_of["console.report_publish"] = closed
    pages = {}
    for rule in server.app.url_map.iter_rules():
        if not rule.rule.startswith(("/console", "/funder")) or "GET" not in (rule.methods or ()):
            continue
        if rule.rule.endswith(FILES) or "kind" in rule.arguments or rule.endpoint in FILE_VIEWS:
            continue  # a file (`kind`: its extension)
        filled = {**values, "round_id": round_of.get(rule.endpoint, open_round)}
        if rule.endpoint in SELF_EVALUATION_PAGES:
            filled["provider_slug"] = SELF_EVALUATION_PROVIDER
        unknown = set(rule.arguments) - set(filled)
        assert not unknown, f"give this test a value of {unknown} for {rule.rule}"
        pages[rule.endpoint] = rule.build({k: filled[k] for k in rule.arguments})[1]
    return pages


@pytest.mark.demo_data("published")
def test_every_console_and_funder_page_passes_every_axe_rule(
    chromium: Browser, published_server: LiveServer
) -> None:
    """Every rule axe has (best practices too), at any impact, on a computer and a phone."""
    server = published_server
    pages = _every_page(server)
    assert len(pages) >= 30, sorted(pages)
    with db.transaction(server.sessions) as session:
        provider = session.scalars(
            select(models.Provider).where(models.Provider.slug == PROVIDER)
        ).one()
        for email, role, extra in (
            ("axe.staff@example.org", "staff", {"provider": provider}),
            ("axe.admin@example.org", "admin", {}),
            ("axe.funder@example.org", "funder", {"funded": [provider]}),
        ):
            users.create_user(
                session, email=email, name=role.title(), password=PASSWORD, role=role, **extra
            )
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    problems: list[str] = []
    for persona in ("staff", "admin", "funder"):
        page.goto(f"{server.url}/login")
        page.get_by_label("Email address").fill(f"axe.{persona}@example.org")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        visits = [
            (endpoint, path, 200)
            for endpoint, path in sorted(pages.items())
            if OPENED_BY.get(endpoint, "staff") == persona
        ]
        if persona == "funder":
            # The page an account may not use: tempcheck's own 403 page.
            visits.insert(0, ("forbidden", pages["console.rounds"], 403))
        for endpoint, path, status in visits:
            response = page.goto(f"{server.url}{path}")
            assert response is not None and response.status == status, f"{endpoint}: {path}"
            page.evaluate(_axe.axe_script)  # once a page, not once a run
            for width, viewport in (("computer", DESKTOP), ("phone", PHONE)):
                page.set_viewport_size(viewport)
                found = page.evaluate("axe.run({resultTypes: ['violations']})")
                for rule in found["violations"]:
                    where = [" ".join(node["target"]) for node in rule["nodes"]][:3]
                    problems.append(
                        f"{endpoint} ({width}) {rule['id']} [{rule['impact']}]: {where}"
                    )
            page.set_viewport_size(DESKTOP)
        page.get_by_role("button", name="Sign out").click()
    context.close()
    assert not problems, "\n".join(problems)


def test_a_table_wider_than_a_phone_shows_that_it_scrolls_sideways(
    chromium: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    _staff(live_server)
    context = chromium.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rounds")
    region = page.get_by_role("region", name="Rounds")
    answered = region.get_by_role("columnheader", name="Answered")
    # The last column (the response rate) starts off the screen...
    box = answered.bounding_box()
    assert box is not None and box["x"] > 375
    # ...and the page says so: a hint above the table, which describes the scrolling region,
    # and a shadow at the edge the table goes on past.
    hint = page.locator(".tempcheck-scroll-hint").first
    expect(hint).to_be_visible()
    expect(hint).to_have_text("Scroll the table sideways to see every column.")
    expect(region).to_have_attribute("aria-describedby", hint.get_attribute("id") or "")
    expect(region).to_have_accessible_description("Scroll the table sideways to see every column.")
    shadows = region.evaluate("wrap => getComputedStyle(wrap).backgroundImage")
    assert shadows.count("radial-gradient") == 2, shadows
    page.screenshot(path=str(screenshots / "console-rounds-phone-375.png"), full_page=True)
    # The keyboard reaches the region and scrolls it to the response rate.
    region.focus()
    expect(region).to_be_focused()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    # Keyboard scrolling is animated: wait for the column to come fully on screen.
    page.wait_for_function(
        "cell => cell.getBoundingClientRect().right <= 375", arg=answered.element_handle()
    )
    assert region.evaluate("wrap => wrap.scrollLeft") > 0
    page.screenshot(path=str(screenshots / "console-rounds-phone-375-scrolled.png"))
    # On a computer the table fits: no hint.
    page.set_viewport_size(DESKTOP)
    expect(hint).to_be_hidden()
    expect(region).not_to_have_attribute("aria-describedby", re.compile(".+"))
    context.close()


def test_a_volunteers_follow_up_round_counts_volunteers_and_prints_their_codes(
    chromium: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    # The demo's volunteer centre has an open follow-up round whose invitations are volunteers.
    with db.transaction(live_server.sessions) as session:
        round_ = session.scalars(
            select(models.Round)
            .join(models.Survey)
            .where(models.Survey.slug == "volunteer-placement", models.Round.status == "open")
            .order_by(models.Round.id)
        ).first()
        assert round_ is not None
        waiting = len(rounds.round_status(session, round_).non_responders)
        assert waiting > 0
        slug, round_id = round_.provider.slug, round_.id
        users.create_user(
            session,
            email=EMAIL,
            name="Sam Staff",
            password=PASSWORD,
            role="staff",
            provider=round_.provider,
        )
    shots = Shots(screenshots)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{live_server.url}/login?next=/console/{slug}/rounds/{round_id}")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/console/{slug}/rounds/{round_id}")

    # The page counts volunteers as volunteers, not groups.
    expect(
        page.get_by_text("Volunteers, as their placements reach their follow-up")
    ).to_be_visible()
    table = page.get_by_role("table", name="Volunteers that have not answered")
    expect(table.get_by_role("columnheader", name="Volunteer", exact=True)).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(min(waiting, 200))
    expect(page.locator("main").get_by_text("group", exact=False)).to_have_count(0)
    shots.audit(page, "volunteers-round")

    # Its QR page prints a code for each volunteer who has not answered.
    page.get_by_role("link", name="Print QR codes").click()
    expect(page.get_by_role("heading", name=f"Invitations ({waiting})")).to_be_visible()
    expect(page.get_by_text("no links yet")).to_have_count(0)
    expect(page.get_by_text("belongs to one volunteer")).to_be_visible()
    shots.audit(page, "volunteers-round-qr")


def test_a_second_round_for_the_same_groups_and_a_reminder_too_soon_need_a_deliberate_yes(
    chromium: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    _staff(live_server)
    with live_server.sessions() as session:
        running = session.scalars(
            select(models.Round)
            .join(models.Survey)
            .join(models.Provider)
            .where(
                models.Provider.slug == PROVIDER,
                models.Survey.slug == "cvs-support",
                models.Round.status == "open",
            )
            .order_by(models.Round.id)
        ).first()
        assert running is not None
        running_id = running.id
    before = _count(live_server, models.Round)
    shots = Shots(screenshots)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    base = f"{live_server.url}/console/{PROVIDER}"
    page.goto(f"{live_server.url}/login?next=/console/{PROVIDER}/rounds/new")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # A round of the survey the demo's open round already sends to the same groups.
    page.get_by_label("Support from your CVS").check()
    page.get_by_label("Period").fill("2026/27 again")
    today = utcnow().astimezone(ZoneInfo("Europe/London")).date()
    for prefix, day in (("opens", today), ("closes", today + timedelta(days=30))):
        page.locator(f"#{prefix}-day").fill(str(day.day))
        page.locator(f"#{prefix}-month").fill(str(day.month))
        page.locator(f"#{prefix}-year").fill(str(day.year))
    page.get_by_role("button", name="Continue").click()
    overlaps = page.locator("#overlaps")
    expect(overlaps).to_contain_text(f"Round {running_id} (")
    expect(overlaps).to_contain_text("of these groups: they would get a second invitation")
    shots.audit(page, "round-check-overlap")
    page.get_by_role("button", name="Create the round").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Tick the box to create the round although it overlaps"
    )
    assert _count(live_server, models.Round) == before
    shots.audit(page, "round-check-overlap-error")
    page.get_by_label("Yes, create this round although those groups would be invited twice").check()
    page.get_by_role("button", name="Create the round").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("created as a draft")
    assert _count(live_server, models.Round) == before + 1
    new_id = int(page.url.rsplit("/", 1)[1])

    # Open it, then a reminder at once: the page says when the invitations went out.
    page.get_by_role("link", name="Open the round").click()
    page.get_by_role("button", name="Open the round").click()
    page.get_by_role("link", name="Send a reminder now").click()
    expect(page.locator("#last-sent")).to_contain_text("went out on")
    expect(page.get_by_text("That is less than 24 hours ago")).to_be_visible()
    shots.audit(page, "round-remind-too-soon")
    page.get_by_role("button", name="Send a reminder now").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "reminders are kept at least 1 day apart"
    )
    assert _count(live_server, models.OutboxMessage, template="reminder", round_id=new_id) == 0
    page.get_by_label("Yes, send the reminder now").check()
    page.get_by_role("button", name="Send a reminder now").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("were queued")
    assert _count(live_server, models.OutboxMessage, template="reminder", round_id=new_id) > 0
    expect(page).to_have_url(f"{base}/rounds/{new_id}")
