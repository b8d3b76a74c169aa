"""`tempcheck up`: everything the demo needs, in one terminal.

Starts three child processes: a local mail sink (`tempcheck mail-sink`) that saves every email
as a .eml file, the outbox dispatcher (`tempcheck dispatch`) pointed at it, and the web server
(`tempcheck serve`). With SMTP_HOST configured, the dispatcher sends through that server
instead and no sink is started. With TELEGRAM_BOT_TOKEN set, the Telegram bot (`tempcheck
bot`) runs too, and the dispatcher sends invitations to linked chats by Telegram. Ctrl-C or
SIGTERM stops them all. One that stops by itself is started again after a pause that doubles
with each crash (1 s, 2 s, 4 s ... at most 30 s), each time saying which and its exit code; one
that crashes 5 times within 2 minutes makes `up` stop the others and exit with an error.

With BACKUP_DAILY (the default), `up` also backs up the database when it starts and every 24
hours after the last backup in BACKUP_DIR, in a thread of its own (watching the children never
waits for it), keeping the newest BACKUP_KEEP.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from types import FrameType

import click

from collector.cli.base import Context, default_workers, pass_context, stop
from collector.config import Settings
from collector.errors import CollectorError

# How long each child gets to stop after SIGTERM before it is killed (the web server gives the
# requests in hand 5 seconds; the dispatcher finishes the message it is sending).
STOP_SECONDS = 15
POLL_SECONDS = 0.2


# How often `up` looks whether the daily backup is due.
BACKUP_CHECK_SECONDS = 60.0


class DailyBackup:
    """Take the daily backup when it is due, in a thread of its own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.thread: threading.Thread | None = None
        self.checked_at: float | None = None

    def tick(self, now: float) -> None:
        """Start a backup if none is running, it is time to look, and one is due."""
        if not self.settings.backup_daily or (self.thread is not None and self.thread.is_alive()):
            return
        if self.checked_at is not None and now - self.checked_at < BACKUP_CHECK_SECONDS:
            return
        self.checked_at = now
        from collector import backup

        if backup.due(self.settings):
            self.thread = threading.Thread(target=self.take, name="daily backup", daemon=True)
            self.thread.start()

    def take(self) -> None:
        """Back up into BACKUP_DIR and delete the oldest beyond BACKUP_KEEP, saying so."""
        from sqlalchemy.exc import SQLAlchemyError

        from collector import backup, db

        engine = db.make_engine(self.settings)
        try:
            path, _manifest, gone = backup.scheduled(self.settings, engine)
        except (CollectorError, OSError, SQLAlchemyError) as error:
            _say(f"The daily backup failed: {error}")
            return
        finally:
            engine.dispose()
        pruned = f"; deleted {len(gone)} older (BACKUP_KEEP={self.settings.backup_keep})"
        _say(f"Backed up the database to {path}{pruned if gone else ''}.")

    def finish(self, seconds: float = 120) -> None:
        """Let a backup under way finish before `up` exits."""
        if self.thread is not None:
            self.thread.join(seconds)


@dataclass(frozen=True)
class RestartPolicy:
    """When a child that stopped by itself is started again, and when `up` gives up."""

    first_pause: float = 1.0  # seconds before the first restart, doubling with each crash
    longest_pause: float = 30.0
    crashes: int = 5  # this many crashes of one child within `window` seconds: give up
    window: float = 120.0

    def pause(self, recent_crashes: int) -> float:
        """Give how long to wait before starting a child again after its recent crashes."""
        return min(self.longest_pause, self.first_pause * 2 ** max(recent_crashes - 1, 0))


RESTARTS = RestartPolicy()


@dataclass
class Child:
    """One process `up` runs: what it is called, its command line and extra environment."""

    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    crashes: list[float] = field(default_factory=list)  # when it stopped by itself (monotonic)
    restart_at: float | None = None  # when it is due to be started again

    def start(self) -> None:
        """Start the process in its own process group (so stopping it reaches its workers)."""
        self.process = subprocess.Popen(
            [*tempcheck_command(), *self.args],
            # The child reads its settings from this environment (and .env) itself.
            env={**os.environ, **self.env},
            start_new_session=True,
        )

    def exit_code(self) -> int | None:
        """Give the exit code if the process has stopped, else None."""
        return None if self.process is None else self.process.poll()

    def signal(self, signum: int) -> None:
        """Send a signal to the process and anything it started."""
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):  # it stopped in between
            os.killpg(self.process.pid, signum)

    def clear_up(self) -> None:
        """Kill what a stopped child left behind in its process group (a worker)."""
        if self.process is not None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


def tempcheck_command() -> list[str]:
    """Give the command line that runs `tempcheck` with this Python."""
    script = Path(sys.executable).with_name("tempcheck")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from collector.cli import main; main(prog_name='tempcheck')"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Web server address.")
@click.option(
    "--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Web port."
)
@click.option(
    "--mail-port",
    default=8025,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the local mail sink (when SMTP_HOST is not set).",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="The web server's threads.",
)
@click.option(
    "--workers",
    default=default_workers,
    show_default="one per core, at most 4",
    type=click.IntRange(1, 64),
    help="The web server's processes.",
)
@pass_context
def up(context: Context, host: str, port: int, mail_port: int, threads: int, workers: int) -> None:
    """Run the web server, the dispatcher and a local mail sink together, until Ctrl-C."""
    settings = context.settings
    if not settings.secret_key:
        stop(
            "SECRET_KEY is not set. Generate one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'` and put it in .env"
        )
    sink = not settings.smtp_host
    _check_free(host, port, "--port")
    if sink:
        _check_free("127.0.0.1", mail_port, "--mail-port")
    context.service_sessions  # noqa: B018 - refuses a schema behind or ahead of the code
    context.close()

    shared: dict[str, str] = {}
    base = settings.base_url.rstrip("/")
    if settings.base_url == _default_base_url() and port != 5000:
        # Links in emails must reach this server: the default BASE_URL names port 5000.
        base = f"http://localhost:{port}"
        shared["BASE_URL"] = base
    children: list[Child] = []
    mail_folder = Path(settings.instance_path) / "mail"
    dispatcher_env = dict(shared)
    if sink:
        mail_folder.mkdir(parents=True, exist_ok=True)
        children.append(
            Child(
                "mail sink",
                ["mail-sink", "--port", str(mail_port), "--folder", str(mail_folder)],
                shared,
            )
        )
        dispatcher_env.update(
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(mail_port),
            SMTP_TLS="false",
            SMTP_USER="",
            SMTP_PASSWORD="",
        )
    # A name of its own that a restart keeps: the restarted dispatcher takes back at once what
    # the one that died had claimed (the web port makes it unique on this machine).
    dispatcher_name = f"{socket.gethostname()}:up:{port}"
    children.append(Child("dispatcher", ["dispatch", "--name", dispatcher_name], dispatcher_env))
    if settings.telegram_bot_token:
        children.append(Child("Telegram bot", ["bot"], shared))
    children.append(
        Child(
            "web server",
            [
                *("serve", "--host", host, "--port", str(port)),
                *("--threads", str(threads), "--workers", str(workers)),
            ],
            shared,
        )
    )

    with _signals_stop() as stopping:
        for child in children:
            child.start()
            if child.name == "mail sink":
                # The dispatcher's first emails should find the sink listening.
                _wait_for_port("127.0.0.1", mail_port, child)
        shown = "localhost" if host in ("0.0.0.0", "::") else host
        click.secho("tempcheck is up (Ctrl-C stops everything):", bold=True, fg="green")
        click.echo(f"  web:      http://{shown}:{port}/")
        click.echo(f"  sign in:  http://{shown}:{port}/login")
        click.echo(f"  links in messages start with {base}/")
        if sink:
            click.echo(
                f"  email:    to the local mail sink on 127.0.0.1:{mail_port}, saved as .eml "
                f"files in {mail_folder}/"
            )
        else:
            click.echo(f"  email:    through {settings.smtp_host}:{settings.smtp_port} (SMTP_HOST)")
        if settings.telegram_bot_token:
            username = (settings.telegram_bot_username or "").lstrip("@")
            mode = "webhook" if settings.telegram_webhook_url else "polling"
            who = f"the bot @{username}" if username else "the bot"
            click.echo(f"  telegram: {who} ({mode}); invitations to linked chats go by Telegram")
        else:
            click.echo("  telegram: off (set TELEGRAM_BOT_TOKEN to run the bot too)")
        click.echo(
            "  processes: " + ", ".join(f"{c.name} (pid {_pid(c)})" for c in children),
        )
        daily = DailyBackup(settings)
        if settings.backup_daily:
            click.echo(
                f"  backups:  daily into {settings.backup_folder}/ (keeping "
                f"{settings.backup_keep}; BACKUP_DAILY=false turns it off)"
            )
        failed = _watch(children, stopping, RESTARTS, on_tick=daily.tick)
    _stop_all(children)
    daily.finish()
    if failed is not None:
        stop(
            f"The {failed.name} stopped by itself {len(failed.crashes)} times in "
            f"{RESTARTS.window:.0f} s (last exit code {failed.exit_code()}): stopped the others "
            "too. Its messages are above."
        )
    stopped = [c.name for c in reversed(children)]
    click.echo("Stopped the " + ", the ".join(stopped[:-1]) + " and the " + stopped[-1] + ".")


def _watch(
    children: list[Child],
    stopping: list[int],
    policy: RestartPolicy,
    clock: Callable[[], float] = time.monotonic,
    on_tick: Callable[[float], None] | None = None,
) -> Child | None:
    """Start again each child that stops by itself, after a pause, until asked to stop (give
    None) or until one crashes `policy.crashes` times within `policy.window` seconds (give it).
    """
    while not stopping:
        now = clock()
        if on_tick is not None:
            on_tick(now)
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at and not stopping:
                    child.restart_at = None
                    child.start()
                    _say(f"Restarted the {child.name} (pid {_pid(child)}).")
                continue
            code = child.exit_code()
            if code is None:
                continue
            child.clear_up()
            child.crashes = [t for t in child.crashes if now - t < policy.window] + [now]
            if len(child.crashes) >= policy.crashes:
                _say(f"The {child.name} stopped by itself (exit code {code}): giving up.")
                return child
            pause = policy.pause(len(child.crashes))
            child.restart_at = now + pause
            _say(
                f"The {child.name} stopped by itself (exit code {code}): restarting it in "
                f"{pause:g} s ({len(child.crashes)} of {policy.crashes} crashes allowed in "
                f"{policy.window:g} s)."
            )
        time.sleep(POLL_SECONDS)
    click.echo("Stopping...", err=True)
    return None


def _say(text: str) -> None:
    """Write a line about the children, with the time, to stderr."""
    click.echo(f"{datetime.now():%H:%M:%S} up: {text}", err=True)


def _stop_all(children: list[Child]) -> None:
    """Stop the children one by one, newest first: SIGTERM, then SIGKILL after STOP_SECONDS.

    Newest first, and each to the end, so that the dispatcher finishes the email it is sending
    while the mail sink still listens.
    """
    for child in reversed(children):
        if child.process is None:
            continue
        child.signal(signal.SIGTERM)
        try:
            child.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            click.echo(f"The {child.name} did not stop in time: killing it.", err=True)
            child.signal(signal.SIGKILL)
            child.process.wait()
        child.clear_up()


@contextmanager
def _signals_stop() -> Iterator[list[int]]:
    """Note SIGTERM, SIGINT (Ctrl-C) and SIGHUP in a list instead of dying on them."""
    received: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    watched = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {s: signal.signal(s, handle) for s in watched}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _check_free(host: str, port: int, option: str) -> None:
    """Stop early, with the option to change, when a port is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            stop(f"Cannot listen on {host}:{port} ({error.strerror}): choose another {option}")


def _wait_for_port(host: str, port: int, child: Child, seconds: float = 15) -> None:
    """Wait until the child listens on the port (or has stopped, which `_watch` reports)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and child.exit_code() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(POLL_SECONDS)


def _pid(child: Child) -> int:
    return child.process.pid if child.process is not None else 0


def _default_base_url() -> object:
    return next(f.default for f in fields(Settings) if f.name == "base_url")
