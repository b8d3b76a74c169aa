"""Respondents answering a survey in Telegram, one question per message, through collector.flow."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the respondent's command, button and reply handlers."""


def register_fallbacks(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the catch-alls that answer anything no other handler took."""
    app.add_handler(MessageHandler(filters.ALL, _anything_else))


async def _anything_else(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            "To answer a survey, open the Telegram link in your invitation."
        )
