"""Completing the demo cvs-support survey in a real browser, on a phone and on a computer.

Each page type is checked with axe-core against WCAG 2.2 AA and, at phone size, saved as a
screenshot under artifacts/screenshots/.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from collector import models, rounds
from collector.localtime import day_ends, day_starts, long_date
from collector.models import utcnow
from tests.e2e.conftest import ALSO_ON_POSTGRESQL, DESKTOP, PHONE, Demo, LiveServer
from tests.factories import cvs_support, make_round

pytestmark = pytest.mark.e2e

# Every rule axe has, at any impact: WCAG 2.2 AA and its best practices (landmarks, say).
EVERY_RULE = {"resultTypes": ["violations"]}
_axe = Axe()


def phone(chromium: Browser, **options: object) -> BrowserContext:
    """Open a phone-sized browser (390x844, touch)."""
    return chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, **options)


def watch(page: Page, problems: list[str]) -> Page:
    """Collect the page's script errors and console errors (a CSP refusal shows up there)."""
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return page


def audit(page: Page, name: str, screenshots: Path | None = None) -> None:
    """Check the page with axe (WCAG 2.2 AA); save a screenshot when asked."""
    if screenshots is not None:
        page.screenshot(path=str(screenshots / f"phone-{name}.png"), full_page=True)
    results = _axe.run(page, options=EVERY_RULE)
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"


def on_question(page: Page, server: LiveServer, token: str, question_id: str) -> None:
    """Wait for the page of one question."""
    expect(page).to_have_url(f"{server.url}/r/{token}/q/{question_id}")


def choose(page: Page, *labels: str) -> None:
    """Tick or select answers by their labels, then press Continue."""
    for label in labels:
        page.get_by_label(label, exact=True).check()
    page.get_by_role("button", name="Continue").click()


def stored(server: LiveServer, token: str) -> tuple[models.Response, dict[str, str]]:
    """Give the invitation's response and its answers, as stored."""
    with server.sessions() as session:
        response = session.scalars(
            select(models.Response).join(models.Invitation).where(models.Invitation.token == token)
        ).one()
        answers = {a.question_id: a.value for a in response.answers}
        return response, answers


@ALSO_ON_POSTGRESQL
def test_a_group_completes_the_survey_on_a_phone(
    chromium: Browser, live_server: LiveServer, demo_template: Demo, screenshots: Path
) -> None:
    token = demo_template.fresh[0]
    link = f"{live_server.url}/r/{token}"
    problems: list[str] = []
    context = phone(chromium)
    page = watch(context.new_page(), problems)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Support from your CVS")
    expect(page.get_by_text("Survey closes")).to_be_visible()
    audit(page, "01-start", screenshots)
    page.get_by_role("button", name="Start now").click()

    on_question(page, live_server, token, "intro")
    audit(page, "02-note", screenshots)
    page.get_by_role("button", name="Continue").click()

    # A validation error, then its correction.
    on_question(page, live_server, token, "used_support")
    expect(page.get_by_text("Question 1 of 11")).to_be_visible()
    audit(page, "03-question", screenshots)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page).to_have_title(re.compile(r"^Error: "))
    audit(page, "04-question-error", screenshots)
    page.get_by_role("link", name="Select an answer").click()
    expect(page.locator("#answer")).to_be_focused()
    choose(page, "Yes")

    # Skip logic: with training or funding support, the capacity question is asked.
    on_question(page, live_server, token, "support_kinds")
    audit(page, "05-checkboxes", screenshots)
    choose(page, "Funding advice", "Training")
    on_question(page, live_server, token, "ease_of_access")
    choose(page, "Very easy")
    choose(page, "Satisfied")
    on_question(page, live_server, token, "capacity_increased")
    choose(page, "Yes, a lot")
    on_question(page, live_server, token, "outcomes_contributed")
    # With JavaScript, "None of these" unticks the others (GOV.UK's exclusive checkbox).
    page.get_by_label("Healthy lifestyles", exact=True).check()
    page.get_by_label("None of these", exact=True).check()
    expect(page.get_by_label("Healthy lifestyles", exact=True)).not_to_be_checked()
    page.get_by_label("Healthy lifestyles", exact=True).check()
    page.get_by_role("button", name="Continue").click()

    # Close the browser halfway, and carry on later in a new one.
    on_question(page, live_server, token, "aware_outcomes")
    context.close()
    context = phone(chromium)
    page = watch(context.new_page(), problems)
    page.goto(link)
    expect(page.get_by_text("You have started this survey")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    on_question(page, live_server, token, "aware_outcomes")

    choose(page, "Winter preparedness")
    on_question(page, live_server, token, "awareness_raised")
    choose(page, "Winter preparedness")
    choose(page, "Well informed")
    choose(page, "Not very well informed")
    on_question(page, live_server, token, "comments")
    audit(page, "06-text", screenshots)
    page.get_by_label("Is there anything else you would like to tell us? (optional)").fill(
        "The funding bulletin is really useful."
    )
    page.get_by_role("button", name="Continue").click()

    # Check your answers, change one, and come back.
    expect(page).to_have_url(f"{link}/check")
    audit(page, "07-check", screenshots)
    page.locator(f'a[href="/r/{token}/q/satisfaction"]').click()
    on_question(page, live_server, token, "satisfaction")
    expect(page.get_by_label("Satisfied", exact=True)).to_be_checked()
    choose(page, "Very satisfied")
    expect(page).to_have_url(f"{link}/check")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Very satisfied")
    page.get_by_role("button", name="Send answers").click()

    expect(page).to_have_url(f"{link}/done")
    expect(page.locator(".govuk-panel")).to_contain_text("Your answers have been sent")
    audit(page, "08-done", screenshots)
    context.close()
    assert problems == []  # GOV.UK Frontend's scripts ran under the CSP without complaint

    response, answers = stored(live_server, token)
    assert (response.status, response.channel) == ("completed", "web")
    assert answers == {
        "used_support": "yes",
        "support_kinds": "funding training",
        "ease_of_access": "very_easy",
        "satisfaction": "very_satisfied",
        "capacity_increased": "yes_a_lot",
        "outcomes_contributed": "healthy_lifestyles",
        "aware_outcomes": "winter_preparedness",
        "awareness_raised": "winter_preparedness",
        "informed_strategies": "well_informed",
        "informed_district": "not_very_well_informed",
        "comments": "The funding bulletin is really useful.",
    }


def test_a_group_completes_the_survey_on_a_computer_without_javascript(
    chromium: Browser, live_server: LiveServer, demo_template: Demo, screenshots: Path
) -> None:
    # axe needs JavaScript: the same page types are checked by the phone test.
    token = demo_template.fresh[1]
    link = f"{live_server.url}/r/{token}"
    context = chromium.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()

    page.goto(link)
    page.get_by_role("button", name="Start now").click()
    page.get_by_role("button", name="Continue").click()
    on_question(page, live_server, token, "used_support")
    choose(page, "No")

    # Skip logic: no support, so straight to the outcomes, question 2 of 6.
    on_question(page, live_server, token, "outcomes_contributed")
    expect(page.get_by_text("Question 2 of 6")).to_be_visible()
    # Without JavaScript nothing unticks "None of these": the survey's constraint says why.
    choose(page, "Healthy lifestyles", "None of these")
    on_question(page, live_server, token, "outcomes_contributed")
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Select 'None of these' on its own"
    )
    page.get_by_label("None of these", exact=True).uncheck()
    page.get_by_role("button", name="Continue").click()

    # Back (a POST drawn as GOV.UK's back link) keeps the answer.
    on_question(page, live_server, token, "aware_outcomes")
    page.get_by_role("button", name="Back").click()
    on_question(page, live_server, token, "outcomes_contributed")
    expect(page.get_by_label("Healthy lifestyles", exact=True)).to_be_checked()
    page.get_by_role("button", name="Continue").click()

    # Close the browser, open the link again in a new one.
    on_question(page, live_server, token, "aware_outcomes")
    context.close()
    context = chromium.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Continue").click()
    on_question(page, live_server, token, "aware_outcomes")

    choose(page, "None of these")
    choose(page, "Very well informed")
    choose(page, "Well informed")
    page.get_by_role("button", name="Continue").click()  # no comment: optional

    expect(page).to_have_url(f"{link}/check")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Not answered")
    page.locator(f'a[href="/r/{token}/q/informed_district"]').click()
    choose(page, "Not at all informed")
    expect(page).to_have_url(f"{link}/check")
    page.screenshot(path=str(screenshots / "desktop-check.png"), full_page=True)
    page.get_by_role("button", name="Send answers").click()
    expect(page).to_have_url(f"{link}/done")
    context.close()

    response, answers = stored(live_server, token)
    assert response.status == "completed"
    assert answers == {
        "used_support": "no",
        "outcomes_contributed": "healthy_lifestyles",
        "aware_outcomes": "none",
        "informed_strategies": "very_well_informed",
        "informed_district": "not_at_all_informed",
    }


@pytest.mark.parametrize(
    ("case", "status", "heading"),
    [
        ("invalid", 404, "This link is not valid"),
        ("completed", 200, "You have already answered this survey"),
        ("closed", 410, "This survey has closed"),
        ("not_open_yet", 403, "This survey is not open yet"),
        ("opted_out", 403, "You will not be asked again"),
    ],
)
def test_each_case_page_is_plain_and_accessible(
    chromium: Browser,
    live_server: LiveServer,
    demo_template: Demo,
    screenshots: Path,
    case: str,
    status: int,
    heading: str,
) -> None:
    token = "Nope" * 8 if case == "invalid" else getattr(demo_template, case)
    context = phone(chromium)
    page = context.new_page()

    visit = page.goto(f"{live_server.url}/r/{token}")

    assert visit is not None and visit.status == status
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    audit(page, f"09-case-{case.replace('_', '-')}", screenshots)
    context.close()


def test_the_open_link_start_page_is_accessible(
    chromium: Browser, live_server: LiveServer, demo_template: Demo, screenshots: Path
) -> None:
    context = phone(chromium)
    page = context.new_page()

    page.goto(f"{live_server.url}/s/{demo_template.open_link}")
    expect(page.get_by_text("This survey does not ask who you are.")).to_be_visible()
    audit(page, "10-open-link-start", screenshots)
    page.get_by_role("button", name="Start now").click()

    expect(page).to_have_url(re.compile(rf"/s/{demo_template.open_link}/q/intro$"))
    context.close()


def test_a_number_question_and_the_welsh_language_switch_are_accessible(
    chromium: Browser, live_server: LiveServer, demo_template: Demo, screenshots: Path
) -> None:
    token = demo_template.every_type
    context = phone(chromium)
    page = context.new_page()

    page.goto(f"{live_server.url}/r/{token}")
    page.get_by_role("button", name="Cymraeg").click()
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    audit(page, "11-start-welsh", screenshots)
    page.get_by_role("button", name="Dechrau nawr").click()
    page.get_by_role("button", name="Parhau").click()
    choose_welsh = page.get_by_label("Na", exact=True)
    choose_welsh.check()
    page.get_by_role("button", name="Parhau").click()

    on_question(page, live_server, token, "volunteers")
    page.get_by_label("Faint o wirfoddolwyr?").fill("lots")
    page.get_by_role("button", name="Parhau").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    audit(page, "12-number-error-welsh", screenshots)
    page.get_by_role("button", name="English").click()
    expect(page.get_by_label("How many volunteers?")).to_be_visible()
    context.close()


def test_two_browsers_on_one_link_see_their_own_errors_and_hear_of_each_other_s_answers(
    chromium: Browser, live_server: LiveServer, demo_template: Demo, screenshots: Path
) -> None:
    token = demo_template.fresh[2]
    link = f"{live_server.url}/r/{token}"
    laptop, mobile = chromium.new_context(viewport=DESKTOP), phone(chromium)
    first, second = laptop.new_page(), mobile.new_page()
    first.goto(link)
    first.get_by_role("button", name="Start now").click()
    first.get_by_role("button", name="Continue").click()
    on_question(first, live_server, token, "used_support")

    # The first browser sends no answer: the error is its own.
    first.get_by_role("button", name="Continue").click()
    expect(first.get_by_role("alert")).to_contain_text("There is a problem")
    second.goto(link)
    expect(second.get_by_text("You have started this survey")).to_be_visible()
    second.get_by_role("button", name="Continue").click()
    on_question(second, live_server, token, "used_support")
    expect(second.locator(".govuk-error-summary")).to_have_count(0)
    expect(second.locator(".govuk-error-message")).to_have_count(0)

    # The first answers; the second, still showing the question, answers it differently.
    choose(first, "Yes")
    on_question(first, live_server, token, "support_kinds")
    choose(second, "No")

    on_question(second, live_server, token, "support_kinds")
    banner = second.locator(".govuk-notification-banner")
    expect(banner).to_contain_text("This question was answered on another device or in another tab")
    expect(banner).to_contain_text("the answer you just gave was not saved")
    audit(second, "13-answered-elsewhere", screenshots)
    _, answers = stored(live_server, token)
    assert answers == {"used_support": "yes"}
    # Said once: the next page of either browser is plain.
    second.reload()
    expect(second.locator(".govuk-notification-banner")).to_have_count(0)
    first.reload()
    expect(first.locator(".govuk-notification-banner")).to_have_count(0)
    laptop.close()
    mobile.close()


def test_a_round_s_dates_are_its_uk_days_and_a_round_closed_early_shows_when_it_closed(
    chromium: Browser, live_server: LiveServer, demo_template: Demo
) -> None:
    opens_on = date(utcnow().year + 1, 4, 1)  # 00:00 BST is 23:00 UTC on 31 March
    with live_server.sessions() as session, session.begin():
        provider = session.scalars(select(models.Provider).order_by(models.Provider.id)).first()
        assert provider is not None
        slug = make_round(
            session,
            provider,
            cvs_support(),
            open_link=True,
            period_label="Summer time",
            audience={"district": ["Nowhere"]},
            opens_at=day_starts(opens_on),
            closes_at=day_ends(opens_on + timedelta(days=29)),
        ).slug
        invitation = session.scalars(
            select(models.Invitation).where(models.Invitation.token == demo_template.fresh[3])
        ).one()
        due = invitation.round.closes_at
        rounds.close_round(session, invitation.round)
    context = phone(chromium)
    page = context.new_page()

    page.goto(f"{live_server.url}/s/{slug}")
    year = opens_on.year
    main = page.locator("main")
    expect(main).to_contain_text(f"This survey opens on 1 April {year}.")
    expect(main).to_contain_text(f"It will be open from 1 April {year} to 30 April {year}.")
    expect(main).not_to_contain_text("31 March")

    page.goto(f"{live_server.url}/r/{demo_template.fresh[3]}")
    today = long_date(utcnow())
    expect(main).to_contain_text(f"This survey closed on {today}.")
    expect(main).to_contain_text(f"to {today}.")
    expect(main).not_to_contain_text(long_date(due))
    context.close()
