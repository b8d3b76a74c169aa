"""A local SMTP server that keeps every email it receives: for the demo and the tests.

Nothing it receives goes any further. `tempcheck mail-sink` saves each message as a `.eml`
file (open one in any mail program); the tests keep them in memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    """An aiosmtpd handler that accepts every message: saved to `folder`, kept in memory, or both.

    `on_message(number, message)` is called for each message as it arrives.
    """

    def __init__(
        self,
        folder: Path | None = None,
        *,
        keep: bool = True,
        on_message: Callable[[int, EmailMessage], None] | None = None,
    ) -> None:
        self.folder = folder
        self.keep = keep
        self.on_message = on_message
        self.messages: list[EmailMessage] = []
        self.count = 0
        self._lock = threading.Lock()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep one message (aiosmtpd calls this when a message's data has arrived)."""
        content: bytes = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.count += 1
            number = self.count
            if self.keep:
                self.messages.append(message)
        if self.folder is not None:
            name = f"{datetime.now():%Y%m%d-%H%M%S}-{number:05d}.eml"
            (self.folder / name).write_bytes(content)
        if self.on_message is not None:
            self.on_message(number, message)
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[EmailMessage]:
        """Give the messages kept so far."""
        with self._lock:
            return list(self.messages)


def serve(sink: Sink, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start an SMTP server for `sink` in a background thread; stop it with `.stop()`."""
    controller = Controller(sink, hostname=host, port=port)
    controller.start()
    return controller
