"""A contact (a partner, a commissioner, a representative) answers a round of contacts on the
web, and opts out from their link, like a group (issue 15)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models
from collector.survey.loader import library_survey
from tests.factories import make_contact, make_provider, make_round
from tests.forms.conftest import Browser
from tests.forms.test_respond import response_of, start, stored_answers, walk


def contact_invitation(factory: sessionmaker[Session], survey: str) -> tuple[str, int]:
    """Add a round of `survey` for a provider's partners; give a partner's token and id."""
    with db.transaction(factory) as session:
        provider = make_provider(session, name="Voluntary Action LeicesterShire")
        contact = make_contact(
            session, provider, name="Alex Partner", organisation="Leicestershire County Council"
        )
        round_ = make_round(
            session, provider, library_survey(survey), audience={"contacts": ["partner"]}
        )
        [invitation] = round_.invitations
        return invitation.token, contact.id


def test_a_partner_answers_on_the_web_and_their_response_says_who_they_are(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token, _ = contact_invitation(session_factory, "funder-satisfaction")
    browser.get(f"/r/{token}")
    assert "Working with the voluntary and community sector" in browser.text
    start(browser, f"/r/{token}")
    walk(
        browser,
        [
            ("capacity_building_satisfaction", "satisfied"),
            ("sector_represented", "partly"),
            ("compact_relations", "improved_a_little"),
            ("vcs_understanding", "good"),
            ("comments", None),
        ],
    )
    browser.post(f"/r/{token}/check")
    assert "Your answers have been sent" in browser.text
    response = response_of(session_factory, token)
    assert response is not None and response.status == "completed"
    assert (response.audience, response.contact_org) == ("partner", "Leicestershire County Council")
    assert stored_answers(session_factory, response.id) == {
        "capacity_building_satisfaction": "satisfied",
        "sector_represented": "partly",
        "compact_relations": "improved_a_little",
        "vcs_understanding": "good",
    }


def test_a_contact_opts_out_from_their_link(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token, contact_id = contact_invitation(session_factory, "representative-views")
    browser.get(f"/r/{token}/opt-out")
    text = " ".join(browser.text.split())
    assert "asks its partners and the sector's representatives" in text
    assert "This link was sent to you." in text and "Stop asking me" in text
    browser.post(f"/r/{token}/opt-out")
    assert "will not send you any more surveys" in " ".join(browser.text.split())
    with session_factory() as session:
        contact = session.get(models.Contact, contact_id)
        assert contact is not None and contact.opted_out_at is not None
        assert session.scalars(select(models.OutboxMessage.status)).all() == ["cancelled"]
        [event] = session.scalars(select(models.AuditEvent)).all()
        assert (event.action, event.actor) == (
            "contact.opt_out",
            "the contact, by their opt-out link",
        )
        assert "Alex" not in (event.subject or "")
    # The link now says they opted out, and answering is refused.
    page = browser.get(f"/r/{token}")
    assert page.status_code == 403
