"""Benchmark: the Telegram broadcast rate through the outbox, against the Bot API emulator.

Builds a fresh SQLite database with 2,000 groups, each linked to its own Telegram chat and
preferring Telegram, and opens one round for them: 2,000 invitations queued in the outbox.
Starts the emulator (tests/e2e/telegram/server.js, the npm package telegram-test-api from
`npm ci`) with Telegram's overall limit modelled (FLOOD_TOTAL_PER_SEC=30: a 429 with
retry_after 1 past 30 sends in any second), then one `tempcheck dispatch --until-idle` with
TELEGRAM_PER_SECOND=30, and measures:

- messages/s: 2,000 over the time from the first message recorded as sent to the last (the
  outbox's sent_at), and over the dispatcher's whole run (start-up included);
- the ratio to Telegram's 30 messages/s;
- 429s the emulator answered (each costs the transport a 1 s wait);
- that every invitation arrived once, in its own chat.

Traffic goes to 127.0.0.1 only; it takes about 70 to 80 seconds. Run with `make bench` or
`.venv/bin/python bench/bench_telegram.py [--messages N] [--rate R]`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
from servers import free_port
from sqlalchemy import func, select

from collector import db, models, rounds
from collector.config import Settings
from collector.models import utcnow
from collector.survey.loader import library_survey
from collector.survey.store import register

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "e2e" / "telegram" / "server.js"
TOKEN = "123456:BENCH-TOKEN"
TELEGRAM_LIMIT = 30.0
LINK = re.compile(r"/r/([A-Za-z0-9_-]+)")


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Wait until something listens on the port (or the process stops)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the emulator did not start")


def build(url: str, messages: int) -> dict[str, int]:
    """Queue `messages` Telegram invitations, one per linked group; give token -> chat id."""
    engine = db.make_engine(Settings(database_url=url))
    db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    with db.transaction(sessions) as session:
        provider = models.Provider(slug="bench-cvs", name="Bench CVS", district="Harlow")
        session.add(provider)
        for n in range(messages):
            group = models.Organisation(
                provider=provider,
                external_ref=f"TG{n:05d}",
                name=f"Telegram group {n}",
                org_type="community_group",
                outcomes="",
                is_member=False,
                consent_email=False,
                consent_telegram=True,
                preferred_channel="telegram",
            )
            session.add(group)
            session.add(models.TelegramChat(chat_id=700_000_000 + n, organisation=group))
        session.flush()
        now = utcnow()
        round_ = rounds.create_round(
            session,
            provider=provider,
            survey=register(session, library_survey("cvs-support")),
            period_label="2026/27 H1",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=30),
            channels=["telegram"],
        )
        queued = rounds.open_round(session, round_, now=now)
        assert queued == messages, queued
        expected = {
            i.token: i.organisation.telegram_chats[0].chat_id
            for i in round_.invitations
            if i.organisation is not None
        }
    engine.dispose()
    return expected


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=30, help="TELEGRAM_PER_SECOND")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "telegram-test-api").is_dir():
        raise SystemExit("bench_telegram needs Node and `npm ci` (make install runs it)")

    with tempfile.TemporaryDirectory(prefix="bench-telegram-") as folder:
        work = Path(folder)
        url = f"sqlite:///{work / 'bench.db'}"
        started = time.monotonic()
        expected = build(url, args.messages)
        took = time.monotonic() - started
        print(f"bench_telegram: {args.messages} invitations queued in {took:.1f} s")

        port = free_port()
        emulator_log = (work / "emulator.log").open("wb")
        emulator = subprocess.Popen(
            [node, str(SERVER), str(port)],
            cwd=ROOT,
            env={**os.environ, "FLOOD_TOTAL_PER_SEC": str(int(TELEGRAM_LIMIT))},
            stdout=emulator_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, emulator)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SMTP_"))}
            env.update(
                DATABASE_URL=url,
                TEMPCHECK_INSTANCE=str(work / "instance"),
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_BOT_USERNAME="tempcheck_bench_bot",
                TELEGRAM_API_URL=f"http://127.0.0.1:{port}/bot",
                TELEGRAM_PER_SECOND=str(args.rate),
            )
            script = Path(sys.executable).with_name("tempcheck")
            began = time.monotonic()
            with (work / "dispatch.log").open("wb") as log:
                code = subprocess.run(
                    [str(script), "dispatch", "--until-idle"],
                    cwd=work,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=max(600, 4 * args.messages / args.rate),
                ).returncode
            whole = time.monotonic() - began
            if code != 0:
                print((work / "dispatch.log").read_text())
                raise SystemExit(f"the dispatcher failed (exit code {code})")
            stats = httpx.post(
                f"http://127.0.0.1:{port}/stats", json={"token": TOKEN}, timeout=30
            ).json()["result"]
        finally:
            emulator.terminate()
            emulator.wait(timeout=15)
            emulator_log.close()

        engine = db.make_engine(Settings(database_url=url))
        with db.make_sessionmaker(engine)() as session:
            first, last, sent = session.execute(
                select(
                    func.min(models.OutboxMessage.sent_at),
                    func.max(models.OutboxMessage.sent_at),
                    func.count(models.OutboxMessage.id),
                ).where(models.OutboxMessage.status == "sent")
            ).one()
        engine.dispose()

    received = Counter(
        (int(chat), token)
        for chat, texts in stats["texts"].items()
        for text in texts
        for token in LINK.findall(text)
    )
    exact = received == Counter({(chat, token): 1 for token, chat in expected.items()})
    span = (last - first).total_seconds() if first and last else 0.0
    rate = (sent - 1) / span if span > 0 else 0.0
    overall = sent / whole
    print(f"  sent {sent} of {args.messages}; every one arrived once in its own chat: {exact}")
    print(
        f"  rate, first to last message: {rate:.1f} messages/s = {rate / TELEGRAM_LIMIT:.0%} "
        f"of Telegram's {TELEGRAM_LIMIT:.0f}/s (TELEGRAM_PER_SECOND={args.rate})"
    )
    print(f"  rate, whole dispatcher run (start-up included, {whole:.1f} s): {overall:.1f}/s")
    print(f"  429s from the emulator's 30/s limit: {stats['refused']['total']}")
    if not exact or sent != args.messages:
        raise SystemExit("bench_telegram: messages were lost or sent twice")


if __name__ == "__main__":
    main()
