"""Offline harness for the bot: a fake Bot API request object and update builders.

No sockets: updates go straight into `Application.process_update`, and every Bot API call the
bot makes is recorded by `FakeRequest` (with a made-up but well-formed answer). Tests are plain
synchronous functions; `BotHarness` runs the application on its own event loop. Built over the
`settings`/`session_factory` fixtures, so every bot test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.app import BotApplication, build_application
from collector.config import Settings

BOT_USER = {"id": 666, "is_bot": True, "first_name": "Tempcheck", "username": "tempcheck_test_bot"}
TOKEN = "123456:TEST-TOKEN"


@dataclass
class Call:
    """One Bot API call the bot made: its method (endpoint) and parameters."""

    method: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> int | None:
        """Give the chat the call was for, if it names one."""
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        """Give the text sent or edited in (empty when none)."""
        return str(self.params.get("text") or "")

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """Give the inline keyboard's rows of buttons (empty when none)."""
        markup = self.params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if not markup:
            return []
        rows: list[list[dict[str, Any]]] = markup.get("inline_keyboard", [])
        return rows

    @property
    def flat_buttons(self) -> list[dict[str, Any]]:
        """Give every inline button, row after row."""
        return [button for row in self.buttons for button in row]


class FakeRequest(BaseRequest):
    """A BaseRequest that records calls and answers them like the Bot API would."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.fail_next: dict[str, dict[str, Any]] = {}
        self._message_ids = itertools.count(1000)

    @property
    def read_timeout(self) -> float | None:
        """No timeouts offline."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Record the call and give a well-formed answer (or the error queued for it)."""
        endpoint = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        self.calls.append(Call(endpoint, params))
        if endpoint in self.fail_next:
            error = self.fail_next.pop(endpoint)
            return int(error["error_code"]), json.dumps(error).encode()
        result: Any = True
        if endpoint == "getMe":
            result = BOT_USER
        elif endpoint in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            message_id = params.get("message_id") or next(self._message_ids)
            params["message_id"] = message_id
            self.calls[-1] = Call(endpoint, params)
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": params["chat_id"], "type": "private"},
                "from": BOT_USER,
                "text": params.get("text") or "",
            }
        elif endpoint == "getUpdates":
            result = []
        return 200, json.dumps({"ok": True, "result": result}).encode()


_ids = itertools.count(1)


def _message(chat_id: int, chat_type: str = "private", **fields: Any) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = "Tess"
    else:
        chat["title"] = "A group"
    return {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": chat,
        "from": {"id": chat_id, "is_bot": False, "first_name": "Tess"},
        **fields,
    }


def text_update(chat_id: int, text: str, chat_type: str = "private") -> dict[str, Any]:
    """Build an update for a typed message (a command when it starts with '/')."""
    fields: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": next(_ids), "message": _message(chat_id, chat_type, **fields)}


def edited_update(chat_id: int, text: str) -> dict[str, Any]:
    """Build an update for an earlier message edited to say `text`."""
    message = _message(chat_id, text=text, edit_date=int(time.time()))
    return {"update_id": next(_ids), "edited_message": message}


def callback_update(
    chat_id: int, data: str, message_id: int, message_text: str = "q"
) -> dict[str, Any]:
    """Build an update for pressing an inline button on the bot's message `message_id`."""
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": f"cb{next(_ids)}",
            "chat_instance": "ci",
            "from": {"id": chat_id, "is_bot": False, "first_name": "Tess"},
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": message_text,
            },
        },
    }


def sticker_update(chat_id: int) -> dict[str, Any]:
    """Build an update for a sticker."""
    sticker = {
        "file_id": "STICKER",
        "file_unique_id": "S1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    return {"update_id": next(_ids), "message": _message(chat_id, sticker=sticker)}


def photo_update(chat_id: int) -> dict[str, Any]:
    """Build an update for a photo."""
    photo = [{"file_id": "PHOTO", "file_unique_id": "P1", "width": 90, "height": 90}]
    return {"update_id": next(_ids), "message": _message(chat_id, photo=photo)}


@dataclass
class BotHarness:
    """The bot's Application on its own event loop, fed updates, recording what it sends."""

    settings: Settings
    sessions: sessionmaker[Session]
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    request: FakeRequest = field(default_factory=FakeRequest)
    app: BotApplication | None = None

    def start(self) -> BotHarness:
        """Build and initialise a new Application (as a fresh bot process would).

        The FakeRequest stays: it stands for Telegram, whose chats outlive the bot process.
        """
        self.app = build_application(
            self.settings, self.sessions, request=self.request, updates_request=FakeRequest()
        )
        self._run(self.app.initialize())
        if self.app.post_init is not None:
            self._run(self.app.post_init(self.app))
        return self

    def stop(self) -> None:
        """Shut the Application down (the database stays)."""
        if self.app is not None:
            self._run(self.app.shutdown())
            self.app = None

    def restart(self) -> None:
        """Stop this Application and start a new one on the same database."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and close the event loop."""
        self.stop()
        self._run(self.loop.shutdown_default_executor())
        self.loop.close()

    def _run(self, work: Any) -> Any:
        """Run a coroutine on the harness's loop, until it is done.

        In a thread where another loop is running (Playwright's sync API, left running by a
        browser test in the same worker), asyncio refuses to run a second: then on a thread
        of its own.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self.loop.run_until_complete(work)
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(self.loop.run_until_complete, work).result()

    def feed(self, update: dict[str, Any]) -> list[Call]:
        """Process one update; give the Bot API calls it caused."""
        assert self.app is not None, "start() the harness first"
        before = len(self.request.calls)
        self._run(self.app.process_update(Update.de_json(update, self.app.bot)))
        return self.request.calls[before:]

    def chat(self, chat_id: int) -> FakeChat:
        """Give a private chat with this bot."""
        return FakeChat(self, chat_id)


@dataclass
class FakeChat:
    """One person's private chat with the bot."""

    harness: BotHarness
    chat_id: int

    def send(self, text: str) -> list[Call]:
        """Type a message (or a command); give the calls it caused."""
        return self.harness.feed(text_update(self.chat_id, text))

    def press(self, data: str, message_id: int = 1) -> list[Call]:
        """Press an inline button with this callback data on message `message_id`.

        The update carries the message's text as it reads now, as Telegram's does.
        """
        known = any(int(c.params.get("message_id", 0)) == message_id for c in self.messages())
        text = self.message(message_id).text if known else "q"
        return self.harness.feed(callback_update(self.chat_id, data, message_id, text))

    def press_label(self, label: str, call: Call | None = None) -> list[Call]:
        """Press the button labelled `label` on `call`'s message (default: the last sent)."""
        call = call or self.last_message()
        for button in call.flat_buttons:
            if button["text"] == label:
                return self.press(button["callback_data"], int(call.params["message_id"]))
        labels = [button["text"] for button in call.flat_buttons]
        raise AssertionError(f"no button {label!r} on the message; buttons: {labels}")

    def edit(self, text: str) -> list[Call]:
        """Edit an earlier message of the person's to say `text`."""
        return self.harness.feed(edited_update(self.chat_id, text))

    def sticker(self) -> list[Call]:
        """Send a sticker."""
        return self.harness.feed(sticker_update(self.chat_id))

    def photo(self) -> list[Call]:
        """Send a photo."""
        return self.harness.feed(photo_update(self.chat_id))

    def messages(self) -> list[Call]:
        """Give every message sent to or edited in this chat, oldest first."""
        return [
            call
            for call in self.harness.request.calls
            if call.chat_id == self.chat_id
            and call.method in ("sendMessage", "editMessageText", "editMessageReplyMarkup")
        ]

    def last_message(self) -> Call:
        """Give the last message sent (not edited) to this chat, as it reads after any edits."""
        sent = [call for call in self.messages() if call.method == "sendMessage"]
        assert sent, "the bot has sent nothing to this chat"
        return self.message(int(sent[-1].params["message_id"]))

    def message(self, message_id: int) -> Call:
        """Give message `message_id` of this chat as it reads after every edit of it."""
        params: dict[str, Any] | None = None
        for call in self.messages():
            if int(call.params["message_id"]) != message_id:
                continue
            if call.method == "sendMessage":
                params = dict(call.params)
            elif params is not None:
                if call.method == "editMessageText":
                    params["text"] = call.params.get("text")
                params["reply_markup"] = call.params.get("reply_markup")
        assert params is not None, f"no message {message_id} in this chat"
        return Call("sendMessage", params)


def texts(calls: list[Call]) -> list[str]:
    """Give the texts of the messages sent or edited among `calls`."""
    return [call.text for call in calls if call.method in ("sendMessage", "editMessageText")]


def callback_answers(calls: list[Call]) -> list[str]:
    """Give the texts of the answerCallbackQuery calls among `calls` (empty string: none)."""
    return [
        str(call.params.get("text") or "") for call in calls if call.method == "answerCallbackQuery"
    ]


@pytest.fixture
def bot_settings(settings: Settings) -> Settings:
    """Give the test settings with a bot token and username."""
    return dataclasses.replace(
        settings, telegram_bot_token=TOKEN, telegram_bot_username=BOT_USER["username"]
    )


@pytest.fixture
def harness(bot_settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[BotHarness]:
    """Give a started bot on the test's database (SQLite, then PostgreSQL)."""
    harness = BotHarness(bot_settings, session_factory).start()
    try:
        yield harness
    finally:
        harness.close()
