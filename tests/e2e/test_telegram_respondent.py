"""Issue 5's "Done when": a demo invitation answered in Telegram, end to end.

`tempcheck bot` (polling) runs as a real process against the Bot API emulator on a copy of
the demo database. A group opens its deep link (`/start <token>`) and answers the survey with
every question type: a note, single choice and a scale by buttons, multiple choice by ticking
and Done, a whole number, a decimal and a text typed. One typed reply is refused and
corrected, `/back` goes back a question, and the bot process is killed (SIGKILL) in the
middle of the survey, with a reply sent while it was down, then started again. The survey is
finished and sent. Another group of the same round gives the same answers through the web
form in Chromium; the stored answers of both are equal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from collector import models, rounds
from tests.e2e.conftest import ALSO_ON_POSTGRESQL, PHONE, Demo, LiveServer
from tests.e2e.telegram.client import one, wait_changed
from tests.e2e.telegram.harness import (
    USERNAME,
    Emulator,
    bot_running,
    environment,
)
from tests.factories import make_organisation

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHAT = 424_242
COMMENT = "Friendly & quick <to reply>, thanks!"


def second_invitation(server: LiveServer, token: str) -> str:
    """Invite another demo group to the same round as `token`; give the new token."""
    with server.sessions() as session, session.begin():
        invitation = session.scalars(
            select(models.Invitation).where(models.Invitation.token == token)
        ).one()
        # The demo's every-type round has one group: add a twin in the same provider.
        group = make_organisation(session, invitation.round.provider, name="Web twin group")
        other = models.Invitation(
            round=invitation.round, organisation=group, token=rounds.new_token()
        )
        session.add(other)
        session.flush()
        return other.token


def stored(server: LiveServer, token: str) -> tuple[models.Response, dict[str, str]]:
    """Give an invitation's response and its answers as stored."""
    with server.sessions() as session:
        response = session.scalars(
            select(models.Response).join(models.Invitation).where(models.Invitation.token == token)
        ).one()
        answers = {answer.question_id: answer.value for answer in response.answers}
        session.expunge(response)
        return response, answers


@ALSO_ON_POSTGRESQL
def test_a_demo_invitation_answered_in_telegram_equals_the_web(
    emulator: Emulator,
    live_server: LiveServer,
    demo_template: Demo,
    chromium: Browser,
    tmp_path: Path,
) -> None:
    token = demo_template.every_type
    web_token = second_invitation(live_server, token)
    env = environment(live_server.database_url, emulator, tmp_path, TELEGRAM_BOT_USERNAME=USERNAME)
    user = emulator.user(CHAT)

    with bot_running(env, tmp_path / "bot", "bot-1") as bot:
        # The deep link: welcome, and the first step (a note) with its Continue button.
        user.command(f"/start {token}")
        welcome = one(user)
        assert "is asking for your answers to “Every type”" in welcome.text
        assert "<b>Welcome</b>" in welcome.text
        user.press(welcome, "Continue")

        used = one(user)
        assert "Question 1 of " in used.text and "Did you use us?" in used.text
        # Typing where a button is expected changes nothing.
        user.text("yes please")
        assert "with the buttons" in one(user).text
        user.press(used, "Yes")
        assert "✔️ Yes" in wait_changed(user, used).text

        ease = one(user)
        assert "How easy?" in ease.text
        user.press(ease, "Easy")

        kinds = one(user)
        assert "Which kinds?" in kinds.text
        user.press(kinds, "⬜ Funding")
        kinds = wait_changed(user, kinds)
        assert [b["text"] for b in kinds.buttons][:3] == [
            "☑️ Funding",
            "⬜ Training",
            "⬜ None of these",
        ]
        user.press(kinds, "⬜ Training")
        kinds = wait_changed(user, kinds)
        user.press(kinds, "Done")

        volunteers = one(user)
        assert "How many volunteers?" in volunteers.text
        assert "Reply with a whole number." in volunteers.text

        # The bot dies mid-survey; a reply sent meanwhile waits in Telegram.
        bot.kill()
    user.text("lots")

    with bot_running(env, tmp_path / "bot", "bot-2") as bot:
        refused = one(user)
        assert "How many volunteers?" in refused.text and "⚠️" in refused.text
        user.text("12")  # corrected
        share = one(user)
        assert "What share came through us?" in share.text and "(optional)" in share.text

        user.command("/back")
        again = one(user)
        assert "How many volunteers?" in again.text
        assert "Your answer so far: 12" in again.text
        user.press(again, "Keep my answer")

        share = one(user)
        assert "What share came through us?" in share.text
        # An old button (the first volunteers message's does not exist; the scale's does).
        user.press_data(ease, ease.button("Hard")["callback_data"])
        moved = one(user)
        assert "What share came through us?" in moved.text  # shown where things are
        user.text("0.25")

        comments = one(user)
        assert "Anything else?" in comments.text
        user.text(COMMENT)

        review = one(user)
        assert "Check your answers before sending them" in review.text
        assert "Friendly &amp; quick &lt;to reply&gt;, thanks!" in review.text
        user.press(review, "Send answers")
        messages = user.wait_messages(2)
        assert "Thank you. Your answers have been sent." in messages[0].text
        assert "future surveys here" in messages[1].text
        user.press(messages[1], "No, thanks")
        wait_changed(user, messages[1])
        assert bot.terminate() == 0
    for log in ("bot-1", "bot-2"):
        text = (tmp_path / "bot" / f"{log}.log").read_text()
        assert token not in text and "TEST-TOKEN" not in text and "Traceback" not in text

    telegram_response, telegram_answers = stored(live_server, token)
    assert telegram_response.status == "completed"
    assert telegram_response.channel == "telegram"

    # The same answers through the web form, for the other group.
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{live_server.url}/r/{web_token}")
    page.get_by_role("button", name="Start now").click()
    page.get_by_role("button", name="Continue").click()  # the note
    page.get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Easy", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Funding", exact=True).check()
    page.get_by_label("Training", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("How many volunteers?").fill("12")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("What share came through us?").fill("0.25")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Anything else?").fill(COMMENT)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Send answers").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    context.close()

    web_response, web_answers = stored(live_server, web_token)
    assert web_response.status == "completed"
    assert web_response.channel == "web"
    assert telegram_answers == web_answers
    assert telegram_answers["volunteers"] == "12" and telegram_answers["comments"] == COMMENT
    assert set(telegram_answers) >= {"used", "ease", "kinds", "volunteers", "share", "comments"}
