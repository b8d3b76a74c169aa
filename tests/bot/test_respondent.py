"""Answering a survey in Telegram: every question type, the commands, and the summary."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import respondent
from collector import models
from collector.db import transaction
from collector.delivery import chats
from collector.survey.model import AnswerError
from tests.bot.conftest import BotHarness, FakeChat, callback_answers, texts
from tests.bot.respondent_helpers import Invited, invite, response_row, stored_answers
from tests.factories import every_type_survey

EXPECTED = {
    "used": "yes",
    "ease": "easy",
    "kinds": ["funding", "training"],
    "volunteers": 12,
    "share": 0.25,
    "comments": "Thank you & <goodbye>",
}


def web_message(question_id: str, raw: str | list[str]) -> str:
    """Give the message the web shows for this bad input (the flow's own validation)."""
    question = every_type_survey().question(question_id)
    with pytest.raises(AnswerError) as caught:
        question.validate(raw, {"used": "yes"})
    return caught.value.message_in("en")


def answer_all(chat: FakeChat, token: str) -> None:
    """Answer the every-type survey as EXPECTED, up to the summary."""
    first = chat.send(f"/start {token}")
    assert "Welcome" in texts(first)[0]
    chat.press_label("Continue")
    chat.press_label("Yes")
    chat.press_label("Easy")
    chat.press_label("⬜ Funding")
    chat.press_label("⬜ Training")
    chat.press_label("Done")
    chat.send("12")
    chat.send("0.25")
    chat.send("Thank you & <goodbye>")


def test_every_question_type_by_buttons_and_typed_replies(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(101)

    calls = chat.send(f"/start {invited.token}")
    welcome = texts(calls)[0]
    assert "is asking for your answers to “Every type”" in welcome
    assert "Continue" in [b["text"] for b in calls[0].flat_buttons]
    calls = chat.press_label("Continue")
    question = chat.last_message()
    assert "Question 1 of 6" in question.text and "Did you use us?" in question.text
    chat.press_label("Yes")
    # The answered question's message keeps the answer and loses its buttons.
    assert "✔️ Yes" in chat.message(int(question.params["message_id"])).text
    assert chat.message(int(question.params["message_id"])).flat_buttons == []
    assert "Question 2 of 6" in chat.last_message().text
    chat.press_label("Easy")
    ticked = chat.press_label("⬜ Funding")
    assert [c.method for c in ticked] == ["answerCallbackQuery", "editMessageReplyMarkup"]
    assert stored_answers(harness.sessions, invited.invitation_id).get("kinds") is None
    chat.press_label("⬜ Training")
    chat.press_label("☑️ Training")  # untick
    chat.press_label("⬜ Training")
    chat.press_label("Done")
    assert "How many volunteers?" in chat.last_message().text
    chat.send("12")
    share = chat.last_message()
    assert "(optional)" in share.text
    chat.send("0.25")
    chat.send("Thank you & <goodbye>")

    summary = chat.last_message()
    assert "Check your answers before sending them" in summary.text
    assert "Thank you &amp; &lt;goodbye&gt;" in summary.text  # escaped for HTML
    assert "Funding, Training" in summary.text
    calls = chat.press_label("Send answers")
    sent = texts(calls)
    assert "Thank you. Your answers have been sent." in sent
    assert any("future surveys here in Telegram" in text for text in sent)

    assert stored_answers(harness.sessions, invited.invitation_id) == EXPECTED
    response = response_row(harness.sessions, invited.invitation_id)
    assert response is not None
    assert (response.status, response.channel) == ("completed", "telegram")


def test_yes_to_future_surveys_links_the_chat_to_the_organisation(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(102)
    answer_all(chat, invited.token)
    chat.press_label("Send answers")

    calls = chat.press_label("Yes, send them here")

    assert "will send you future surveys here" in texts(calls)[0]
    with transaction(harness.sessions) as session:
        organisation = session.get(models.Organisation, invited.organisation_id)
        stored = chats.chat_for(session, 102)
        assert organisation is not None and stored is not None
        assert organisation.consent_telegram is True
        assert organisation.preferred_channel == "telegram"
        assert stored.organisation_id == invited.organisation_id


def test_no_to_future_surveys_links_nothing(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(103)
    answer_all(chat, invited.token)
    chat.press_label("Send answers")

    calls = chat.press_label("No, thanks")

    assert "will not send you surveys here" in texts(calls)[0]
    assert_not_linked(harness, invited, 103)


def test_no_after_yes_on_the_same_question_unlinks_the_chat(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(104)
    answer_all(chat, invited.token)
    chat.press_label("Send answers")
    question = chat.last_message()  # the question about future surveys
    no = next(b for b in question.flat_buttons if b["text"] == "No, thanks")
    chat.press_label("Yes, send them here", question)
    # A second tap, on the buttons the phone still showed: the last answer wins.
    calls = chat.press(no["callback_data"], int(question.params["message_id"]))

    assert "will not send you surveys here" in texts(calls)[0]
    assert_not_linked(harness, invited, 104)


def assert_not_linked(harness: BotHarness, invited: Invited, chat_id: int) -> None:
    """Check that the chat is linked to no group, and the group has no Telegram consent or
    preference."""
    with transaction(harness.sessions) as session:
        organisation = session.get(models.Organisation, invited.organisation_id)
        stored = chats.chat_for(session, chat_id)
        assert organisation is not None and stored is not None
        assert organisation.consent_telegram is False
        assert organisation.preferred_channel is None
        assert stored.organisation_id is None


def test_a_linked_chat_is_not_asked_again(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    with transaction(harness.sessions) as session:
        invitation = session.get(models.Invitation, invited.invitation_id)
        assert invitation is not None
        chats.link_recipient(session, chats.attach_invitation(session, 104, invitation))
    chat = harness.chat(104)
    answer_all(chat, invited.token)

    calls = chat.press_label("Send answers")

    assert texts(calls) == ["Thank you. Your answers have been sent."]


def test_bad_numbers_are_refused_with_the_web_s_messages_and_then_corrected(
    harness: BotHarness,
) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(105)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")
    chat.press_label("No")

    for bad in ("lots", "900", "1.5"):
        calls = chat.send(bad)
        assert f"⚠️ {web_message('volunteers', bad)}" in texts(calls)[0], bad
        assert "How many volunteers?" in texts(calls)[0]
        assert "volunteers" not in stored_answers(harness.sessions, invited.invitation_id)
    calls = chat.send("7")
    assert "What share came through us?" in texts(calls)[0]
    assert "⚠️" not in texts(calls)[0]
    calls = chat.send("half")
    assert f"⚠️ {web_message('share', 'half')}" in texts(calls)[0]
    assert stored_answers(harness.sessions, invited.invitation_id) == {
        "used": "no",
        "volunteers": 7,
    }


def test_a_broken_constraint_shows_the_survey_s_message_in_place(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(106)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")
    chat.press_label("Yes")
    chat.press_label("Easy")
    chat.press_label("⬜ Funding")
    chat.press_label("⬜ None of these")

    calls = chat.press_label("Done")

    edited = [c for c in calls if c.method == "editMessageText"]
    assert edited and "'None of these' goes on its own" in edited[0].text
    # The ticks as sent stay on the buttons, to be corrected.
    labels = [b["text"] for b in chat.last_message().flat_buttons]
    assert "☑️ Funding" in labels and "☑️ None of these" in labels
    assert "kinds" not in stored_answers(harness.sessions, invited.invitation_id)
    chat.press_label("☑️ None of these")
    chat.press_label("Done")
    assert stored_answers(harness.sessions, invited.invitation_id)["kinds"] == ["funding"]


def test_nothing_ticked_is_refused_like_the_web(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(107)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")
    chat.press_label("Yes")
    chat.press_label("Hard")

    calls = chat.press_label("Done")

    assert web_message("kinds", []) in [c for c in calls if c.method == "editMessageText"][0].text
    assert "kinds" not in stored_answers(harness.sessions, invited.invitation_id)


def test_the_warning_of_an_empty_done_goes_with_the_first_tick(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(110)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")
    chat.press_label("Yes")
    chat.press_label("Hard")
    kinds = chat.last_message()
    chat.press_label("Done")
    assert "⚠️ Select at least one answer" in chat.message(int(kinds.params["message_id"])).text

    chat.press_label("⬜ Funding")

    ticked = chat.message(int(kinds.params["message_id"]))
    assert "⚠️" not in ticked.text and "Which kinds?" in ticked.text
    assert "☑️ Funding" in [b["text"] for b in ticked.flat_buttons]
    chat.press_label("⬜ Training")
    assert "⚠️" not in chat.message(int(kinds.params["message_id"])).text
    chat.press_label("Done")
    assert stored_answers(harness.sessions, invited.invitation_id)["kinds"] == [
        "funding",
        "training",
    ]


def test_a_choice_typed_as_its_button_says_is_taken(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(111)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")

    calls = chat.send("Yes")

    assert "How easy?" in texts(calls)[0] and "⚠️" not in texts(calls)[0]
    chat.send("hard")  # any case
    assert "Which kinds?" in chat.last_message().text
    chat.send("Funding, Training")
    assert "How many volunteers?" in chat.last_message().text
    assert stored_answers(harness.sessions, invited.invitation_id) == {
        "used": "yes",
        "ease": "hard",
        "kinds": ["funding", "training"],
    }


def test_a_too_long_text_says_by_how_much_and_saves_nothing(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(112)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")
    chat.press_label("No")
    chat.send("3")
    chat.send("/skip")

    calls = chat.send("x" * 2345)

    said = texts(calls)[0]
    assert "345 characters too long" in said and "2,345" in said and "2,000" in said
    assert "Anything else?" in said  # asked again, to be answered shorter
    assert "comments" not in stored_answers(harness.sessions, invited.invitation_id)
    response = response_row(harness.sessions, invited.invitation_id)
    assert response is not None and response.cursor == "comments"
    assert "1 character too long" in texts(chat.send("y" * 2001))[0]
    chat.send("  " + "z" * 2000 + "\n")  # exactly the limit, once trimmed
    assert stored_answers(harness.sessions, invited.invitation_id)["comments"] == "z" * 2000


def test_back_and_skip(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(108)
    chat.send(f"/start {invited.token}")

    calls = chat.send("/back")
    assert respondent.FIRST_QUESTION in texts(calls)[0]
    chat.press_label("Continue")
    calls = chat.send("/skip")
    assert respondent.CANNOT_SKIP in texts(calls)[0]
    chat.press_label("No")
    chat.send("3")
    calls = chat.send("/skip")  # share is optional
    assert "Anything else?" in texts(calls)[0]
    calls = chat.send("/back")
    assert "What share came through us?" in texts(calls)[0]
    chat.send("0.5")
    chat.send("/back")
    calls = chat.send("/back")
    back_at_volunteers = chat.last_message()
    assert "How many volunteers?" in back_at_volunteers.text
    assert "Your answer so far: 3" in back_at_volunteers.text
    chat.press_label("Keep my answer")
    chat.press_label("Skip")  # the button does what /skip does
    chat.press_label("« Back")
    assert "What share came through us?" in chat.last_message().text

    assert stored_answers(harness.sessions, invited.invitation_id) == {
        "used": "no",
        "volunteers": 3,
    }


def test_the_summary_changes_an_answer_and_comes_back(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(109)
    answer_all(chat, invited.token)

    chat.press_label("Change 1")  # "Did you use us?"
    assert "Did you use us?" in chat.last_message().text
    chat.press_label("✅ Yes")

    assert "Check your answers before sending them" in chat.last_message().text
    chat.press_label("Change 4")  # volunteers
    chat.send("40")
    chat.press_label("Send answers")
    assert stored_answers(harness.sessions, invited.invitation_id)["volunteers"] == 40


def test_language_switch_shows_the_survey_in_welsh(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(110)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")

    calls = chat.send("/language")
    assert [b["text"] for b in calls[0].flat_buttons] == ["✅ English", "Cymraeg"]
    calls = chat.press_label("Cymraeg")

    question = chat.last_message()
    assert "Wnaethoch chi ein defnyddio?" in question.text
    assert "Cwestiwn 1 o 6" in question.text
    assert [b["text"] for b in question.flat_buttons][:2] == ["Ie", "Na"]
    response = response_row(harness.sessions, invited.invitation_id)
    assert response is not None and response.language == "cy"


def test_the_built_in_survey_in_urdu(harness: BotHarness) -> None:
    from tests.factories import cvs_support

    invited = invite(harness.sessions, survey=cvs_support())
    chat = harness.chat(113)
    chat.send(f"/start {invited.token}")
    calls = chat.send("/language")
    assert [b["text"] for b in calls[0].flat_buttons] == ["✅ English", "Cymraeg", "اردو"]
    chat.press_label("اردو")
    chat.press_label("جاری رکھیں")  # the note: Continue, in Urdu from the catalog

    question = chat.last_message()
    assert "پچھلے 6 مہینوں میں، کیا آپ کے گروپ کو ہماری طرف سے کوئی مدد ملی ہے؟" in question.text
    assert "11 میں سے سوال 1" in question.text
    assert [b["text"] for b in question.flat_buttons][:2] == ["جی ہاں", "جی نہیں"]
    chat.press_label("جی ہاں")
    assert stored_answers(harness.sessions, invited.invitation_id) == {"used_support": "yes"}
    response = response_row(harness.sessions, invited.invitation_id)
    assert response is not None and response.language == "ur"


def test_a_survey_in_one_language_says_so(harness: BotHarness) -> None:
    from tests.factories import cvs_support, english_only

    invited = invite(harness.sessions, survey=english_only(cvs_support()))
    chat = harness.chat(111)
    chat.send(f"/start {invited.token}")

    calls = chat.send("/language")

    assert texts(calls) == ["This survey is only in English."]


def test_help_and_an_unknown_command(harness: BotHarness) -> None:
    chat = harness.chat(112)
    assert "/back" in texts(chat.send("/help"))[0]
    assert texts(chat.send("/frobnicate")) == [respondent.UNKNOWN_COMMAND]


def test_stop_opts_the_chat_out(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(113)
    chat.send(f"/start {invited.token}")

    calls = chat.send("/stop")

    assert "no more survey invitations" in texts(calls)[0]
    with transaction(harness.sessions) as session:
        stored = chats.chat_for(session, 113)
        assert stored is not None and stored.stopped_at is not None


def test_a_restart_mid_survey_loses_nothing(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(114)
    chat.send(f"/start {invited.token}")
    chat.press_label("Continue")
    chat.press_label("Yes")
    chat.press_label("Easy")
    chat.press_label("⬜ Training")
    kinds = chat.last_message()

    harness.restart()  # a new Application, as after the process was killed
    chat = harness.chat(114)

    # The ticks live in the message's buttons, so they survive too.
    chat.press_label("⬜ Funding", kinds)
    chat.press_label("Done")
    chat.send("12")
    chat.send("0.25")
    chat.send("Thank you & <goodbye>")
    chat.press_label("Send answers")
    assert stored_answers(harness.sessions, invited.invitation_id) == EXPECTED


def test_started_on_the_web_finished_in_telegram(harness: BotHarness) -> None:
    from collector import flow

    invited = invite(harness.sessions)
    with transaction(harness.sessions) as session:
        invitation = session.get(models.Invitation, invited.invitation_id)
        assert invitation is not None
        response = flow.start(session, invitation, channel="web")
        flow.answer(session, response, "intro", None)
        flow.answer(session, response, "used", ["yes"])
    chat = harness.chat(115)

    calls = chat.send(f"/start {invited.token}")

    assert "carry on where you left off" in texts(calls)[0]
    assert "How easy?" in texts(calls)[0]
    chat.press_label("Easy")
    chat.press_label("⬜ Funding")
    chat.press_label("⬜ Training")
    chat.press_label("Done")
    chat.send("12")
    chat.send("0.25")
    chat.send("Thank you & <goodbye>")
    chat.press_label("Send answers")
    assert stored_answers(harness.sessions, invited.invitation_id) == EXPECTED
    response_ = response_row(harness.sessions, invited.invitation_id)
    assert response_ is not None and response_.channel == "web"


def test_the_answers_stored_equal_the_web_form_s_for_the_same_input(harness: BotHarness) -> None:
    from forms import create_app, services
    from tests.factories import make_organisation, make_provider, make_round
    from tests.forms.conftest import Browser

    with transaction(harness.sessions) as session:
        provider = make_provider(session)
        first = make_organisation(session, provider)
        second = make_organisation(session, provider)
        round_ = make_round(session, provider, audience={})
        tokens = {i.organisation_id: i.token for i in round_.invitations}
        ids = {i.organisation_id: i.id for i in round_.invitations}
    web_token, bot_token = tokens[first.id], tokens[second.id]

    app = create_app(harness.settings)
    try:
        browser = Browser(app.test_client())
        browser.get(f"/r/{web_token}")
        browser.post(f"/r/{web_token}/start", {"language": "en"})
        for value in (None, "yes", "easy", ["funding", "training"], "12", "0.25"):
            browser.answer(value)
        browser.answer("Thank you & <goodbye>")
        browser.post(f"/r/{web_token}/check")
        assert "Your answers have been sent" in browser.text
    finally:
        services(app).engine.dispose()
    answer_all(harness.chat(116), bot_token)
    harness.chat(116).press_label("Send answers")

    web = stored_answers(harness.sessions, ids[first.id])
    assert web == stored_answers(harness.sessions, ids[second.id]) == EXPECTED
    with transaction(harness.sessions) as session:
        rows = session.execute(
            select(models.Response.invitation_id, models.Answer.question_id, models.Answer.value)
            .join(models.Response)
            .where(models.Response.invitation_id.in_(ids.values()))
        ).all()
    raw: dict[int, dict[str, str]] = {}
    for invitation_id, question_id, value in rows:
        raw.setdefault(invitation_id, {})[question_id] = value
    # The very same stored strings, not only equal once decoded.
    assert raw[ids[first.id]] == raw[ids[second.id]]


def test_callback_answers_are_given_for_every_press(harness: BotHarness) -> None:
    invited = invite(harness.sessions)
    chat = harness.chat(117)
    chat.send(f"/start {invited.token}")
    calls = chat.press_label("Continue")
    assert callback_answers(calls) == [""]


def test_a_volunteer_answers_and_links_the_chat_to_themself(harness: BotHarness) -> None:
    from collector import rounds
    from tests.factories import make_placement, make_provider, make_round

    with transaction(harness.sessions) as session:
        provider = make_provider(session)
        placement = make_placement(session, provider)
        placement.volunteer.district = "Epping Forest"
        round_ = make_round(session, provider, audience={"org_type": ["nobody"]})
        invitation = models.Invitation(
            round=round_,
            volunteer=placement.volunteer,
            placement=placement,
            token=rounds.new_token(),
        )
        session.add(invitation)
        session.flush()
        token, invitation_id, volunteer_id = invitation.token, invitation.id, placement.volunteer_id
    chat = harness.chat(118)

    welcome = texts(chat.send(f"/start {token}"))[0]
    assert "“Every type”." in welcome  # no group named: it is the volunteer's own survey
    chat.press_label("Continue")
    chat.press_label("No")
    chat.send("1")
    chat.send("/skip")
    chat.send("/skip")
    chat.press_label("Send answers")
    chat.press_label("Yes, send them here")

    response = response_row(harness.sessions, invitation_id)
    assert response is not None
    assert (response.status, response.district) == ("completed", "Epping Forest")
    with transaction(harness.sessions) as session:
        volunteer = session.get(models.Volunteer, volunteer_id)
        stored = chats.chat_for(session, 118)
        assert volunteer is not None and stored is not None
        assert volunteer.consent_telegram is True
        assert (stored.volunteer_id, stored.organisation_id) == (volunteer_id, None)


def test_a_failing_handler_apologises_without_logging_the_chat(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(session: object, chat_id: int) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(respondent, "_help", broken)
    chat = harness.chat(987654321)

    calls = chat.send("/help")

    assert texts(calls) == [
        "Sorry, something went wrong on our side. Please try again in a moment."
    ]
    assert "bot handler failed: RuntimeError" in caplog.text
    assert "987654321" not in caplog.text


def test_the_package_exports_build_application() -> None:
    import bot
    from bot.app import build_application

    assert bot.build_application is build_application
