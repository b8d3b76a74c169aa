"""Control characters (a NUL, a vertical tab) in any address, query or form field get a page
that says so, status 400, on both databases: never a 500, and nothing is saved."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models
from tests.factories import cvs_support, make_invitation, make_provider, make_round
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona
from tests.forms.test_respond import response_of, start, stored_answers

REFUSED = "invisible control character"
CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"]


def refused(page: object) -> None:
    """Check that a page is the plain refusal."""
    text = page.get_data(as_text=True)  # type: ignore[attr-defined]
    assert page.status_code == 400, text  # type: ignore[attr-defined]
    assert REFUSED in text and "Nothing was saved" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("control", CONTROLS)
def test_a_sign_in_with_a_control_character_is_refused_not_a_500(
    browser: Browser, world: World, control: str
) -> None:
    browser.get("/login")
    refused(browser.post("/login", {"email": f"staff.a{control}@example.org", "password": "x"}))


def test_an_open_link_or_an_invitation_with_a_nul_is_not_valid(client: FlaskClient) -> None:
    for path in ("/s/abc%00def", "/r/abc%00def", "/s/%00", "/s/abc%0bdef/start"):
        page = client.get(path)
        assert page.status_code == 404
        assert "This link is not valid" in page.get_data(as_text=True)
    refused(client.get("/login?next=/console/%00"))


def test_a_console_search_or_form_with_a_nul_saves_nothing(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    staff = as_persona(Browser(app.test_client()), world, "staff_a")
    base = "/console/alpha-cvs/organisations"
    refused(staff.client.get(f"{base}?q=club%00"))
    with session_factory() as session:
        before = session.scalar(select(func.count(models.Organisation.id)))
    staff.get(f"{base}/new")
    form = {
        "name": "Harlow\x00Carers",
        "external_ref": "HCG01",
        "org_type": "community_group",
        "district": "Harlow\x0b",
    }
    refused(staff.post(f"{base}/new", form))
    with session_factory() as session:
        assert session.scalar(select(func.count(models.Organisation.id))) == before
    # The same form without them is taken.
    staff.get(f"{base}/new")
    staff.post(f"{base}/new", {**form, "name": "Harlow Carers", "district": "Harlow"})
    with session_factory() as session:
        assert session.scalar(select(func.count(models.Organisation.id))) == before + 1


def test_an_answer_with_a_control_character_is_refused_and_the_earlier_ones_kept(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        token = make_invitation(session, survey=cvs_support()).token
    url = f"/r/{token}"
    start(browser, url)
    browser.answer(None)  # the note
    browser.answer("no")
    question = browser.path
    refused(browser.post(question, {"answer": "none\x00"}))
    response = response_of(session_factory, token)
    assert response is not None
    assert stored_answers(session_factory, response.id) == {"used_support": "no"}
    # Back on the page, the answer is taken.
    browser.get(question)
    assert "/q/" in browser.path


def test_tabs_and_new_lines_are_text_not_control_characters(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = make_provider(session)
        round_ = make_round(session, provider, cvs_support(), open_link=True)
        slug = round_.slug
    page = browser.get(f"/s/{slug}?from=poster\tA")
    assert page.status_code == 200


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Give a plain test client."""
    return app.test_client()
