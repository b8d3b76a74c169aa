"""Carrying on between channels in the chat (issue 20): a linked chat finds its group's open
survey, several are offered to choose from, "already answered" is said only of a survey that
was, a clash the web won says which answer was kept, and /start without a code does not send
anyone to a link they may not have."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot import render, respondent
from collector import flow, models, rounds
from collector.db import transaction
from collector.delivery import chats
from collector.models import utcnow
from tests.bot.conftest import BotHarness, callback_answers, texts
from tests.factories import make_organisation, make_provider, make_round

CHAT = 4040


def linked_group(sessions: sessionmaker[Session], *, rounds_open: int) -> tuple[int, list[str]]:
    """Store a group whose chat is linked, and `rounds_open` open rounds inviting it (the
    newest last); give the group's id and its tokens."""
    with transaction(sessions) as session:
        provider = make_provider(session)
        group = make_organisation(
            session, provider, name="Linked Lunch Club", consent_telegram=True
        )
        session.add(models.TelegramChat(chat_id=CHAT, organisation=group))
        tokens = []
        for n in range(rounds_open):
            round_ = make_round(
                session,
                provider,
                audience={},
                period_label=f"2026/27 Q{n + 1}",
                opens_at=utcnow() - timedelta(days=10 - n),
            )
            tokens.append(round_.invitations[0].token)
        return group.id, tokens


def start_on_the_web(session: Session, token: str, *, used: str = "no") -> models.Response:
    """Start an invitation on the web and answer its first question."""
    invitation = rounds.invitation_by_token(session, token)
    response = flow.start(session, invitation, channel="web")
    flow.answer(session, response, "intro", None, channel="web")
    flow.answer(session, response, "used", used, channel="web")
    return response


def test_a_linked_chat_writing_anything_carries_on_with_its_group_s_open_survey(
    harness: BotHarness,
) -> None:
    _, (token,) = linked_group(harness.sessions, rounds_open=1)
    with transaction(harness.sessions) as session:
        start_on_the_web(session, token)
    chat = harness.chat(CHAT)

    (welcome,) = texts(chat.send("hi"))
    assert "You have started this survey already, so we carry on" in welcome
    assert "How many volunteers?" in welcome
    chat.send("4")
    with transaction(harness.sessions) as session:
        response = flow.response_for(session, rounds.invitation_by_token(session, token))
        assert response is not None
        assert flow.answers(session, response) == {"used": "no", "volunteers": 4}
        channels = {a.question_id: a.channel for a in response.answers}
        assert channels == {"used": "web", "volunteers": "telegram"}


def test_several_open_surveys_are_listed_to_choose_from(harness: BotHarness) -> None:
    _, tokens = linked_group(harness.sessions, rounds_open=2)
    chat = harness.chat(CHAT)

    calls = chat.send("/start")
    (listing,) = texts(calls)
    assert listing == "Your group has 2 surveys open. Which one would you like to answer now?"
    labels = [b["text"] for b in calls[0].flat_buttons]
    assert len(labels) == 2 and labels[0].startswith("Every type (2026/27 Q2), closes ")
    chat.press_label(labels[1])
    assert "“Every type”" in chat.last_message().text
    with transaction(harness.sessions) as session:
        chosen = rounds.invitation_by_token(session, tokens[0])  # Q1: the second listed
        assert flow.response_for(session, chosen) is not None
        stored = chats.chat_for(session, CHAT)
        assert stored is not None and stored.invitation_id == chosen.id


def test_a_survey_chosen_from_an_old_list_after_it_was_sent_is_refused(
    harness: BotHarness,
) -> None:
    _, tokens = linked_group(harness.sessions, rounds_open=2)
    chat = harness.chat(CHAT)
    chat.send("hello")
    listing = chat.last_message()
    with transaction(harness.sessions) as session:
        response = start_on_the_web(session, tokens[1])
        flow.answer(session, response, "volunteers", "2", channel="web")
        flow.answer(session, response, "share", None, channel="web")
        flow.answer(session, response, "comments", None, channel="web")
        flow.complete(session, response, channel="web")
    first = listing.flat_buttons[0]["text"]  # the newest: now sent
    calls = chat.press_label(first, listing)
    assert callback_answers(calls) == [respondent.OLD_BUTTON]
    assert texts(calls) == []
    # A button crafted for another group's survey is refused the same way.
    calls = chat.press(render.data(0, None, render.OPEN, "999999"), 1)
    assert callback_answers(calls) == [respondent.OLD_BUTTON]


def test_already_answered_is_said_only_of_a_survey_that_was(harness: BotHarness) -> None:
    _, (token,) = linked_group(harness.sessions, rounds_open=1)
    with transaction(harness.sessions) as session:
        response = start_on_the_web(session, token)
        flow.answer(session, response, "volunteers", "2", channel="web")
        flow.answer(session, response, "share", None, channel="web")
        flow.answer(session, response, "comments", None, channel="web")
        flow.complete(session, response, channel="web")
    chat = harness.chat(CHAT)
    assert texts(chat.send("/start")) == [respondent.NOT_LINKED]  # nothing open, nothing done

    # The group's deep link, opened after sending on the web (from the thank-you page, say):
    # already answered, and since the chat is linked, no question about future surveys.
    assert texts(chat.send(f"/start {token}")) == [
        "You have already answered this survey. Thank you."
    ]
    assert texts(chat.send("hi")) == ["You have already answered this survey. Thank you."]


def test_start_without_a_code_points_to_no_link_the_person_may_not_have(
    harness: BotHarness,
) -> None:
    (said,) = texts(harness.chat(5050).send("/start"))
    assert "open the Telegram link in your invitation" not in said
    assert "“Answer in Telegram” link" in said


def test_an_unlinked_chat_opening_a_sent_survey_is_asked_about_future_ones(
    harness: BotHarness,
) -> None:
    with transaction(harness.sessions) as session:
        provider = make_provider(session, name="Harlow CVS")
        make_organisation(session, provider)
        round_ = make_round(session, provider, audience={})
        token = round_.invitations[0].token
        response = start_on_the_web(session, token)
        for question, raw in (("volunteers", "1"), ("share", None), ("comments", None)):
            flow.answer(session, response, question, raw, channel="web")
        flow.complete(session, response, channel="web")
    calls = harness.chat(6060).send(f"/start {token}")
    already, consent = texts(calls)
    assert already == "You have already answered this survey. Thank you."
    assert "Would you like Harlow CVS to send you future surveys here" in consent


def test_a_clash_the_web_won_says_which_answer_was_kept(harness: BotHarness) -> None:
    with transaction(harness.sessions) as session:
        provider = make_provider(session)
        make_organisation(session, provider)
        token = make_round(session, provider, audience={}).invitations[0].token
    chat = harness.chat(7070)
    chat.send(f"/start {token}")
    chat.press_label("Continue")
    used = chat.last_message()
    with transaction(harness.sessions) as session:
        invitation = rounds.invitation_by_token(session, token)
        response = flow.response_for(session, invitation)
        assert response is not None
        flow.answer(session, response, "used", "no", channel="web")

    calls = chat.press_label("Yes", used)
    kept = "Your group answered No on the web, so that answer was kept."
    assert callback_answers(calls) == [kept]
    assert "✔️ No" in chat.message(int(used.params["message_id"])).text
    now = chat.last_message().text
    assert now.startswith(kept) and "How many volunteers?" in now
    with transaction(harness.sessions) as session:
        response = flow.response_for(session, rounds.invitation_by_token(session, token))
        assert response is not None
        assert flow.answers(session, response) == {"used": "no"}
