"""The console's Telegram page: a one-time code for the bot's /link, shown once, audited
without it, for staff, admins and funders alike."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from collector.delivery import chats
from forms import services
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona, audit_actions, user_row

PAGE = "/console/telegram"
CODE = re.compile(r"/link ([A-Z0-9]{8})<")


def _code(browser: Browser) -> str:
    match = CODE.search(browser.text)
    assert match, "no code on the page"
    return match.group(1)


@pytest.mark.parametrize("persona", ["staff_a", "admin", "funder_a"])
def test_each_role_gets_a_code_that_links_its_chat_once(
    app: Flask, world: World, session_factory: sessionmaker[Session], persona: str
) -> None:
    browser = as_persona(Browser(app.test_client()), world, persona)
    browser.get(PAGE)
    assert browser.page is not None and browser.page.status_code == 200
    assert "Get a code" in browser.text and not CODE.search(browser.text)
    assert user_row(session_factory, world.emails[persona]).telegram_code_hash is None

    browser.post(PAGE)
    code = _code(browser)
    assert "works once, until" in browser.text
    assert browser.page is not None and browser.page.headers["Cache-Control"] == "no-store"
    # Only its hash is stored, never the code.
    stored = user_row(session_factory, world.emails[persona])
    assert stored.telegram_code_hash and code not in stored.telegram_code_hash
    # Shown once: opening the page again does not show it.
    browser.get(PAGE)
    assert code not in browser.text

    with session_factory() as session, session.begin():
        user = chats.redeem_link_code(session, 777, code)
        assert user is not None and user.email == world.emails[persona]
        assert chats.redeem_link_code(session, 778, code) is None
    browser.get(PAGE)
    assert "Your account is linked to a Telegram chat" in browser.text

    assert audit_actions(session_factory)[-1] == "user.telegram_code"
    with session_factory() as session:
        event = session.scalars(
            select(models.AuditEvent).order_by(models.AuditEvent.id.desc())
        ).first()
        assert event is not None and event.user_id == stored.id
        assert code not in json.dumps([event.subject, event.details, event.actor])


def test_the_page_names_the_bot_and_the_nav_links_to_it(app: Flask, world: World) -> None:
    services(app).settings = replace(
        services(app).settings, telegram_bot_username="@tempcheck_test_bot"
    )
    browser = as_persona(Browser(app.test_client()), world, "funder_a")
    browser.get("/funder/")
    assert f'href="{PAGE}"' in browser.text
    browser.get(PAGE)
    assert "/kpi" in browser.text and "/rounds" not in browser.text
    browser.post(PAGE)
    assert 'href="https://t.me/tempcheck_test_bot"' in browser.text
    assert "the bot @tempcheck_test_bot" in browser.text

    staff = as_persona(Browser(app.test_client()), world, "staff_a")
    staff.get(PAGE)
    assert "/rounds" in staff.text and "/remind" in staff.text


def test_a_new_code_replaces_the_old_one_and_a_post_without_csrf_changes_nothing(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    browser = as_persona(Browser(app.test_client()), world, "staff_a")
    browser.get(PAGE)
    browser.post(PAGE)
    first = _code(browser)
    browser.post(PAGE)
    second = _code(browser)
    assert first != second
    before = user_row(session_factory, world.emails["staff_a"]).telegram_code_hash
    refused = browser.client.post(PAGE, data={})
    assert refused.status_code == 400
    assert user_row(session_factory, world.emails["staff_a"]).telegram_code_hash == before
    with session_factory() as session, session.begin():
        assert chats.redeem_link_code(session, 1, first) is None
        assert chats.redeem_link_code(session, 1, second) is not None


def test_anonymous_visitors_are_sent_to_sign_in(app: Flask, world: World) -> None:
    client = app.test_client()
    assert client.get(PAGE).headers["Location"].startswith("/login")
