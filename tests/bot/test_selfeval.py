"""A sector representative answers a reviewed self-evaluation in Telegram, seeing the local
authority's ratings beside each question (issue 16)."""

from __future__ import annotations

from datetime import timedelta

from collector import rounds, selfeval
from collector.db import transaction
from collector.models import utcnow
from tests.bot.conftest import BotHarness, texts
from tests.bot.respondent_helpers import response_row, stored_answers
from tests.factories import answer_self_evaluation, make_contact, make_provider


def test_a_representative_reviews_the_authoritys_ratings_and_answers_in_telegram(
    harness: BotHarness,
) -> None:
    with transaction(harness.sessions) as session:
        provider = make_provider(session, name="Voluntary Action LeicesterShire")
        make_contact(session, provider, audience="commissioner")
        make_contact(session, provider, audience="representative", organisation="Health Board")
        round_ = selfeval.create(
            session,
            provider=provider,
            period_label="2026/27",
            opens_at=utcnow() - timedelta(days=2),
            closes_at=utcnow() + timedelta(days=20),
            mode="reviewed",
            first_side="la",
        )
        rounds.open_round(session, round_, now=utcnow() - timedelta(days=2))
        [first] = round_.invitations
        answer_self_evaluation(session, first, {"gov_board": "good"})
        selfeval.hand_over(session, round_)
        reviewer = next(i for i in round_.invitations if i.contact.audience == "representative")
        token, invitation_id = reviewer.token, reviewer.id
    chat = harness.chat(5501)
    assert "Working together" in " ".join(texts(chat.send(f"/start {token}")))
    chat.press_label("Continue")  # the heading's note
    shown = chat.last_message().text
    assert "1. The voluntary and community sector has a recognised place" in shown
    assert "Local authority's ratings: 1 good to best practice." in shown
    chat.press_label("Needs significant improvement")
    chat.send("Our network's survey: 8 of 10 groups never hear from the board")
    chat.press_label("Skip")  # the comment
    chat.press_label("Yes")  # prioritise
    # The rest: "don't know", which skips the evidence, then no comment and no priority.
    for _ in range(16):
        if "Continue" in [button["text"] for button in chat.last_message().flat_buttons]:
            chat.press_label("Continue")  # a heading's note
        chat.press_label("Don't know")
        chat.press_label("Skip")
        chat.press_label("No")
    chat.press_label("Skip")  # anything else
    chat.press_label("Send answers")
    answers = stored_answers(harness.sessions, invitation_id)
    assert answers["gov_board"] == "improve"
    assert answers["gov_board_evidence"].startswith("Our network's survey")
    assert answers["gov_board_priority"] == "yes"
    assert answers["out_learning"] == "dont_know" and "out_learning_evidence" not in answers
    response = response_row(harness.sessions, invitation_id)
    assert response is not None and response.status == "completed"
    assert (response.channel, selfeval.side_of(response.audience)) == ("telegram", "vcs")
