"""Settings: defaults, conversion, and clear refusals of bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import Settings, SettingsError


def test_defaults_use_a_sqlite_file_in_the_instance_folder() -> None:
    settings = Settings.from_env({}, dotenv_path=None)
    assert settings.resolved_database_url == "sqlite:///instance/tempcheck.db"
    assert settings.secret_key is None  # no fallback secret


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("BASE_URL=https://from-dotenv.example\nSMTP_PORT=2525\n")
    settings = Settings.from_env({"BASE_URL": "https://from-env.example"}, dotenv_path=dotenv)
    assert settings.base_url == "https://from-env.example"
    assert settings.smtp_port == 2525


def test_postgres_short_urls_use_psycopg3() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgres://u:p@h/db"}, dotenv_path=None)
    assert settings.resolved_database_url == "postgresql+psycopg://u:p@h/db"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SMTP_PORT": "twenty"}, "SMTP_PORT must be a whole number, not 'twenty'"),
        ({"SMTP_TLS": "maybe"}, "SMTP_TLS must be true or false, not 'maybe'"),
        ({"DATABASE_URL": "mysql://u:secret@h/db"}, "mysql://u:***@h/db"),
        ({"BASE_URL": "localhost:5000"}, "BASE_URL must be an http(s) address"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 16 characters"),
        ({"REMINDER_MIN_HOURS": "-1"}, "REMINDER_MIN_HOURS must be 0 or more"),
        ({"REMINDER_MIN_HOURS": "a day"}, "REMINDER_MIN_HOURS must be a whole number"),
        (
            {"TELEGRAM_WEBHOOK_URL": "https://x.example/hook"},
            "TELEGRAM_WEBHOOK_SECRET is required",
        ),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ, dotenv_path=None)
    assert message in str(error.value)
    assert "secret@" not in str(error.value)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [env for env, _, _ in Settings.documented() if f"`{env}`" not in readme]
    assert missing == []
