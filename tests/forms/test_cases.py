"""Cases respondents meet: bad links, answered already, a round not open, an opted-out group."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models, rounds
from collector.localtime import day_ends, day_starts, long_date
from collector.models import utcnow
from forms import respond
from tests.factories import (
    cvs_support,
    make_invitation,
    make_organisation,
    make_provider,
    make_round,
)
from tests.forms.conftest import Browser
from tests.forms.test_respond import NO_SUPPORT, invite, response_of, start, stored_answers, walk


@pytest.mark.parametrize(
    "token",
    [
        "A" * 32,  # the right shape, but no such invitation
        "too-short",
        "x" * 300,
        "not a token!",
        "%00",
    ],
)
def test_a_bad_link_gets_a_plain_not_valid_page_that_reveals_nothing(
    browser: Browser, session_factory: sessionmaker[Session], token: str
) -> None:
    invite(session_factory)  # a real invitation exists: the page must not hint at it

    page = browser.client.get(f"/r/{token}")

    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "This link is not valid" in text
    assert token not in text
    assert "Traceback" not in text


def test_every_page_of_a_bad_link_is_not_valid(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    bad = "B" * 32
    for method, path in [
        ("get", ""),
        ("get", "/q/used_support"),
        ("get", "/check"),
        ("get", "/done"),
    ]:
        page = getattr(browser.client, method)(f"/r/{bad}{path}")
        assert page.status_code == 404, path
        assert "This link is not valid" in page.get_data(as_text=True)


def test_bad_link_attempts_are_limited_per_client_but_a_valid_link_still_works(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    neighbour = app.test_client()
    neighbour.environ_base["REMOTE_ADDR"] = "198.51.100.20"

    statuses = [guesser.get(f"/r/{n:032d}").status_code for n in range(respond.BAD_LINKS.limit + 1)]

    assert statuses[:-1] == [404] * respond.BAD_LINKS.limit
    assert statuses[-1] == 429
    blocked = guesser.get(f"/r/{'Q' * 32}/check")
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) > 0
    # Another client is not held up by the guesser; nor is a real link from the guesser's
    # address (a group on the same Wi-Fi): guessing one is what the limit makes hopeless.
    assert neighbour.get(f"/r/{'Q' * 32}").status_code == 404
    assert guesser.get(f"/r/{token}").status_code == 200
    with session_factory() as session:
        counts = session.scalars(select(models.RateCount)).all()
        # Clients are stored as keyed hashes, never as addresses.
        assert all("203.0.113.7" not in c.client for c in counts)


def test_a_completed_response_says_already_answered_and_nothing_changes(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT)
    csrf = browser.csrf()
    browser.post(f"/r/{token}/check")
    response = response_of(session_factory, token)
    assert response is not None
    before = stored_answers(session_factory, response.id)

    page = browser.get(f"/r/{token}")
    assert page.status_code == 200
    assert "You have already answered this survey" in browser.text
    assert "Start now" not in browser.text
    late = browser.client.post(
        f"/r/{token}/q/used_support", data={"csrf_token": csrf, "answer": "yes"}
    )
    again = browser.client.post(f"/r/{token}/start", data={"csrf_token": csrf})

    assert late.status_code == 409
    assert "You have already answered this survey" in late.get_data(as_text=True)
    assert again.status_code == 303  # to the confirmation: the response is not reopened
    assert stored_answers(session_factory, response.id) == before
    after = response_of(session_factory, token)
    assert after is not None and after.completed_at == response.completed_at


def test_a_round_not_open_yet_says_so_with_its_dates(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    opens = utcnow() + timedelta(days=5)
    closes = opens + timedelta(days=30)
    token = invite(session_factory, opens_at=opens, closes_at=closes)

    page = browser.get(f"/r/{token}")

    assert page.status_code == 403
    assert "This survey is not open yet" in browser.text
    assert f"This survey opens on {opens:%-d %B %Y}" in browser.text
    assert f"from {opens:%-d %B %Y} to {closes:%-d %B %Y}" in browser.text
    assert "Start now" not in browser.text


def test_a_round_opening_on_a_summer_day_shows_that_uk_date_not_the_utc_one(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    # Opening at the start of a UK day in summer is 23:00 UTC the day before.
    next_summer = date(utcnow().year + 1, 7, 1)
    token = invite(
        session_factory,
        opens_at=day_starts(next_summer),
        closes_at=day_ends(next_summer + timedelta(days=30)),
    )

    browser.get(f"/r/{token}")

    year = next_summer.year
    assert f"from 1 July {year} to 31 July {year}" in browser.text


def test_a_closed_round_says_when_it_closed_even_midway_through(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:2])
    csrf = browser.csrf()
    with db.transaction(session_factory) as session:
        invitation = session.scalar(
            select(models.Invitation).where(models.Invitation.token == token)
        )
        assert invitation is not None
        rounds.close_round(session, invitation.round)

    page = browser.get(f"/r/{token}")
    question = browser.client.get(f"/r/{token}/q/outcomes_contributed")
    late = browser.client.post(
        f"/r/{token}/q/outcomes_contributed", data={"csrf_token": csrf, "answer": "none"}
    )

    assert question.status_code == 410
    assert page.status_code == 410
    assert "This survey has closed" in browser.text
    assert f"closed on {utcnow():%-d %B %Y}" in browser.text
    assert late.status_code == 410
    response = response_of(session_factory, token)
    assert response is not None
    assert "outcomes_contributed" not in stored_answers(session_factory, response.id)


def test_an_opted_out_organisation_is_not_asked_again(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = make_provider(session)
        organisation = make_organisation(session, provider)
        token = make_invitation(
            session, provider=provider, organisation=organisation, survey=cvs_support()
        ).token
    browser.get(f"/r/{token}")
    csrf = browser.csrf()  # the start page, opened before the group opted out
    with db.transaction(session_factory) as session:
        stored = session.get(models.Organisation, organisation.id)
        assert stored is not None
        stored.opted_out_at = utcnow()

    page = browser.get(f"/r/{token}")
    started = browser.client.post(f"/r/{token}/start", data={"csrf_token": csrf})

    assert page.status_code == 403
    assert "You will not be asked again" in browser.text
    assert "asked not to receive these surveys" in browser.text
    assert started.status_code == 403
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(models.Response)) == 0


def test_unknown_pages_and_wrong_methods_are_plain_pages(browser: Browser) -> None:
    missing = browser.client.get("/no/such/page")
    wrong = browser.client.get(f"/r/{'C' * 32}/back")

    assert missing.status_code == 404
    assert "Page not found" in missing.get_data(as_text=True)
    assert wrong.status_code == 405
    assert "POST" in wrong.headers["Allow"]
    assert "<html" in wrong.get_data(as_text=True)


def test_the_start_page_does_not_start_a_response(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    # Link checkers and mail scanners open links; only pressing Start starts.
    app.test_client().head(f"/r/{token}")
    app.test_client().get(f"/r/{token}")
    assert response_of(session_factory, token) is None


def test_an_open_link_of_a_round_opening_in_summer_time_says_one_uk_day_throughout(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    opens_on = date(utcnow().year + 1, 4, 1)  # 00:00 BST is 23:00 UTC on 31 March
    with db.transaction(session_factory) as session:
        slug = make_round(
            session,
            make_provider(session),
            cvs_support(),
            open_link=True,
            opens_at=day_starts(opens_on),
            closes_at=day_ends(opens_on + timedelta(days=29)),
        ).slug

    page = browser.get(f"/s/{slug}")

    year = opens_on.year
    assert page.status_code == 403
    assert f"This survey opens on 1 April {year}." in browser.text
    assert f"It will be open from 1 April {year} to 30 April {year}." in browser.text
    assert "31 March" not in browser.text


def test_a_round_closed_early_shows_the_day_it_closed_not_the_day_it_was_due(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    due = utcnow() + timedelta(days=20)
    token = invite(session_factory, closes_at=due)
    with db.transaction(session_factory) as session:
        invitation = session.scalar(
            select(models.Invitation).where(models.Invitation.token == token)
        )
        assert invitation is not None
        rounds.close_round(session, invitation.round)

    page = browser.get(f"/r/{token}")

    today = long_date(utcnow())
    assert page.status_code == 410
    assert f"This survey closed on {today}." in browser.text
    assert f"to {today}." in browser.text
    assert long_date(due) not in browser.text
