"""`tempcheck bot`: run the Telegram bot (polling, or webhook mode when configured).

Polling asks Telegram for updates (long polling); with TELEGRAM_WEBHOOK_URL set, Telegram
posts each update to that public HTTPS address instead, with TELEGRAM_WEBHOOK_SECRET in the
X-Telegram-Bot-Api-Secret-Token header, and PTB's own web server (listening on
TELEGRAM_WEBHOOK_LISTEN:TELEGRAM_WEBHOOK_PORT behind the proxy) refuses updates without it.
Pending updates are kept either way: a message sent while the bot was down is still answered.
SIGTERM or Ctrl-C stops it cleanly. The bot holds no state of its own, so it can be restarted
at any time. Outbox messages to Telegram are sent by `tempcheck dispatch`, not here.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from urllib.parse import urlsplit

import click

from collector import db
from collector.cli.base import Context, pass_context, stop

log = logging.getLogger("bot")

# The Bot API's getUpdates waits (long polling) when there is nothing; a test server that
# answers at once would otherwise be asked again without pause.
POLL_INTERVAL = 0.1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _configure_logging() -> None:
    """Warnings and errors to stderr; never httpx's request lines (their URLs hold the token)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


@click.command("bot")
@pass_context
def bot(context: Context) -> None:
    """Run the Telegram bot (answers respondents, staff and funders) until stopped."""
    settings = context.settings
    if not settings.telegram_bot_token:
        stop(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with BotFather and put its token in "
            ".env (see 'Telegram bot' in the README)."
        )
    context.service_sessions  # noqa: B018 - refuses a schema behind or ahead of the code
    context.close()
    _configure_logging()

    from telegram import Update
    from telegram.error import InvalidToken, NetworkError, TelegramError

    from bot.app import build_application
    from collector.health import Pulse

    # Errors are logged with their traceback: SQL parameters (answers, chat ids) stay out.
    engine = db.make_engine(settings, hide_parameters=True)
    sessions = db.make_sessionmaker(engine)
    app = build_application(settings, sessions)
    api = urlsplit(settings.telegram_api_url).netloc or settings.telegram_api_url
    username = (settings.telegram_bot_username or "").lstrip("@")
    label = f"Telegram bot @{username}" if username else "Telegram bot"
    # A heartbeat for `tempcheck status`, from a thread of its own (not the bot's event loop).
    pulse = Pulse(
        sessions, "bot", f"{socket.gethostname()}:{os.getpid()}", settings.heartbeat_seconds
    )
    pulse.start()
    try:
        if settings.telegram_webhook_url:
            webhook = urlsplit(settings.telegram_webhook_url)
            click.echo(
                f"{label}: webhook mode, Telegram ({api}) posts to "
                f"{webhook.scheme}://{webhook.netloc}{webhook.path}, served on "
                f"{settings.telegram_webhook_listen}:{settings.telegram_webhook_port} "
                "(Ctrl-C stops)."
            )
            app.run_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=webhook.path.lstrip("/"),
                webhook_url=settings.telegram_webhook_url,
                secret_token=settings.telegram_webhook_secret,
                allowed_updates=Update.ALL_TYPES,
                drop_pending_updates=False,
                stop_signals=STOP_SIGNALS,
            )
        else:
            click.echo(f"{label}: polling {api} for updates (Ctrl-C stops).")
            app.run_polling(
                poll_interval=POLL_INTERVAL,
                allowed_updates=Update.ALL_TYPES,
                drop_pending_updates=False,
                stop_signals=STOP_SIGNALS,
            )
    except InvalidToken:
        stop("Telegram refused TELEGRAM_BOT_TOKEN: check it with BotFather (/token).")
    except NetworkError as error:
        stop(f"Could not reach Telegram at {api}: {error.message}")
    except TelegramError as error:
        stop(f"Telegram refused to start the bot: {error.message}")
    finally:
        pulse.stop()
        engine.dispose()
    click.echo("Telegram bot stopped.")
