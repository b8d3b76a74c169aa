"""Real processes for the Telegram end-to-end tests: the emulator (node) and `tempcheck bot` /
`tempcheck dispatch` against it, each in its own folder (no .env of the checkout is read).

The emulator is the npm package telegram-test-api, installed from the repository's
package.json by `make install` (npm ci), started through `server.js` here with the patches
python-telegram-bot 22 needs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _free_port
from tests.e2e.telegram.client import TgUser, wait_until

ROOT = Path(__file__).parents[3]
SERVER = Path(__file__).with_name("server.js")
TOKEN = "123456:TEST-TOKEN"
USERNAME = "tempcheck_test_bot"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Emulator:
    """A running emulator: its address and the user-side helpers."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path
    users: list[TgUser] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Give the base address."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """Give TELEGRAM_API_URL for the bot (the token is appended to it)."""
        return f"{self.url}/bot"

    def user(self, chat_id: int, first_name: str = "Tess") -> TgUser:
        """Give a user in a private chat with the bot."""
        user = TgUser(self.url, TOKEN, chat_id, first_name)
        self.users.append(user)  # closed with the emulator
        return user

    def stats(self) -> dict[str, Any]:
        """Give the bot's messages' texts by chat, and the 429s answered (per chat, in all)."""
        answer = httpx.post(f"{self.url}/stats", json={"token": TOKEN}, timeout=10)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()["result"]
        return result

    def reset(self, **flood: int) -> None:
        """Forget every chat, message, webhook and count; flood control as given (default none).

        flood: flood_per_sec, flood_window_ms, flood_total_per_sec (see server.js).
        """
        self.close_users()
        answer = httpx.post(f"{self.url}/reset", json=flood, timeout=10)
        answer.raise_for_status()

    def close_users(self) -> None:
        """Close the user-side clients handed out so far."""
        for user in self.users:
            user.close()
        self.users.clear()

    def webhook_url(self) -> str:
        """Give the webhook address the bot set (empty when none)."""
        answer = httpx.post(f"{self.api_url}{TOKEN}/getWebhookInfo", timeout=10)
        return str(answer.json()["result"]["url"])


@contextmanager
def emulator_running(folder: Path, **env: str) -> Iterator[Emulator]:
    """Start the emulator on a free port (env: FLOOD_PER_SEC, FLOOD_TOTAL_PER_SEC)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "telegram-test-api").is_dir():
        pytest.fail("The Telegram emulator needs Node and `npm ci` (make install runs it)")
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = folder / "emulator.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [node, str(SERVER), str(port)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: process.poll() is not None or _listening(port), "the emulator to listen")
        assert process.poll() is None, log.read_text()
        emulator = Emulator(port, process, log)
        try:
            yield emulator
        finally:
            emulator.close_users()
    finally:
        stop(process)


def tempcheck_command() -> list[str]:
    """Give the command line of `tempcheck` in this virtual environment."""
    script = Path(sys.executable).with_name("tempcheck")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from collector.cli import main; main()"]


def environment(
    database_url: str, emulator: Emulator, folder: Path, **extra: str
) -> dict[str, str]:
    """Give the environment of a tempcheck process against the emulator."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMTP_", "DISPATCH_", "TELEGRAM_", "DATABASE_", "BASE_URL"))
    }
    env.update(
        DATABASE_URL=database_url,
        TEMPCHECK_INSTANCE=str(folder / "instance"),
        BASE_URL="http://127.0.0.1:5000",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=emulator.api_url,
    )
    env.update(extra)
    return env


def start(args: list[str], env: Mapping[str, str], folder: Path, name: str) -> Process:
    """Start `tempcheck ARGS` in `folder`, its output in NAME.log there."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*tempcheck_command(), *args],
            cwd=folder,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Process(process, log)


@dataclass
class Process:
    """A tempcheck process and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Give what it printed so far."""
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        """Say whether it still runs."""
        return self.process.poll() is None

    def wait_for_output(self, text: str) -> None:
        """Wait until it has printed `text` (fail with its output if it stops first)."""
        wait_until(
            lambda: text in self.output() or not self.alive(), f"{text!r} from {self.log.name}"
        )
        assert text in self.output(), self.output()

    def terminate(self, seconds: float = 20) -> int:
        """Stop it with SIGTERM and give its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=seconds)

    def kill(self) -> None:
        """Kill it at once (SIGKILL), as a crash would."""
        self.process.kill()
        self.process.wait(timeout=20)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process that may still run: SIGTERM, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def bot_running(env: Mapping[str, str], folder: Path, name: str = "bot") -> Iterator[Process]:
    """Run `tempcheck bot` until the block ends; wait until it polls or serves its webhook."""
    bot = start(["bot"], env, folder, name)
    try:
        bot.wait_for_output("Telegram bot")
        yield bot
    finally:
        stop(bot.process)


def telegram_groups(session: Any, provider: Any, chat_ids: list[int]) -> list[Any]:
    """Add one group per chat id, each linked to its chat and agreeing to Telegram."""
    from collector import models

    groups = []
    for chat_id in chat_ids:
        group = models.Organisation(
            provider=provider,
            external_ref=f"TG{chat_id}",
            name=f"Telegram group {chat_id}",
            org_type="community_group",
            outcomes="",
            is_member=False,
            consent_email=False,
            consent_telegram=True,
            preferred_channel="telegram",
        )
        session.add(group)
        session.add(models.TelegramChat(chat_id=chat_id, organisation=group))
        groups.append(group)
    session.flush()
    return groups
