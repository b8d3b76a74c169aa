"""The tempcheck web app: `create_app(settings)` builds it; blueprints hold the pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from collector import db
from collector.config import Settings, SettingsError

# Answers are short (a text answer is at most 2,000 characters); anything bigger is not ours.
MAX_REQUEST_BYTES = 64 * 1024
# The repository checkout: node_modules/ and build/ are beside the package.
ROOT = Path(__file__).resolve().parent.parent

csrf = CSRFProtect()


class Services:
    """What every request needs: the settings and the database, made once per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = db.make_engine(settings)
        self.sessions: sessionmaker[Session] = db.make_sessionmaker(self.engine)
        # For pages that only show: on SQLite they do not wait for, or hold, the write lock.
        self.readers: sessionmaker[Session] = db.make_read_sessionmaker(self.engine)
        # For a respondent's page that only shows: on PostgreSQL, no transaction either.
        self.glances: sessionmaker[Session] = db.make_read_sessionmaker(self.engine, snapshot=False)


def create_app(settings: Settings) -> Flask:
    """Build the web app for `settings` (the schema must already be up to date)."""
    if not settings.secret_key:
        raise SettingsError(
            "SECRET_KEY is not set: the web app signs sessions and forms with it. Generate one "
            "with `python -c 'import secrets; print(secrets.token_hex(32))'` and put it in .env"
        )
    from forms import (
        api,
        assets,
        auth,
        console,
        errors,
        health,
        inputs,
        logs,
        optout,
        respond,
        security,
    )

    app = Flask(__name__, static_folder=None)
    secure = settings.base_url.startswith("https://")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_NAME="__Host-tempcheck" if secure else "tempcheck",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # An open-link respondent may come back days later to carry on.
        PERMANENT_SESSION_LIFETIME=timedelta(days=60),
        # A form stays valid for as long as the session: people pause mid-survey for hours.
        WTF_CSRF_TIME_LIMIT=None,
        PREFERRED_URL_SCHEME="https" if secure else "http",
    )
    app.extensions["tempcheck"] = Services(settings)
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader("forms"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    csrf.init_app(app)
    logs.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    inputs.init_app(app)
    app.register_blueprint(assets.bp)
    app.register_blueprint(health.bp)
    auth.init_app(app)
    app.register_blueprint(respond.bp)
    app.register_blueprint(optout.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(console.funder_bp)
    api.init_app(app)
    return app


def services(app: Flask) -> Services:
    """Give the app's settings and database."""
    found: Services = app.extensions["tempcheck"]
    return found
