"""Build the Telegram bot: one python-telegram-bot Application over tempcheck's database.

The application holds no conversation state: handlers reload everything from SQL through
`bot.storage.db`, so a restart in the middle of a survey loses nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest

from bot import respondent, staff
from collector.config import Settings, SettingsError
from collector.db import make_engine, make_sessionmaker
from collector.errors import ControlCharacters

log = logging.getLogger(__name__)

BotApplication = Application[Any, Any, Any, Any, Any, Any]


def build_application(
    settings: Settings,
    sessions: sessionmaker[Session] | None = None,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> BotApplication:
    """Build the bot's Application (not started): staff commands, respondents, fallbacks."""
    if not settings.telegram_bot_token:
        raise SettingsError("TELEGRAM_BOT_TOKEN is not set: the bot needs a token from BotFather")
    base_url = settings.telegram_api_url
    base_file_url = base_url.replace("/bot", "/file/bot") if base_url.endswith("/bot") else base_url
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .post_init(_post_init)
    )
    if request is not None:
        builder = builder.request(request)
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    app: BotApplication = builder.build()
    app.bot_data["settings"] = settings
    app.bot_data["sessions"] = (
        sessions if sessions is not None else make_sessionmaker(make_engine(settings))
    )
    # Order matters: in one handler group the first matching handler wins, so text no one may
    # send comes first, then staff commands, then the respondent's, then the catch-alls that
    # answer anything else.
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE
            & filters.UpdateType.MESSAGE
            & filters.Regex(ControlCharacters.PATTERN),
            _refuse_control_characters,
        )
    )
    staff.register(app)
    respondent.register(app)
    respondent.register_fallbacks(app)
    app.add_error_handler(_on_error)
    return app


CONTROL_CHARACTERS = (
    ControlCharacters().message
    + " Nothing was saved: type it again (or paste it as plain text) and send it."
)


async def _refuse_control_characters(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a message or command holding a control character: refuse it, as the web does.

    No other handler sees it, so no answer, code or round number with one is read or saved.
    """
    assert update.effective_message is not None
    await update.effective_message.reply_text(CONTROL_CHARACTERS)


async def _post_init(app: BotApplication) -> None:
    """Tell Telegram the command lists once the application is initialised."""
    await staff.publish_commands(app)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a handler's failure with its traceback, and tell the chat it went wrong."""
    # No update contents in the log: they hold names and chat ids.
    log.error("bot handler failed: %s", type(context.error).__name__, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(
                update.effective_chat.id,
                "Sorry, something went wrong on our side. Please try again in a moment.",
            )
        except Exception:  # noqa: BLE001 - the error is already logged; nothing more to do
            log.warning("could not tell the chat about the failure")
