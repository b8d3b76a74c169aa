"""The application as built: every callback it registers says, in a docstring, what it answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import sessionmaker

from bot.app import build_application
from collector.config import Settings
from tests.bot.conftest import BOT_USER, TOKEN, FakeRequest


def _callbacks() -> dict[str, Callable[..., Any]]:
    # Built, never started: nothing reaches Telegram or the database.
    settings = Settings(telegram_bot_token=TOKEN, telegram_bot_username=BOT_USER["username"])
    app = build_application(
        settings, sessionmaker(), request=FakeRequest(), updates_request=FakeRequest()
    )
    found: dict[str, Callable[..., Any]] = {}
    for handlers in app.handlers.values():
        for handler in handlers:
            found[handler.callback.__qualname__] = handler.callback
    for callback in app.error_handlers:
        found[callback.__qualname__] = callback
    if app.post_init is not None:
        found[app.post_init.__qualname__] = app.post_init
    return found


def _has_summary_line(callback: Callable[..., Any]) -> bool:
    lines = (callback.__doc__ or "").strip().splitlines()
    return bool(lines) and (len(lines) == 1 or not lines[1].strip())


def test_every_callback_says_in_one_line_what_it_answers() -> None:
    callbacks = _callbacks()
    assert len(callbacks) > 15, "the handlers were not found"
    missing = sorted(
        f"{callback.__module__}.{name}"
        for name, callback in callbacks.items()
        if not _has_summary_line(callback)
    )
    assert not missing, f"callbacks without a one-line docstring: {missing}"
