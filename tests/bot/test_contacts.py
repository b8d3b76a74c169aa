"""A representative answers a round of contacts in Telegram and links the chat (issue 15)."""

from __future__ import annotations

from collector import models
from collector.db import transaction
from collector.delivery import chats
from collector.survey.loader import library_survey
from tests.bot.conftest import BotHarness, texts
from tests.bot.respondent_helpers import response_row, stored_answers
from tests.factories import make_contact, make_provider, make_round


def test_a_representative_answers_in_telegram_and_links_the_chat(harness: BotHarness) -> None:
    with transaction(harness.sessions) as session:
        provider = make_provider(session, name="Voluntary Action LeicesterShire")
        contact = make_contact(
            session, provider, audience="representative", organisation="Health Board"
        )
        round_ = make_round(
            session,
            provider,
            library_survey("representative-views"),
            audience={"contacts": ["representative"]},
        )
        [invitation] = round_.invitations
        token, invitation_id, contact_id = invitation.token, invitation.id, contact.id
    chat = harness.chat(4401)
    assert "Representing the voluntary and community sector" in " ".join(
        texts(chat.send(f"/start {token}"))
    )
    chat.press_label("Yes, effectively")
    chat.press_label("⬜ Training")
    chat.press_label("Done")
    chat.send("More briefings before board meetings")
    chat.press_label("Send answers")
    calls = chat.press_label("Yes, send them here")
    assert "will send you future surveys here" in texts(calls)[0]

    assert stored_answers(harness.sessions, invitation_id) == {
        "able_to_represent": "yes",
        "support_wanted": ["training"],
        "comments": "More briefings before board meetings",
    }
    response = response_row(harness.sessions, invitation_id)
    assert response is not None and response.status == "completed"
    assert (response.channel, response.audience, response.contact_org) == (
        "telegram",
        "representative",
        "Health Board",
    )
    with transaction(harness.sessions) as session:
        stored = chats.chat_for(session, 4401)
        contact = session.get(models.Contact, contact_id)
        assert stored is not None and contact is not None
        assert stored.contact_id == contact_id and stored.organisation_id is None
        assert contact.consent_telegram and contact.preferred_channel == "telegram"
