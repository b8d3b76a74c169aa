"""Opting out from an email's link: the confirmation page, the button, one-click unsubscribe."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models
from tests.collector.mail_helpers import complete
from tests.factories import make_invitation, make_organisation, make_provider
from tests.forms.conftest import Browser


def invite(factory: sessionmaker[Session], **overrides: Any) -> str:
    """Add an invitation for a group (with a second group in the same round); give its token."""
    with db.transaction(factory) as session:
        provider = make_provider(session, name="Harlow CVS")
        organisation = make_organisation(session, provider, **overrides)
        make_organisation(session, provider, name="Another group")
        return make_invitation(session, provider=provider, organisation=organisation).token


def state(factory: sessionmaker[Session], token: str) -> dict[str, Any]:
    """Give the group's opt-out time, its round's message statuses and the audit events."""
    with factory() as session:
        invitation = session.scalar(
            select(models.Invitation).where(models.Invitation.token == token)
        )
        assert invitation is not None and invitation.organisation is not None
        messages = session.scalars(
            select(models.OutboxMessage.status)
            .where(models.OutboxMessage.round_id == invitation.round_id)
            .order_by(models.OutboxMessage.id)
        ).all()
        events = session.scalars(select(models.AuditEvent)).all()
        return {
            "opted_out": invitation.organisation.opted_out_at is not None,
            "messages": list(messages),
            "events": [(e.action, e.actor, e.details.get("via")) for e in events],
            "response": invitation.response.status if invitation.response else None,
        }


def test_the_page_says_who_is_asking_and_what_opting_out_means(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory, name="Harlow Food Bank")
    page = browser.get(f"/r/{token}/opt-out")
    assert page.status_code == 200
    text = browser.text
    assert "Stop being asked for feedback" in text
    assert "Harlow CVS will not send Harlow Food Bank any more surveys" in text
    assert "answers Harlow Food Bank has already given are kept" in text
    assert f'action="/r/{token}/opt-out"' in text and 'name="csrf_token"' in text
    assert f'href="/r/{token}"' in text  # the survey instead
    assert not state(session_factory, token)["opted_out"]


def test_pressing_the_button_opts_the_group_out_and_cancels_its_messages(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory, name="Harlow Food Bank")
    browser.get(f"/r/{token}/opt-out")
    form_token = browser.csrf()
    page = browser.post(f"/r/{token}/opt-out")
    assert page.status_code == 200 and browser.path == f"/r/{token}/opt-out"
    assert "You will not be asked again" in browser.text
    assert "Answers already given are kept" in browser.text
    after = state(session_factory, token)
    assert after["opted_out"]
    assert after["messages"] == ["cancelled", "pending"]  # the other group's stays
    assert after["events"] == [
        ("organisation.opt_out", "the group, by its opt-out link", "opt-out page")
    ]
    # Again (a second tab): nothing changes, nothing more is logged; the survey link says so.
    again = browser.client.post(f"/r/{token}/opt-out", data={"csrf_token": form_token})
    assert again.status_code == 303
    assert len(state(session_factory, token)["events"]) == 1
    page = browser.get(f"/r/{token}")
    assert page.status_code == 403 and "You will not be asked again" in browser.text


def test_answers_already_given_are_kept(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    with db.transaction(session_factory) as session:
        invitation = session.scalar(
            select(models.Invitation).where(models.Invitation.token == token)
        )
        assert invitation is not None
        complete(session, invitation)
    browser.get(f"/r/{token}/opt-out")
    browser.post(f"/r/{token}/opt-out")
    after = state(session_factory, token)
    assert after["opted_out"] and after["response"] == "completed"


def test_the_button_needs_the_form_from_our_page(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    page = client.post(f"/r/{token}/opt-out", data={})
    assert page.status_code == 400 and "This page has expired" in page.get_data(as_text=True)
    assert not state(session_factory, token)["opted_out"]


def test_a_mail_programs_one_click_unsubscribe_opts_out_without_a_form(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory, name="Harlow Food Bank")
    page = client.post(
        f"/r/{token}/unsubscribe",
        data={"List-Unsubscribe": "One-Click"},
        headers={"Origin": "https://mail.example.com"},
    )
    assert page.status_code == 200
    assert "Harlow CVS will not send Harlow Food Bank any more surveys" in page.get_data(
        as_text=True
    )
    after = state(session_factory, token)
    assert after["opted_out"] and after["messages"] == ["cancelled", "pending"]
    assert after["events"][0][2] == "one-click unsubscribe"


@pytest.mark.parametrize("data", [{}, {"List-Unsubscribe": "yes"}, {"unsubscribe": "One-Click"}])
def test_anything_else_sent_to_the_unsubscribe_address_changes_nothing(
    client: FlaskClient, session_factory: sessionmaker[Session], data: dict[str, str]
) -> None:
    token = invite(session_factory)
    page = client.post(f"/r/{token}/unsubscribe", data=data)
    assert page.status_code == 400
    assert f'href="/r/{token}/opt-out"' in page.get_data(as_text=True)
    assert not state(session_factory, token)["opted_out"]


def test_opening_the_unsubscribe_address_leads_to_the_page(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    page = client.get(f"/r/{token}/unsubscribe")
    assert page.status_code == 303 and page.headers["Location"] == f"/r/{token}/opt-out"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/r/{bad}/opt-out"),
        ("post", "/r/{bad}/opt-out"),
        ("post", "/r/{bad}/unsubscribe"),
        ("get", "/r/not-a-token/opt-out"),
    ],
)
def test_an_unknown_link_is_not_valid(
    client: FlaskClient, session_factory: sessionmaker[Session], method: str, path: str
) -> None:
    invite(session_factory)
    data = {"List-Unsubscribe": "One-Click"}
    url = path.format(bad="A" * 32)
    page = client.get(url) if method == "get" else client.post(url, data=data)
    if method == "post" and "opt-out" in path:
        assert page.status_code == 400  # refused for its missing form token first
        return
    assert page.status_code == 404
    assert "This link is not valid" in page.get_data(as_text=True)
    with session_factory() as session:
        assert session.scalars(select(models.Organisation.opted_out_at)).all() == [None, None]


def test_names_are_escaped_on_the_page(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory, name="<script>alert(1)</script> & Co")
    browser.get(f"/r/{token}/opt-out")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in browser.text
    assert "<script>alert(1)" not in browser.text


@pytest.fixture
def client(browser: Browser) -> FlaskClient:
    """Give a bare client: no cookies, no form tokens (a mail program, or a forged form)."""
    return browser.client
