"""Settings: read once from the environment (and an optional `.env`), then passed down.

Every setting is declared once below with its default and help text; the README's settings
table is checked against this list by a test, so a new setting cannot go undocumented.
No other code reads a setting from `os.environ`. The environment is touched in two other
places, neither a setting: `tempcheck up` hands it on to the processes it starts (which read
their settings here), and `bot.transport` sets PTB_TIMEDELTA, an opt-in of
python-telegram-bot's, before importing it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

from collector.errors import CollectorError


class SettingsError(CollectorError):
    """A setting has a value tempcheck cannot use."""

    code = "bad_setting"


def _setting(env: str, default: object, help: str) -> object:  # noqa: A002 - mirrors argparse
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """All of tempcheck's configuration: `Settings.from_env()`, or built directly in tests."""

    database_url: str = _setting(  # type: ignore[assignment]
        "DATABASE_URL",
        "",
        "SQLAlchemy URL of the database. Empty: a SQLite file `tempcheck.db` in the instance "
        "folder. "
        "PostgreSQL: postgresql+psycopg://user:password@host/dbname",
    )
    instance_path: str = _setting(  # type: ignore[assignment]
        "TEMPCHECK_INSTANCE", "instance", "Folder for the SQLite database and other local state."
    )
    secret_key: str | None = _setting(  # type: ignore[assignment]
        "SECRET_KEY",
        None,
        "Secret for signing sessions and CSRF tokens. No default: the web app refuses to start "
        "without one (generate with `python -c 'import secrets; print(secrets.token_hex(32))'`).",
    )
    base_url: str = _setting(  # type: ignore[assignment]
        "BASE_URL",
        "http://localhost:5000",
        "Public address of the web app, used to build the links in invitations.",
    )
    trusted_proxies: int = _setting(  # type: ignore[assignment]
        "TRUSTED_PROXIES",
        0,
        "How many reverse proxies in front of the web app add X-Forwarded-For and "
        "X-Forwarded-Proto; 0 when browsers connect to it directly. Per-client rate limits "
        "need the real client address.",
    )
    sqlite_busy_timeout_ms: int = _setting(  # type: ignore[assignment]
        "SQLITE_BUSY_TIMEOUT_MS", 30000, "How long SQLite waits for a lock before giving up."
    )
    telegram_bot_token: str | None = _setting(  # type: ignore[assignment]
        "TELEGRAM_BOT_TOKEN", None, "Token from BotFather. Without it the bot does not start."
    )
    telegram_bot_username: str | None = _setting(  # type: ignore[assignment]
        "TELEGRAM_BOT_USERNAME", None, "The bot's @username, used to build t.me deep links."
    )
    telegram_webhook_url: str | None = _setting(  # type: ignore[assignment]
        "TELEGRAM_WEBHOOK_URL", None, "Public HTTPS URL for webhook mode; empty means polling."
    )
    telegram_webhook_secret: str | None = _setting(  # type: ignore[assignment]
        "TELEGRAM_WEBHOOK_SECRET",
        None,
        "Secret token Telegram sends with each webhook update; required with a webhook URL.",
    )
    telegram_api_url: str = _setting(  # type: ignore[assignment]
        "TELEGRAM_API_URL",
        "https://api.telegram.org/bot",
        "Bot API base address (the bot's token is appended); change it only to test against "
        "an emulator.",
    )
    telegram_webhook_listen: str = _setting(  # type: ignore[assignment]
        "TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1", "Address the bot's webhook server listens on."
    )
    telegram_webhook_port: int = _setting(  # type: ignore[assignment]
        "TELEGRAM_WEBHOOK_PORT",
        8443,
        "Port the bot's webhook server listens on (behind the proxy that TELEGRAM_WEBHOOK_URL "
        "reaches).",
    )
    telegram_per_second: int = _setting(  # type: ignore[assignment]
        "TELEGRAM_PER_SECOND",
        25,
        "Most Telegram messages the dispatchers send per second, each (Telegram allows about "
        "30 for a bot; one per second to any one chat is kept regardless).",
    )
    smtp_host: str | None = _setting(  # type: ignore[assignment]
        "SMTP_HOST", None, "SMTP server for email; empty means emails are printed, not sent."
    )
    smtp_port: int = _setting("SMTP_PORT", 587, "SMTP server port.")  # type: ignore[assignment]
    smtp_tls: bool = _setting(  # type: ignore[assignment]
        "SMTP_TLS", True, "Use STARTTLS when talking to the SMTP server."
    )
    smtp_user: str | None = _setting("SMTP_USER", None, "SMTP login name.")  # type: ignore[assignment]
    smtp_password: str | None = _setting(  # type: ignore[assignment]
        "SMTP_PASSWORD", None, "SMTP password."
    )
    mail_from: str = _setting(  # type: ignore[assignment]
        "MAIL_FROM", "tempcheck <noreply@localhost>", "From address of outgoing email."
    )
    email_per_second: int = _setting(  # type: ignore[assignment]
        "EMAIL_PER_SECOND",
        10,
        "Most emails the dispatchers send per second, each (respect your mail provider's limit).",
    )
    dispatch_batch: int = _setting(  # type: ignore[assignment]
        "DISPATCH_BATCH",
        10,
        "How many messages a dispatcher claims at a time. A dispatcher killed mid-batch may "
        "have sent the one in hand: only that one may go out twice.",
    )
    dispatch_claim_seconds: int = _setting(  # type: ignore[assignment]
        "DISPATCH_CLAIM_SECONDS",
        15,
        "How long a claim on a message lasts unless its dispatcher renews it (it does every "
        "third of this while it works): how soon another takes over from one that died.",
    )
    dispatch_max_attempts: int = _setting(  # type: ignore[assignment]
        "DISPATCH_MAX_ATTEMPTS",
        8,
        "After this many failed attempts a message is given up and shown as failed in the console.",
    )
    reminder_min_hours: int = _setting(  # type: ignore[assignment]
        "REMINDER_MIN_HOURS",
        24,
        "A reminder sent by hand (console or `tempcheck rounds remind`) less than this many hours "
        "after the last invitation or reminder to the same people is refused, saying when that "
        "was, unless staff confirm it (`--force`); 0 turns the check off.",
    )

    heartbeat_seconds: int = _setting(  # type: ignore[assignment]
        "HEARTBEAT_SECONDS",
        15,
        "How often each dispatcher and bot writes its heartbeat; `tempcheck status` warns about "
        "one silent for three times this (45 s: a dispatcher killed shows within a minute).",
    )
    backup_dir: str = _setting(  # type: ignore[assignment]
        "BACKUP_DIR",
        "",
        "Folder for the backups `tempcheck up` takes (and `tempcheck backup` writes when not "
        "given --output), and for the register of erasures kept beside them. Empty: `backups` "
        "in the instance folder. Copy it off the machine.",
    )
    backup_daily: bool = _setting(  # type: ignore[assignment]
        "BACKUP_DAILY",
        True,
        "`tempcheck up` takes a backup when it starts and every 24 hours after the last one.",
    )
    backup_keep: int = _setting(  # type: ignore[assignment]
        "BACKUP_KEEP",
        7,
        "How many of the backups `tempcheck up` takes are kept in BACKUP_DIR (the oldest go "
        "first); backups written elsewhere with --output are never deleted.",
    )

    @property
    def backup_folder(self) -> Path:
        """Give BACKUP_DIR, defaulting to `backups` in the instance folder."""
        return Path(self.backup_dir) if self.backup_dir else Path(self.instance_path) / "backups"

    @property
    def reminder_min_interval(self) -> timedelta:
        """Give REMINDER_MIN_HOURS as a span of time."""
        return timedelta(hours=self.reminder_min_hours)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
    ) -> Settings:
        """Read settings from `environ` (default: the process environment) over an optional .env."""
        values: dict[str, str] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            env = f.metadata["env"]
            raw = values.get(env)
            if raw is None or raw.strip() == "":
                continue
            kwargs[f.name] = _convert(env, raw.strip(), f.default)
        return cls(**kwargs)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        url = self.resolved_database_url
        if not (url.startswith("sqlite") or url.startswith("postgresql")):
            raise SettingsError(
                f"DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL, not {_redact(url)}"
            )
        parsed = urlparse(self.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(f"BASE_URL must be an http(s) address, not {self.base_url!r}")
        if self.telegram_webhook_url and not self.telegram_webhook_secret:
            raise SettingsError("TELEGRAM_WEBHOOK_URL is set: TELEGRAM_WEBHOOK_SECRET is required")
        for name in (
            "email_per_second",
            "telegram_per_second",
            "dispatch_batch",
            "dispatch_claim_seconds",
            "dispatch_max_attempts",
            "heartbeat_seconds",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name.upper()} must be 1 or more")
        if self.backup_keep < 1:
            raise SettingsError("BACKUP_KEEP must be 1 or more")
        if self.reminder_min_hours < 0:
            raise SettingsError("REMINDER_MIN_HOURS must be 0 or more")
        if self.trusted_proxies < 0:
            raise SettingsError("TRUSTED_PROXIES must be 0 or more")
        if self.secret_key is not None and len(self.secret_key) < 16:
            raise SettingsError("SECRET_KEY must be at least 16 characters")

    @property
    def resolved_database_url(self) -> str:
        """Give the database URL, defaulting to a SQLite file in the instance folder."""
        if self.database_url:
            url = self.database_url
            # Accept the common short forms and use psycopg 3, the driver we install.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{Path(self.instance_path) / 'tempcheck.db'}"

    @classmethod
    def documented(cls) -> list[tuple[str, object, str]]:
        """List (environment variable, default, help) for every setting."""
        return [(f.metadata["env"], f.default, f.metadata["help"]) for f in fields(cls)]


def _convert(env: str, raw: str, default: object) -> object:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{env} must be true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{env} must be a whole number, not {raw!r}") from None
    return raw


def _redact(url: str) -> str:
    """Hide a password in a database URL before it goes into a message."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
