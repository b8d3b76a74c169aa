"""`tempcheck bot` as a real process against the Telegram emulator: polling, webhook mode with
its secret token, and a clean stop on SIGTERM.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from collector import db
from collector.cli import main
from collector.config import Settings
from tests.conftest import _free_port
from tests.e2e.telegram.client import wait_until
from tests.e2e.telegram.harness import (
    USERNAME,
    Emulator,
    bot_running,
    environment,
    start,
    stop,
)

pytestmark = pytest.mark.e2e

SECRET = "s3cret-webhook-token_for-tests"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Give a SQLite database file with the schema."""
    url = f"sqlite:///{tmp_path / 'tempcheck.db'}"
    engine = db.make_engine(Settings(database_url=url))
    db.upgrade(engine)
    engine.dispose()
    return url


def test_polling_answers_and_stops_cleanly_on_sigterm(
    emulator: Emulator, database_url: str, tmp_path: Path
) -> None:
    env = environment(database_url, emulator, tmp_path, TELEGRAM_BOT_USERNAME=USERNAME)
    with bot_running(env, tmp_path / "bot") as bot:
        user = emulator.user(7001)
        user.text("hello?")
        (reply,) = user.wait_messages(1)
        assert "no survey waiting for this chat" in reply.text
        assert bot.terminate() == 0
    output = bot.output()
    assert "Telegram bot @tempcheck_test_bot: polling 127.0.0.1:" in output
    assert output.rstrip().endswith("Telegram bot stopped.")
    assert "TEST-TOKEN" not in output
    assert "Traceback" not in output


def test_webhook_refuses_updates_without_the_secret(
    emulator: Emulator, database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    hook = f"http://127.0.0.1:{port}/telegram/updates"
    env = environment(
        database_url,
        emulator,
        tmp_path,
        TELEGRAM_WEBHOOK_URL=hook,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=str(port),
    )
    with bot_running(env, tmp_path / "bot") as bot:
        # The bot told Telegram (the emulator) where to post, with the secret.
        wait_until(lambda: emulator.webhook_url() == hook, "the bot to set its webhook")

        def update(chat_id: int, update_id: int) -> dict[str, object]:
            return {
                "update_id": update_id,
                "message": {
                    "message_id": update_id,
                    "date": 1_700_000_000,
                    "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": chat_id, "is_bot": False, "first_name": "Mallory"},
                    "text": "hello",
                },
            }

        refused = []
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            answer = httpx.post(hook, json=update(6660, 900_001), headers=headers, timeout=10)
            refused.append(answer.status_code)
        assert refused == [403, 403]

        # With the right secret, posted by hand and by the emulator as Telegram would.
        answer = httpx.post(
            hook,
            json=update(6661, 900_002),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            timeout=10,
        )
        assert answer.status_code == 200
        posted = emulator.user(6661)
        assert "no survey waiting for this chat" in posted.wait_messages(1)[0].text
        user = emulator.user(6662)
        user.text("hi there")
        assert "no survey waiting for this chat" in user.wait_messages(1)[0].text

        # The refused updates were never handled: nothing was sent to that chat.
        assert "6660" not in emulator.stats()["texts"]
        assert bot.terminate() == 0
    output = bot.output()
    assert f"webhook mode, Telegram (127.0.0.1:{emulator.port}) posts to {hook}" in output
    assert SECRET not in output and "TEST-TOKEN" not in output


def test_the_bot_needs_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        ["bot"],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "TELEGRAM_BOT_TOKEN": ""},
    )
    assert result.exit_code == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in result.output


@pytest.mark.slow
def test_up_runs_the_bot_when_a_token_is_set(
    emulator: Emulator, database_url: str, tmp_path: Path
) -> None:
    env = environment(
        database_url,
        emulator,
        tmp_path,
        TELEGRAM_BOT_USERNAME=USERNAME,
        SECRET_KEY="up-test-secret-key-0123456789abcdef",
        SMTP_HOST="",
        BASE_URL="",
    )
    port, mail_port = _free_port(), _free_port()
    up = start(
        ["up", "--port", str(port), "--mail-port", str(mail_port), "--threads", "2"],
        env,
        tmp_path / "up",
        "up",
    )
    try:
        up.wait_for_output("  processes: ")
        output = up.output()
        assert "  telegram: the bot @tempcheck_test_bot (polling)" in output
        assert "Telegram bot (pid " in output
        user = emulator.user(7101)
        user.text("anyone there?")
        assert "no survey waiting for this chat" in user.wait_messages(1)[0].text
        assert up.terminate(seconds=60) == 0, up.output()
    finally:
        stop(up.process)
    assert (
        "Stopped the web server, the Telegram bot, the dispatcher and the mail sink." in up.output()
    )
