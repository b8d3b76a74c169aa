"""A volunteer opts out of placement follow-ups from their email's link."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, localtime, models
from collector.volunteering import followups
from tests.factories import make_organisation, make_placement, make_provider, make_volunteer
from tests.forms.conftest import Browser

START = date(2026, 5, 4)


def followed_up(factory: sessionmaker[Session]) -> dict[str, object]:
    """Add a placement whose follow-ups are queued; give the volunteer's token and ids."""
    with db.transaction(factory) as session:
        provider = make_provider(session, name="Charnwood Volunteer Centre")
        volunteer = make_volunteer(session, provider, name="Sam Patel")
        host = make_organisation(session, provider, name="Loughborough Foodbank")
        placement = make_placement(session, provider, volunteer, host, starts_on=START)
        followups.run(session, now=localtime.day_starts(START + timedelta(days=28)))
        invitation = session.scalars(
            select(models.Invitation).where(models.Invitation.volunteer_id == volunteer.id)
        ).one()
        return {
            "token": invitation.token,
            "volunteer": volunteer.id,
            "provider": provider.id,
            "host": host.id,
            "placement": placement.id,
        }


def test_a_volunteer_opts_out_of_followups_from_the_link(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    story = followed_up(session_factory)
    token = story["token"]
    page = browser.get(f"/r/{token}/opt-out")
    assert page.status_code == 200
    text = " ".join(browser.text.split())
    assert "asks the volunteers it places how their placements are going" in text
    assert "will not send you any more surveys, invitations or reminders" in text
    assert "Stop asking me" in text and "None" not in text

    browser.post(f"/r/{token}/opt-out")
    assert "You will not be asked again" in browser.text
    assert "will not send you any more surveys" in " ".join(browser.text.split())
    with session_factory() as session:
        volunteer = session.get(models.Volunteer, story["volunteer"])
        assert volunteer is not None and volunteer.opted_out_at is not None
        statuses = session.scalars(
            select(models.OutboxMessage.status).order_by(models.OutboxMessage.id)
        ).all()
        assert statuses == ["cancelled", "pending"]  # the host's invitation stays
        [event] = session.scalars(select(models.AuditEvent)).all()
        assert (event.action, event.subject) == (
            "volunteer.opt_out",
            f"volunteer {story['volunteer']}",
        )
        assert "Sam Patel" not in str(event.details) and event.details["cancelled"] == 1

    # Their next placement is followed up with the host only.
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, story["provider"])
        volunteer = session.get(models.Volunteer, story["volunteer"])
        assert provider is not None and volunteer is not None
        make_placement(session, provider, volunteer, starts_on=START + timedelta(days=10))
        counts = followups.run(session, now=localtime.day_starts(START + timedelta(days=38)))
        assert (counts.placements, counts.invitations) == (1, 1)

    # A second press changes nothing and logs nothing.
    browser.get(f"/r/{token}/opt-out")
    assert "You will not be asked again" in browser.text
    with session_factory() as session:
        assert len(session.scalars(select(models.AuditEvent)).all()) == 1


def test_one_click_unsubscribe_from_a_followup_speaks_to_the_volunteer(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    story = followed_up(session_factory)
    page = browser.client.post(
        f"/r/{story['token']}/unsubscribe", data={"List-Unsubscribe": "One-Click"}
    )
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Charnwood Volunteer Centre will not send you any more surveys." in body
    assert "Sam Patel" not in body
    with session_factory() as session:
        volunteer = session.get(models.Volunteer, story["volunteer"])
        assert volunteer is not None and volunteer.opted_out_at is not None


def test_the_host_opting_out_from_its_followup_stops_the_group(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    story = followed_up(session_factory)
    with session_factory() as session:
        token = session.scalars(
            select(models.Invitation.token).where(
                models.Invitation.organisation_id == story["host"]
            )
        ).one()
    browser.get(f"/r/{token}/opt-out")
    assert "Stop asking Loughborough Foodbank" in browser.text
    browser.post(f"/r/{token}/opt-out")
    with session_factory() as session:
        host = session.get(models.Organisation, story["host"])
        assert host is not None and host.opted_out_at is not None
