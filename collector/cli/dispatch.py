"""`tempcheck dispatch` delivers the outbox; `tempcheck mail-sink` catches email locally."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import click

from collector import db
from collector.cli.base import Context, fail, pass_context
from collector.reports import PublishHook

log = logging.getLogger("collector.delivery.dispatcher")


@contextmanager
def _stop_on_signals(stop: threading.Event, message: str) -> Iterator[None]:
    """Set `stop` on SIGTERM or the first Ctrl-C; a second Ctrl-C interrupts at once."""

    def handle(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        click.echo(message, err=True)
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _configure_logging() -> None:
    """Send warnings and errors to stderr, unless logging is set up already."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


@click.command()
@click.option("--until-idle", is_flag=True, help="Stop when nothing is due.")
@click.option("--once", is_flag=True, help="Do one batch (and the schedules), then stop.")
@click.option(
    "--name",
    help="This dispatcher's name in the outbox, unique among running ones (default: host:pid). "
    "Started again under its name, it takes back at once what its last run left claimed.",
)
@pass_context
def dispatch(context: Context, until_idle: bool, once: bool, name: str | None) -> None:
    """Deliver queued invitations, reminders and reports, and run the schedules, until stopped."""
    from collector.delivery import mailer
    from collector.delivery.dispatcher import Dispatcher, TickReport, Transport
    from collector.delivery.webhooks import WebhookTransport
    from collector.health import Pulse

    if until_idle and once:
        fail("Choose one of --until-idle and --once")
    settings = context.settings
    context.service_sessions  # noqa: B018 - refuses a schema behind or ahead of the code
    context.close()
    _configure_logging()
    # Errors are logged with their traceback: SQL parameters (addresses, tokens) stay out.
    engine = db.make_engine(settings, hide_parameters=True)
    sessions = db.make_sessionmaker(engine)
    worker = name or f"{socket.gethostname()}:{os.getpid()}"
    email = mailer.email_transport(settings, sessions)
    transports: dict[str, Transport] = {"email": email, "webhook": WebhookTransport(sessions)}
    limits = [f"at most {settings.email_per_second} emails a second"]
    if settings.telegram_bot_token:
        # The bot's token is all Telegram delivery needs: messages go out through the Bot API
        # from here, whether or not the bot process (`tempcheck bot`) runs on this machine.
        from bot.transport import TelegramTransport

        telegram = TelegramTransport(settings)
        transports["telegram"] = telegram
        limits.append(f"{settings.telegram_per_second} Telegram messages a second")
    dispatcher = Dispatcher(
        settings,
        sessions,
        transports,
        worker,
        publish=_publisher(worker),
        rates={"telegram": float(settings.telegram_per_second)},
    )
    click.echo(
        f"Dispatcher {worker}: "
        + "; ".join(t.describe() for t in transports.values())
        + f"; batches of {settings.dispatch_batch}, "
        + " and ".join(limits)
        + "."
    )

    def progress(report: TickReport) -> None:
        click.echo(f"{datetime.now():%H:%M:%S} {report.summary()}")

    total = TickReport()
    # Running until stopped, it writes a heartbeat for `tempcheck status` (a one-off run does not).
    pulse = (
        None
        if once or until_idle
        else Pulse(sessions, "dispatcher", worker, settings.heartbeat_seconds)
    )
    try:
        with _stop_on_signals(dispatcher.stop_event, "Stopping after the message being sent..."):
            # Its first beat once SIGTERM stops it cleanly: a status that saw it running can
            # then tell a clean stop from a kill.
            if pulse is not None:
                pulse.start()
            if once:
                total = dispatcher.tick()
                if total.busy:
                    progress(total)
            else:
                if not until_idle:
                    click.echo("Waiting for messages (Ctrl-C stops).")
                total = dispatcher.run(until_idle=until_idle, on_tick=progress)
    except Exception:
        log.exception("the dispatcher stopped on an error")
        fail("The dispatcher stopped on an error (logged above).")
    finally:
        if pulse is not None:
            pulse.stop()
        dispatcher.close()
        engine.dispose()
    stopped = "Stopped" if dispatcher.stop_event.is_set() else "Done"
    click.echo(f"{stopped}: {total.summary()}.")


def _publisher(worker: str) -> PublishHook:
    """Give the hook that publishes the reports of closed rounds: in two steps, so that the
    dispatcher builds them in a session that only reads, and keeps them in a short write."""
    from analysis.publish import publisher

    return publisher(f"dispatcher {worker} (the round's close date)")


@click.command("mail-sink")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--folder",
    default="instance/mail",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where each email is saved as a .eml file.",
)
def mail_sink(host: str, port: int, folder: Path) -> None:
    """Run a local SMTP server that saves every email to a folder and sends nothing on."""
    from collector.cli import mailsink

    def saved(number: int, message: EmailMessage) -> None:
        # The subject only: the recipient's address is personal data.
        click.echo(f"mail-sink: {number} saved, last: {message['Subject']}")

    sink = mailsink.Sink(folder, keep=False, on_message=saved)
    try:
        controller = mailsink.serve(sink, host, port)
    except (OSError, RuntimeError) as error:
        fail(f"Could not listen on {host}:{port}: {error}")
        return
    click.echo(
        f"mail-sink on {host}:{port}, saving to {folder}/ (set SMTP_HOST={host} "
        f"SMTP_PORT={port} SMTP_TLS=false). Ctrl-C stops."
    )
    stop = threading.Event()
    try:
        with _stop_on_signals(stop, "Stopping..."):
            while not stop.wait(3600):
                pass
    finally:
        controller.stop()
    click.echo(f"mail-sink stopped: {sink.count} messages saved.")
