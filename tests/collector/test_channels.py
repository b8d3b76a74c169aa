"""Which channel reaches an organisation or a volunteer: one message each, where it prefers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from collector import models, rounds
from collector.models import utcnow
from tests.factories import make_organisation, make_provider, make_volunteer

BOTH = ("email", "telegram")


def test_a_group_is_reached_on_its_preferred_channel_when_it_can_be(session: Session) -> None:
    provider = make_provider(session)
    group = make_organisation(session, provider)
    group.consent_email, group.contact_email = True, "hello@group.example.org"
    assert rounds.choose_channel(group, BOTH) == ("email", "hello@group.example.org")

    chat = models.TelegramChat(chat_id=9001, organisation=group)
    session.add(chat)
    session.flush()
    # A linked chat without consent to Telegram is not used.
    group.preferred_channel = "telegram"
    assert rounds.choose_channel(group, BOTH) == ("email", "hello@group.example.org")
    group.consent_telegram = True
    assert rounds.choose_channel(group, BOTH) == ("telegram", "9001")
    assert rounds.choose_channel(group, ("email",)) == ("email", "hello@group.example.org")

    chat.stopped_at = utcnow()  # /stop in the chat
    assert rounds.choose_channel(group, BOTH) == ("email", "hello@group.example.org")
    group.consent_email = False
    assert rounds.choose_channel(group, BOTH) is None


def test_an_erased_volunteer_is_not_reached_at_all(session: Session) -> None:
    provider = make_provider(session)
    volunteer = make_volunteer(session, provider)
    assert rounds.contact_address(volunteer, "email") == volunteer.contact_email
    volunteer.erased_at = utcnow()
    assert rounds.choose_channel(volunteer, BOTH) is None
