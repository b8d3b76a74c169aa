"""The user's side of a chat with the bot, through the emulator's client API.

A `TgUser` sends commands and texts, presses inline buttons on the bot's messages, and reads
what the bot sent (new messages; the whole history, where edits show). Waiting is polling the
emulator until the bot has answered (or a deadline passes): nothing sleeps to move time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
WAIT_SECONDS = 20.0


def wait_until(condition: Callable[[], T], what: str, seconds: float = WAIT_SECONDS) -> T:
    """Poll `condition` until it gives something true; fail saying `what` did not happen."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class BotMessage:
    """A message the bot sent to the chat, as the emulator stored it."""

    message_id: int
    text: str
    markup: dict[str, Any] | None

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> BotMessage:
        """Read the emulator's stored form."""
        message = stored["message"]
        markup = message.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        return cls(int(stored["messageId"]), str(message.get("text") or ""), markup or None)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Give the inline buttons, row after row."""
        if not self.markup:
            return []
        return [button for row in self.markup.get("inline_keyboard", []) for button in row]

    def button(self, label: str) -> dict[str, Any]:
        """Give the button whose text is `label` (or starts with it)."""
        for button in self.buttons:
            if button["text"] == label:
                return button
        for button in self.buttons:
            if str(button["text"]).startswith(label):
                return button
        labels = [b["text"] for b in self.buttons]
        raise AssertionError(f"no button {label!r} on {self.text!r}: {labels}")


class TgUser:
    """One Telegram user in a private chat with the bot (chat id = user id)."""

    def __init__(self, api: str, token: str, chat_id: int, first_name: str = "Tess") -> None:
        self.token, self.chat_id, self.first_name = token, chat_id, first_name
        self.http = httpx.Client(base_url=api, timeout=10)

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def _base(self) -> dict[str, Any]:
        user = {"id": self.chat_id, "is_bot": False, "first_name": self.first_name}
        return {
            "botToken": self.token,
            "date": int(time.time()),
            "from": user,
            "chat": {"id": self.chat_id, "type": "private", "first_name": self.first_name},
        }

    def text(self, text: str) -> None:
        """Type a message."""
        self.http.post("/sendMessage", json={**self._base(), "text": text}).raise_for_status()

    def command(self, text: str) -> None:
        """Send a command, e.g. '/start TOKEN'."""
        length = text.find(" ") if " " in text else len(text)
        entities = [{"offset": 0, "length": length, "type": "bot_command"}]
        self.http.post(
            "/sendCommand", json={**self._base(), "text": text, "entities": entities}
        ).raise_for_status()

    def sticker(self) -> None:
        """Send a sticker."""
        sticker = {
            "file_id": "sticker1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        self.http.post("/sendMessage", json={**self._base(), "sticker": sticker}).raise_for_status()

    def press(self, message: BotMessage, label: str) -> None:
        """Press the inline button `label` on one of the bot's messages."""
        data = message.button(label)["callback_data"]
        self.press_data(message, data)

    def press_data(self, message: BotMessage, data: str) -> None:
        """Send a callback query with `data` from the bot's message (an old button, say)."""
        base = self._base()
        shown = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": base["chat"],
            "text": message.text,
        }
        self.http.post(
            "/sendCallback",
            json={"botToken": self.token, "from": base["from"], "message": shown, "data": data},
        ).raise_for_status()

    def new_messages(self) -> list[BotMessage]:
        """Give the bot's messages to this chat not read yet (and mark them read)."""
        answer = self.http.post("/getUpdates", json={"token": self.token, "chatId": self.chat_id})
        answer.raise_for_status()
        return [BotMessage.from_stored(stored) for stored in answer.json()["result"]]

    def wait_messages(self, count: int = 1, seconds: float = WAIT_SECONDS) -> list[BotMessage]:
        """Wait for `count` new messages from the bot and give them (all that came)."""
        got: list[BotMessage] = []

        def enough() -> bool:
            got.extend(self.new_messages())
            return len(got) >= count

        wait_until(enough, f"{count} message(s) from the bot to chat {self.chat_id}", seconds)
        return got

    def history(self) -> list[BotMessage]:
        """Give every message the bot sent to this chat, as it is now (after edits)."""
        answer = self.http.post("/getUpdatesHistory", json={"token": self.token})
        answer.raise_for_status()
        return [
            BotMessage.from_stored(stored)
            for stored in answer.json()["result"]
            if "message" in stored
            and str(stored["message"].get("chat_id")) == str(self.chat_id)
            and "messageId" in stored
            and stored["message"].get("from") is None
        ]

    def message(self, message_id: int) -> BotMessage:
        """Give one of the bot's messages as it is now."""
        for message in self.history():
            if message.message_id == message_id:
                return message
        raise AssertionError(f"no bot message {message_id} in chat {self.chat_id}")


def wait_changed(user: TgUser, message: BotMessage) -> BotMessage:
    """Wait until the bot has edited one of its messages; give it as it is now."""

    def edited() -> BotMessage | None:
        now = user.message(message.message_id)
        return now if now != message else None

    now = wait_until(edited, f"the bot to edit message {message.message_id}")
    assert now is not None
    return now


def one(user: TgUser) -> BotMessage:
    """Wait for the bot's next message and give it (there must be exactly one)."""
    messages = user.wait_messages(1)
    assert len(messages) == 1, [m.text for m in messages]
    return messages[0]
