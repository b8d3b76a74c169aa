"""Open links: /s/<slug> starts an anonymous response, one per browser, limited per client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models
from collector.delivery import ratelimits
from collector.models import utcnow
from forms import respond
from tests.factories import cvs_support, make_provider, make_round
from tests.forms.conftest import Browser
from tests.forms.test_respond import NO_SUPPORT, walk


def open_round(factory: sessionmaker[Session], *, open_link: bool = True) -> str:
    """Add an open round of cvs-support; give its slug."""
    with db.transaction(factory) as session:
        provider = make_provider(session, name="Uttlesford CVS")
        return make_round(session, provider, cvs_support(), open_link=open_link).slug


def responses(factory: sessionmaker[Session]) -> list[models.Response]:
    """Give every stored response."""
    with factory() as session:
        return list(session.scalars(select(models.Response).order_by(models.Response.id)))


def test_a_round_without_an_open_link_is_not_valid(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    slug = open_round(session_factory, open_link=False)

    page = browser.get(f"/s/{slug}")

    assert page.status_code == 404
    assert "This link is not valid" in browser.text


def test_an_open_link_starts_an_anonymous_response_and_completes_it(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    slug = open_round(session_factory)

    browser.get(f"/s/{slug}")
    assert "Uttlesford CVS is asking the groups it supports" in browser.text
    assert "does not ask who you are" in browser.text
    browser.post(f"/s/{slug}/start", {"language": "en"})
    walk(browser, NO_SUPPORT)
    browser.post(f"/s/{slug}/check")

    assert browser.path == f"/s/{slug}/done"
    [response] = responses(session_factory)
    assert (response.status, response.channel, response.invitation_id) == (
        "completed",
        "open_link",
        None,
    )
    browser.get(f"/s/{slug}")
    assert "You have already answered this survey" in browser.text


def test_one_browser_gets_one_response_however_often_it_presses_start(
    browser: Browser, other_browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    slug = open_round(session_factory)
    browser.get(f"/s/{slug}")

    for _ in range(3):
        browser.post(f"/s/{slug}/start")
    walk(browser, NO_SUPPORT[:2])
    browser.get(f"/s/{slug}")
    assert "You have started this survey" in browser.text
    browser.post(f"/s/{slug}/start")

    assert browser.question == "outcomes_contributed"
    assert len(responses(session_factory)) == 1
    # Another browser is another respondent.
    other_browser.get(f"/s/{slug}")
    other_browser.post(f"/s/{slug}/start")
    assert len(responses(session_factory)) == 2


def test_new_open_link_responses_are_limited_per_client(
    app: Flask, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        respond, "OPEN_STARTS", ratelimits.Limit("open_start", limit=3, window=timedelta(hours=1))
    )
    slug = open_round(session_factory)
    statuses = []
    for _ in range(4):
        # A new browser session each time, as a script that throws its cookies away.
        flooder = Browser(app.test_client())
        flooder.client.environ_base["REMOTE_ADDR"] = "192.0.2.50"
        flooder.get(f"/s/{slug}")
        statuses.append(
            flooder.client.post(f"/s/{slug}/start", data={"csrf_token": flooder.csrf()}).status_code
        )

    assert statuses == [303, 303, 303, 429]
    assert len(responses(session_factory)) == 3


def test_a_cookie_for_another_round_or_an_invitation_is_not_taken(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    first = open_round(session_factory)
    second = open_round(session_factory)
    browser.get(f"/s/{first}")
    browser.post(f"/s/{first}/start")
    with browser.client.session_transaction() as cookie:
        # Pretend the first round's response belongs to the second round's link.
        cookie["open"] = {**cookie["open"], second: cookie["open"][first]}

    browser.get(f"/s/{second}")

    assert "Start now" in browser.text  # a fresh start, not the other round's response


def test_an_open_link_of_a_closed_round_says_it_has_closed(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = make_provider(session)
        slug = make_round(
            session,
            provider,
            cvs_support(),
            open_link=True,
            opens_at=utcnow() - timedelta(days=40),
            closes_at=utcnow() - timedelta(days=2),
        ).slug

    page = browser.get(f"/s/{slug}")

    assert page.status_code == 410
    assert "This survey has closed" in browser.text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(models.Response)) == 0
