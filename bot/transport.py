"""Telegram as an outbox channel: invitations, reminders and report notices sent by the bot.

The dispatcher is synchronous, so `TelegramTransport` keeps its own asyncio event loop and a
python-telegram-bot `Bot` on it, and runs each Bot API call to completion. Overall pacing
(about 30 messages a second for a bot) is the dispatcher's `Pacer` at TELEGRAM_PER_SECOND;
the transport adds the limit PTB's rate limiter does not do: at most one message a second to
the same chat. A 429 (`RetryAfter`) of up to LONGEST_RETRY_WAIT is waited out and tried once
more (a longer one goes back to the outbox); a chat that blocked the bot or no longer exists
is a permanent, unreachable failure, so the dispatcher marks the chat and stops trying it.

Messages are plain text (no parse mode: names need no escaping) with an inline button that
opens the survey in the bot (`https://t.me/<bot>?start=<token>`, which sends `/start <token>`);
the web link is in the text, since Telegram refuses buttons to local addresses.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

# PTB 22 warns that RetryAfter.retry_after becomes a timedelta; opt in now (it is read when an
# error is built, so the warning would otherwise come from inside PTB on every 429).
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import (  # noqa: E402
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
)
from telegram.constants import MessageLimit  # noqa: E402
from telegram.error import (  # noqa: E402
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import BaseRequest  # noqa: E402

from bot import render as chat_render  # noqa: E402
from collector import reports  # noqa: E402
from collector.config import Settings  # noqa: E402
from collector.delivery.chats import FINISHED_ELSEWHERE, deep_link  # noqa: E402
from collector.delivery.outbox import DeliveryError, Outgoing  # noqa: E402
from collector.localtime import long_date  # noqa: E402

log = logging.getLogger(__name__)

T = TypeVar("T")

TEMPLATES = ("invite", "reminder", reports.TEMPLATE, FINISHED_ELSEWHERE)
# Telegram allows about one message a second to one chat.
PER_CHAT_SECONDS = 1.0
# A longer flood wait than this is not waited out in the dispatcher: the message goes back to
# the outbox, which tries it again after its back-off.
LONGEST_RETRY_WAIT = 30.0


@dataclass(frozen=True)
class TelegramMessage:
    """What goes to the chat: the text and the inline buttons (label, URL), one per row."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()

    def markup(self) -> InlineKeyboardMarkup | None:
        """Give the inline keyboard, or None when there are no buttons."""
        if not self.buttons:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, url=url)] for label, url in self.buttons]
        )


def _closes(value: Any) -> str:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return long_date(when)


def _opening(template: str, provider: str, whom: str, data: Mapping[str, Any]) -> str:
    """Say who asks about what: the support a group had, or a volunteer placement."""
    still = "still " if template == "reminder" else ""
    if data.get("contact"):
        return (
            f"{provider} would {still}like to hear your views on how the voluntary and community "
            "sector works with public bodies and is represented in local partnerships."
        )
    placement = data.get("placement")
    if isinstance(placement, Mapping):
        role = str(placement.get("role") or "volunteer")
        host = str(placement.get("host") or "")
        if placement.get("recipient") == "volunteer":
            where = f" with {host}" if host else ""
            about = f"how your volunteering as {role}{where} is going"
            return f"{provider} would {still}like to hear {about}."
        return (
            f"{provider} would {still}like to hear from {whom} about the volunteer placed "
            f"with you as {role}."
        )
    return f"{provider} would {still}like to hear from {whom} about the support it has given you."


def invitation_text(settings: Settings, template: str, data: Mapping[str, Any]) -> str:
    """Write an invitation's or reminder's text (the survey is opened by the button)."""
    token = str(data["token"])
    organisation = str(data.get("organisation") or "")
    provider = str(data["provider"])
    opening = _opening(template, provider, organisation or "your group", data)
    if template == "reminder":
        opening = f"A reminder: {opening} If you have started, your answers so far are saved."
    web = f"{settings.base_url.rstrip('/')}/r/{token}"
    return (
        f"Hello {organisation or 'there'},\n\n"
        f"{opening}\n\n"
        f'The survey "{data["survey"]}" ({data["period"]}) takes a few minutes. '
        f"It closes on {_closes(data['closes_at'])}.\n\n"
        'Press "Answer here" to answer in this chat, or answer on the web (you can switch '
        f"between them and carry on where you stopped):\n{web}\n\n"
        f"Staff at {provider} read the answers; its funders only see totals, never your own "
        "answers. Send /stop to get no more surveys in this chat."
    )


def report_text(settings: Settings, data: Mapping[str, Any]) -> str:
    """Write a funder's notice of a published report, with the link to read it."""
    link = f"{settings.base_url.rstrip('/')}{data['path']}"
    message = str(data.get("message") or "").replace(reports.LINK_SLOT, link).strip()
    framework = data.get("framework_title") or data.get("framework") or ""
    what = "a corrected KPI report" if data.get("replaces") else "its KPI report"
    text = f"{data['provider']} has published {what} for {data['period']}: {framework}."
    if message:
        text += f"\n\n{message}"
    if link not in text:
        text += f"\n\nSign in with your funder account to read it: {link}"
    return text


def _shorten(text: str) -> str:
    limit = int(MessageLimit.MAX_TEXT_LENGTH)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramTransport:
    """Send outbox messages to Telegram chats through the bot (for the dispatcher)."""

    channel = "telegram"

    def __init__(
        self,
        settings: Settings,
        *,
        request: BaseRequest | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.telegram_bot_token:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.token = settings.telegram_bot_token
        self.request = request
        self.sleep = sleep
        self.clock = clock
        self.username = (settings.telegram_bot_username or "").lstrip("@") or None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bot: Bot | None = None
        self._last_sent: dict[int, float] = {}  # chat id -> clock() when last sent to

    def describe(self) -> str:
        """Say where messages go (the Bot API's host, never the token)."""
        host = urlsplit(self.settings.telegram_api_url).netloc or self.settings.telegram_api_url
        name = f"@{self.username}" if self.username else "the bot"
        return f"Telegram as {name} through {host}"

    # The event loop and the Bot ------------------------------------------------------------

    def _run(self, make: Callable[[Bot], Coroutine[Any, Any, T]]) -> T:
        """Run one Bot API call on the transport's loop, starting the Bot when needed."""
        bot = self._started()
        assert self._loop is not None
        return self._loop.run_until_complete(make(bot))

    def _started(self) -> Bot:
        """Give the Bot, initialised (which asks Telegram for the bot's own name) on the loop."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        if self._bot is None:
            base_url = self.settings.telegram_api_url
            bot = Bot(
                self.token,
                base_url=base_url,
                base_file_url=(
                    base_url[: -len("/bot")] + "/file/bot"
                    if base_url.endswith("/bot")
                    else base_url
                ),
                request=self.request,
            )
            self._loop.run_until_complete(bot.initialize())
            self._bot = bot
            if self.username is None and bot.username:
                self.username = bot.username
        return self._bot

    def close(self) -> None:
        """Close the connection to the Bot API and the event loop (both reopen when needed)."""
        if self._loop is None:
            return
        try:
            if self._bot is not None:
                self._loop.run_until_complete(self._bot.shutdown())
        except TelegramError:
            log.warning("closing the Telegram connection failed", exc_info=True)
        finally:
            self._bot = None
            self._loop.close()
            self._loop = None

    # Rendering and sending -----------------------------------------------------------------

    def render(self, message: Outgoing) -> TelegramMessage:
        """Build the chat message for an invitation, a reminder or a report notice.

        Raise a permanent DeliveryError for an unknown template or missing data; a temporary
        one when the bot's username (for the deep link) cannot be had from Telegram yet.
        """
        if message.template not in TEMPLATES:
            raise DeliveryError(f"No Telegram message for {message.template!r}", permanent=True)
        data = message.data
        try:
            if message.template == reports.TEMPLATE:
                return TelegramMessage(_shorten(report_text(self.settings, data)))
            if message.template == FINISHED_ELSEWHERE:
                return TelegramMessage(
                    chat_render.finished_elsewhere(
                        str(data.get("language") or "en"), str(data["finished_channel"])
                    )
                )
            text = _shorten(invitation_text(self.settings, message.template, data))
            token = str(data["token"])
        except (KeyError, ValueError, TypeError) as error:
            raise DeliveryError(
                f"Could not write the {message.template} message: {type(error).__name__} {error}",
                permanent=True,
            ) from error
        username = self._username()
        return TelegramMessage(text, (("Answer here", deep_link(username, token)),))

    def _username(self) -> str:
        if self.username is None:
            try:
                self._started()
            except TelegramError as error:
                raise self._error(error) from error
        if not self.username:
            raise DeliveryError("Telegram did not give the bot's username", permanent=False)
        return self.username

    def send(self, message: Outgoing, rendered: TelegramMessage) -> None:
        """Send one message, at most one a second to the same chat; raise DeliveryError."""
        try:
            chat_id = int(message.recipient)
        except ValueError as error:
            raise DeliveryError("The address is not a Telegram chat", permanent=True) from error
        last = self._last_sent.get(chat_id)
        if last is not None:
            gap = PER_CHAT_SECONDS - (self.clock() - last)
            if gap > 0:
                self.sleep(gap)
        try:
            self._send(chat_id, rendered)
        except RetryAfter as error:
            wait = _seconds(error.retry_after)
            if wait > LONGEST_RETRY_WAIT:
                raise DeliveryError(
                    f"Telegram asked to wait {wait:.0f} s before sending more", permanent=False
                ) from error
            log.info("Telegram asked to wait %.1f s (flood control): waiting", wait)
            self.sleep(wait)
            try:
                self._send(chat_id, rendered)
            except RetryAfter as again:
                raise DeliveryError(
                    "Telegram asked to wait again (flood control): trying later", permanent=False
                ) from again
            except TelegramError as again:
                raise self._error(again) from again
        except TelegramError as error:
            raise self._error(error) from error
        finally:
            self._last_sent[chat_id] = self.clock()

    def _send(self, chat_id: int, rendered: TelegramMessage) -> None:
        self._run(
            lambda bot: bot.send_message(
                chat_id,
                rendered.text,
                reply_markup=rendered.markup(),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )

    @staticmethod
    def _error(error: TelegramError) -> DeliveryError:
        """Say what a Bot API error means for the message (Telegram's texts hold no chat id)."""
        text = f"Telegram: {error.message}"
        if isinstance(error, Forbidden):
            # The user blocked the bot, or deleted their account.
            return DeliveryError(text, permanent=True, unreachable=True)
        if isinstance(error, ChatMigrated):
            return DeliveryError(text, permanent=True, unreachable=True)
        if isinstance(error, BadRequest):
            lowered = error.message.lower()
            if "chat not found" in lowered or "user not found" in lowered:
                return DeliveryError(text, permanent=True, unreachable=True)
            # Anything else the Bot API refuses (a bad button, a malformed message) would be
            # refused again.
            return DeliveryError(text, permanent=True)
        if isinstance(error, InvalidToken):
            # Every message would fail the same way until the token is fixed: keep them.
            return DeliveryError("Telegram refused the bot token", permanent=False)
        if isinstance(error, NetworkError):
            return DeliveryError(f"Telegram could not be reached: {error.message}", permanent=False)
        return DeliveryError(text, permanent=False)
