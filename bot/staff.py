"""Staff and funder commands in Telegram (stub: filled in by the staff part of the bot)."""

from __future__ import annotations

from telegram.ext import Application


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add the staff and funder handlers to the application (before the respondent's)."""


async def publish_commands(app: Application) -> None:  # type: ignore[type-arg]
    """Tell Telegram which commands to list, per role."""
