"""The offline harness itself: the application starts, and unknown input gets an answer."""

from __future__ import annotations

from tests.bot.conftest import BotHarness, texts


def test_application_starts_and_answers_a_stranger(harness: BotHarness) -> None:
    assert harness.request.calls[0].method == "getMe"
    calls = harness.chat(42).send("hello")
    assert texts(calls), "the bot answered nothing"
    assert all(call.chat_id == 42 for call in calls if call.method == "sendMessage")
