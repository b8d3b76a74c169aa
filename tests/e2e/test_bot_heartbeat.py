"""`tempcheck bot` writes its heartbeat: the status shows it running, then stopped cleanly.

A real bot process against the Telegram Bot API emulator (no browser, so not marked e2e).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collector import db, health
from collector.config import Settings
from tests.e2e.telegram.harness import TOKEN, Emulator, bot_running, environment

pytestmark = pytest.mark.slow


def _bot_check(database_url: str) -> health.Check:
    settings = Settings(database_url=database_url, telegram_bot_token=TOKEN, heartbeat_seconds=1)
    engine = db.make_engine(settings)
    try:
        with db.make_sessionmaker(engine)() as session:
            return next(c for c in health.status(session, settings).checks if c.key == "bot")
    finally:
        engine.dispose()


def test_a_running_bot_beats_and_says_when_it_stopped(
    emulator: Emulator, live_database: str, tmp_path: Path
) -> None:
    assert _bot_check(live_database).summary == "none has run: nobody is answered in Telegram"
    env = environment(live_database, emulator, tmp_path, HEARTBEAT_SECONDS="1")
    with bot_running(env, tmp_path / "bot", "bot"):
        first = _bot_check(live_database)
        assert first.state == "ok" and first.summary.startswith("1 running (")
        started = first.figures["processes"][0]["last_heartbeat_at"]
        deadline = time.monotonic() + 30
        while _bot_check(live_database).figures["processes"][0]["last_heartbeat_at"] == started:
            assert time.monotonic() < deadline, "the bot wrote no second heartbeat"
            time.sleep(0.2)
    stopped = _bot_check(live_database)
    assert stopped.state == "warning"
    assert stopped.summary.startswith("stopped ") and stopped.summary.endswith("none running")
