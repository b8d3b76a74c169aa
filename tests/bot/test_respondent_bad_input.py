"""Every bad input from a respondent gets a short, helpful answer and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import app, render, respondent
from collector import models, rounds
from collector.db import transaction
from collector.models import utcnow
from tests.bot.conftest import BotHarness, FakeChat, callback_answers, text_update, texts
from tests.bot.respondent_helpers import invite, response_row, stored_answers

REFUSED = "invisible control character"


def chat_rows(sessions: sessionmaker[Session]) -> int:
    """Count the stored Telegram chats."""
    with transaction(sessions) as session:
        return int(session.scalar(select(func.count()).select_from(models.TelegramChat)) or 0)


def attached(sessions: sessionmaker[Session], chat_id: int) -> int | None:
    """Give the invitation a chat is answering, if any."""
    with transaction(sessions) as session:
        chat = session.scalar(
            select(models.TelegramChat).where(models.TelegramChat.chat_id == chat_id)
        )
        return None if chat is None else chat.invitation_id


def at_used(harness: BotHarness, chat_id: int, **overrides: Any) -> tuple[FakeChat, int]:
    """Start a survey in a chat and go to its first question; give the chat and invitation id."""
    invited = invite(harness.sessions, **overrides)
    chat = harness.chat(chat_id)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")
    return chat, invited.invitation_id


# Buttons ------------------------------------------------------------------------------------


def test_an_old_button_is_refused_and_changes_nothing(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 201)
    used = chat.last_message()
    chat.press_label("No")
    before = stored_answers(harness.sessions, invitation_id)

    # The same button again (a double tap), and the other one of the old message.
    yes = next(b for b in used.flat_buttons if b["text"] == "Yes")
    calls = chat.press(yes["callback_data"], int(used.params["message_id"]))

    assert callback_answers(calls) == [respondent.MOVED_ON]
    assert "How many volunteers?" in texts(calls)[-1]  # where the chat is now
    assert stored_answers(harness.sessions, invitation_id) == before == {"used": "no"}


def test_a_button_of_another_invitation_is_refused(harness: BotHarness) -> None:
    chat, first_id = at_used(harness, 202)
    old = chat.last_message()
    second = invite(harness.sessions)
    chat.send(f"/start {second.token}")

    calls = chat.press_label("Yes", old)

    assert callback_answers(calls) == [respondent.MOVED_ON]
    assert stored_answers(harness.sessions, first_id) == {}
    assert stored_answers(harness.sessions, second.invitation_id) == {}
    assert attached(harness.sessions, 202) == second.invitation_id


def test_a_button_after_sending_is_refused(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 203)
    chat.press_label("No")
    chat.send("4")
    chat.send("/skip")
    chat.send("/skip")
    summary = chat.last_message()
    chat.press_label("Change 1")
    change = chat.last_message()
    chat.press_label("✅ No")
    chat.press_label("Send answers")
    answers = stored_answers(harness.sessions, invitation_id)

    for call, label in ((summary, "Send answers"), (change, "Yes"), (summary, "Change 2")):
        calls = chat.press_label(label, call)
        assert callback_answers(calls) in (
            [respondent.MOVED_ON],
            ["You have already answered this survey. Thank you."],
        ), label
    assert (
        stored_answers(harness.sessions, invitation_id)
        == answers
        == {
            "used": "no",
            "volunteers": 4,
        }
    )
    response = response_row(harness.sessions, invitation_id)
    assert response is not None and response.status == "completed"


@pytest.mark.parametrize(
    "data",
    [
        "r:abc:1:c:0",  # not a response id
        "r:{rid}:99:c:0",  # no such question
        "r:{rid}:1:c:9",  # no such choice
        "r:{rid}:1:c:x",
        "r:{rid}:1:t:0",  # a toggle on a single-choice question
        "r:{rid}:1:zz",  # no such action
        "r:{rid}:-:L:fr",  # a language the survey does not have
        "r:{rid}:1",
        "x:1:2:3",  # not the respondent's prefix at all
        "",
    ],
)
def test_forged_or_broken_buttons_change_nothing(harness: BotHarness, data: str) -> None:
    chat, invitation_id = at_used(harness, 204)
    response = response_row(harness.sessions, invitation_id)
    assert response is not None

    calls = chat.press(data.format(rid=response.id), 1)

    assert len(callback_answers(calls)) == 1
    assert callback_answers(calls)[0] in (respondent.OLD_BUTTON, respondent.MOVED_ON)
    after = response_row(harness.sessions, invitation_id)
    assert after is not None
    assert (after.cursor, after.language) == ("used", "en")
    assert stored_answers(harness.sessions, invitation_id) == {}


def test_a_bad_tick_mask_changes_nothing(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 205)
    chat.press_label("Yes")
    chat.press_label("Easy")
    response = response_row(harness.sessions, invitation_id)
    assert response is not None

    for mask in ("zz", "ff", "-1"):
        calls = chat.press(render.data(response.id, 3, render.DONE, mask), 1)
        assert callback_answers(calls) == [respondent.OLD_BUTTON]
    assert "kinds" not in stored_answers(harness.sessions, invitation_id)


# Typing and other messages ------------------------------------------------------------------


def test_typing_when_a_button_is_expected(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 206)

    calls = chat.send("Yes please")  # not a choice as its button says it

    assert respondent.CHOOSE_OR_TYPE in texts(calls)[0]
    assert [b["text"] for b in calls[0].flat_buttons][:2] == ["Yes", "No"]
    chat.press_label("Yes")
    chat.press_label("Easy")
    assert respondent.CHOOSE_OR_TYPE in texts(chat.send("funding and more"))[0]
    assert respondent.CHOOSE_OR_TYPE in texts(chat.send("Funding, Lunch"))[0]
    assert stored_answers(harness.sessions, invitation_id) == {"used": "yes", "ease": "easy"}


def test_typing_on_a_note_or_the_summary(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(207)
    chat.send(f"/start {invited.token}")
    assert respondent.USE_BUTTONS in texts(chat.send("hello"))[0]
    chat.press_label("Continue")
    chat.press_label("No")
    chat.send("1")
    chat.send("/skip")
    chat.send("/skip")

    calls = chat.send("send")

    assert respondent.USE_REVIEW_BUTTONS in texts(calls)[0]
    assert "Send answers" in [b["text"] for b in calls[0].flat_buttons]
    response = response_row(harness.sessions, invited.invitation_id)
    assert response is not None and response.status == "in_progress"
    # /skip on the summary says the same.
    assert respondent.USE_REVIEW_BUTTONS in texts(chat.send("/skip"))[0]


CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"]


@pytest.mark.parametrize("control", CONTROLS)
def test_a_typed_answer_with_a_control_character_is_refused_and_saves_nothing(
    harness: BotHarness, control: str
) -> None:
    chat, invitation_id = at_used(harness, 220)
    used = chat.last_message()
    for typed in (f"Yes{control}", f"{control}Yes"):
        assert REFUSED in texts(chat.send(typed))[0]
    chat.press_label("No", used)
    assert REFUSED in texts(chat.send(f"1{control}2"))[0]
    chat.send("12")
    chat.send("/skip")

    for typed in (f"Fine{control}thanks", f"Fine thanks{control}", control):
        calls = chat.send(typed)
        assert texts(calls) == [app.CONTROL_CHARACTERS], typed

    assert stored_answers(harness.sessions, invitation_id) == {"used": "no", "volunteers": 12}
    response = response_row(harness.sessions, invitation_id)
    assert response is not None and response.cursor == "comments"


def test_a_code_with_a_control_character_is_refused_and_links_nothing(
    harness: BotHarness,
) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(221)

    assert REFUSED in texts(chat.send(f"/start {invited.token}\x00"))[0]

    assert attached(harness.sessions, 221) is None
    assert response_row(harness.sessions, invited.invitation_id) is None


def test_tabs_and_new_lines_are_text_not_control_characters(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 222)
    chat.press_label("No")
    chat.send("12")
    chat.send("/skip")

    calls = chat.send("Two lines:\n\tfirst\r\n\tsecond")

    assert "Check your answers" in texts(calls)[0]
    stored = stored_answers(harness.sessions, invitation_id)["comments"]
    assert stored == "Two lines:\n\tfirst\n\tsecond"


def test_a_sticker_or_a_photo_mid_survey(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 208)

    for calls in (chat.sticker(), chat.photo()):
        assert respondent.NO_FILES in texts(calls)[0]
        assert "Did you use us?" in texts(calls)[0]
    assert stored_answers(harness.sessions, invitation_id) == {}


def test_an_edited_message_is_not_read(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 209)
    chat.press_label("No")

    calls = chat.edit("12")

    assert texts(calls) == [respondent.NO_EDITS]
    assert stored_answers(harness.sessions, invitation_id) == {"used": "no"}


def test_an_unlinked_chat_is_told_how_to_start(harness: BotHarness) -> None:
    chat = harness.chat(210)
    for calls in (
        chat.send("hello"),
        chat.sticker(),
        chat.photo(),
        chat.send("/start"),
        chat.send("/back"),
        chat.send("/skip"),
        chat.send("/language"),
    ):
        assert texts(calls) == [respondent.NOT_LINKED]
    assert callback_answers(chat.press("r:1:1:c:0", 5)) == [respondent.NOT_LINKED]
    assert chat_rows(harness.sessions) == 0


def test_a_group_chat_is_ignored(harness: BotHarness) -> None:
    invited = invite(harness.sessions)

    calls = harness.feed(text_update(-100, f"/start {invited.token}", chat_type="group"))

    assert texts(calls) == []
    assert chat_rows(harness.sessions) == 0


# Codes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["nonsense", "A" * 32, "a b"])
def test_an_unknown_or_malformed_code(harness: BotHarness, token: str) -> None:
    chat = harness.chat(211)

    calls = chat.send(f"/start {token}")

    assert "That survey code is not valid" in texts(calls)[0]
    assert attached(harness.sessions, 211) is None


def test_too_many_bad_codes_from_one_chat(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(212)
    for _ in range(respondent.BAD_STARTS.limit):
        assert "not valid" in texts(chat.send("/start " + "B" * 32))[0]

    calls = chat.send(f"/start {invited.token}")  # even a good one, until the window ends

    assert "too many codes" in texts(calls)[0]
    assert attached(harness.sessions, 212) is None
    # Another chat is not held up.
    assert "Every type" in texts(harness.chat(213).send(f"/start {invited.token}"))[0]


def test_a_code_for_a_closed_round(harness: BotHarness) -> None:
    now = utcnow()
    invited = invite(
        harness.sessions, opens_at=now - timedelta(days=30), closes_at=now - timedelta(days=1)
    )
    chat = harness.chat(214)

    calls = chat.send(f"/start {invited.token}")

    assert "This survey closed on" in texts(calls)[0]
    assert attached(harness.sessions, 214) is None
    assert response_row(harness.sessions, invited.invitation_id) is None


def test_a_code_for_a_round_not_open_yet(harness: BotHarness) -> None:
    now = utcnow()
    invited = invite(
        harness.sessions, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=30)
    )

    calls = harness.chat(215).send(f"/start {invited.token}")

    assert "This survey opens on" in texts(calls)[0]
    assert attached(harness.sessions, 215) is None


def test_a_code_of_an_opted_out_organisation(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    with transaction(harness.sessions) as session:
        organisation = session.get(models.Organisation, invited.organisation_id)
        assert organisation is not None
        organisation.opted_out_at = utcnow()

    calls = harness.chat(216).send(f"/start {invited.token}")

    assert "asked not to receive these surveys" in texts(calls)[0]
    assert attached(harness.sessions, 216) is None
    assert response_row(harness.sessions, invited.invitation_id) is None


def test_a_code_already_answered(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 217)
    chat.press_label("No")
    chat.send("2")
    chat.send("/skip")
    chat.send("/skip")
    chat.press_label("Send answers")
    with transaction(harness.sessions) as session:
        token = session.get(models.Invitation, invitation_id).token  # type: ignore[union-attr]

    calls = harness.chat(218).send(f"/start {token}")

    # Opened from the thank-you page's "Answer in Telegram next time", say: already answered,
    # and (the round being open) whether future surveys may come to this chat.
    already, consent = texts(calls)
    assert already == "You have already answered this survey. Thank you."
    assert "send you future surveys here" in consent
    assert attached(harness.sessions, 218) == invitation_id
    assert response_row(harness.sessions, invitation_id).status == "completed"  # type: ignore[union-attr]


def test_a_code_already_answered_in_a_closed_round_changes_nothing(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 219)
    chat.press_label("No")
    chat.send("2")
    chat.send("/skip")
    chat.send("/skip")
    chat.press_label("Send answers")
    with transaction(harness.sessions) as session:
        invitation = session.get(models.Invitation, invitation_id)
        assert invitation is not None
        token = invitation.token
        rounds.close_round(session, invitation.round)

    calls = harness.chat(220).send(f"/start {token}")

    assert texts(calls) == ["You have already answered this survey. Thank you."]
    assert attached(harness.sessions, 220) is None


def test_the_round_closing_mid_survey(harness: BotHarness) -> None:
    chat, invitation_id = at_used(harness, 219)
    chat.press_label("No")
    volunteers = chat.last_message()
    with transaction(harness.sessions) as session:
        round_ = session.get(models.Invitation, invitation_id).round  # type: ignore[union-attr]
        round_.closes_at = utcnow() - timedelta(minutes=1)

    calls = chat.send("12")

    assert "This survey closed on" in texts(calls)[0]
    assert stored_answers(harness.sessions, invitation_id) == {"used": "no"}
    calls = chat.press_label("« Back", volunteers)
    assert "This survey closed on" in callback_answers(calls)[0]
    response = response_row(harness.sessions, invitation_id)
    assert response is not None and response.cursor == "volunteers"
