"""The two-way self-evaluation in a real browser (issue 16): a sector representative reviews
the local authority's ratings and answers on a phone; staff read the demo's perception-gap
report (Voluntary Action LeicesterShire, a year after its first evaluation), keep the action
plan (a bad action refused, a good one added, overdue ones flagged) and publish; the funder
reads the published report. Each page is checked with axe and saved at a phone's and a
computer's width as artifacts/screenshots/selfeval-*.png."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from collector import db, models, rounds, selfeval, users
from collector.models import utcnow
from tests.e2e.conftest import DESKTOP, PHONE, LiveServer
from tests.e2e.test_answering import EVERY_RULE, _axe, choose, on_question, phone, watch
from tests.factories import answer_self_evaluation, fill_self_evaluation

pytestmark = pytest.mark.e2e

PROVIDER = "val-leicestershire"
STAFF = "sam.staff@example.org"
FUNDER = "fay.funder@example.org"
PASSWORD = "a long enough password"


def _check(page: Page, name: str, folder: Path) -> None:
    """Check the page with axe at a computer's width and a phone's; save both."""
    for size, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        page.set_viewport_size(size)
        results = _axe.run(page, options=EVERY_RULE)
        assert results.violations_count == 0, f"{name}{suffix}: {results.generate_report()}"
        page.screenshot(path=str(folder / f"selfeval-{name}{suffix}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def _setup(server: LiveServer) -> tuple[str, int, int]:
    """Add accounts and a reviewed round the authority has answered and handed over; give the
    representative's token and the demo's two evaluations' ids (older, newer)."""
    with db.transaction(server.sessions) as session:
        provider = session.scalars(
            select(models.Provider).where(models.Provider.slug == PROVIDER)
        ).one()
        for email, role in ((STAFF, "staff"), (FUNDER, "funder")):
            users.create_user(
                session,
                email=email,
                name=role.title(),
                password=PASSWORD,
                role=role,
                provider=provider if role == "staff" else None,
                funded=[provider] if role == "funder" else [],
            )
        demo = [e.id for e in selfeval.evaluations_of(session, provider.id)]
        round_ = selfeval.create(
            session,
            provider=provider,
            period_label="2026/27 review",
            opens_at=utcnow() - timedelta(days=1),
            closes_at=utcnow() + timedelta(days=20),
            mode="reviewed",
            first_side="la",
        )
        rounds.open_round(session, round_, now=utcnow() - timedelta(days=1))
        for invitation in list(round_.invitations)[:3]:
            answer_self_evaluation(session, invitation, {"gov_board": "good"})
        selfeval.hand_over(session, round_)
        token = next(i.token for i in round_.invitations if i.contact.audience == "representative")
        return token, demo[-1], demo[0]


def _sign_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_both_sides_answer_staff_plan_and_publish_and_the_funder_reads_it(
    chromium: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    token, older, newer = _setup(live_server)
    problems: list[str] = []

    # The representative, on a phone, sees the authority's ratings beside the question.
    context = phone(chromium)
    page = watch(context.new_page(), problems)
    page.goto(f"{live_server.url}/r/{token}")
    page.get_by_role("button", name="Start now").click()
    page.get_by_role("button", name="Continue").click()  # the heading
    on_question(page, live_server, token, "gov_board")
    expect(page.locator("#beside")).to_have_text(
        "Local authority's ratings: 3 good to best practice."
    )
    results = _axe.run(page, options=EVERY_RULE)
    assert results.violations_count == 0, results.generate_report()
    page.screenshot(path=str(screenshots / "selfeval-question-phone.png"), full_page=True)
    choose(page, "Needs significant improvement")
    page.get_by_label("1. What evidence do you rely on for this rating? (optional)").fill(
        "Board papers reach us a day before meetings"
    )
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Continue").click()  # no comment
    choose(page, "Yes")
    # The other 16 questions through the engine (the channel is the same for each), then
    # back in the browser to check the answers and send them.
    on_question(page, live_server, token, "gov_safeguarding")
    with db.transaction(live_server.sessions) as session:
        response = session.scalars(
            select(models.Response).join(models.Invitation).where(models.Invitation.token == token)
        ).one()
        fill_self_evaluation(session, response, default="dont_know")
    page.goto(f"{live_server.url}/r/{token}/check")
    expect(page.locator(".govuk-summary-list")).to_contain_text(
        "Board papers reach us a day before meetings"
    )
    page.get_by_role("button", name="Send answers").click()
    expect(page.locator(".govuk-panel")).to_contain_text("Your answers have been sent")
    context.close()
    with live_server.sessions() as session:
        response = session.scalars(
            select(models.Response).join(models.Invitation).where(models.Invitation.token == token)
        ).one()
        assert (response.status, response.channel, response.audience) == (
            "completed",
            "web",
            "representative",
        )

    # Staff read the demo's second evaluation: change per question and the actions taken.
    context = chromium.new_context(viewport=DESKTOP)
    page = watch(context.new_page(), problems)
    _sign_in(page, live_server, STAFF)
    base = f"{live_server.url}/console/{PROVIDER}/self-evaluations"
    page.goto(base)
    page.get_by_role("link", name="2026/27 perception-gap report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("rate their partnership")
    expect(page.locator("#change-heading")).to_have_text(
        "What changed since 2025/26, and the actions taken"
    )
    expect(page.locator("#change")).to_contain_text("Agree a communication strategy")
    _check(page, "report", screenshots)

    # The first evaluation's plan: overdue actions flagged; a bad action refused, nothing lost.
    page.goto(f"{base}/{older}/actions")
    expect(page.get_by_text("Overdue").first).to_be_visible()
    page.get_by_label("Question", exact=True).select_option("str_investment")
    page.get_by_label("Action", exact=True).fill(
        "Agree a three-year investment plan with the network"
    )
    page.get_by_label("Due date", exact=True).fill("2001-01-01")
    page.get_by_role("button", name="Add the action").click()
    expect(page.get_by_role("alert")).to_contain_text("Give the action an owner")
    expect(page.get_by_role("alert")).to_contain_text("on or after the round opened")
    expect(page.get_by_label("Action", exact=True)).to_have_value(
        "Agree a three-year investment plan with the network"
    )
    _check(page, "action-error", screenshots)
    page.get_by_label("Owner", exact=True).fill("Director of Children's Services")
    page.get_by_label("Due date", exact=True).fill(
        (utcnow() + timedelta(days=60)).date().isoformat()
    )
    page.get_by_role("button", name="Add the action").click()
    expect(page.get_by_text("Action added to the plan.")).to_be_visible()
    expect(page.locator("table")).to_contain_text("Agree a three-year investment plan")
    _check(page, "action-plan", screenshots)

    # Publish the second, and the funder reads it.
    page.goto(f"{base}/{newer}")
    page.get_by_role("button", name="Publish to the funders").click()
    expect(page.get_by_text("The perception-gap report is published")).to_be_visible()
    context.close()
    context = chromium.new_context(viewport=DESKTOP)
    page = watch(context.new_page(), problems)
    _sign_in(page, live_server, FUNDER)
    page.goto(f"{live_server.url}/funder/{PROVIDER}")
    page.get_by_role("link", name="2026/27: perception-gap report").click()
    expect(page.locator("#summary-heading")).to_be_visible()
    expect(page.get_by_text("What each member wrote is kept")).to_be_visible()
    _check(page, "funder", screenshots)
    context.close()
    # The refused action's page comes with 422, which the browser logs; nothing else.
    assert [p for p in problems if "status of 422" not in p] == []
