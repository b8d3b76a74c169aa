"""Signing in and out for staff and funders (Flask-Login over `collector.users`).

No page says whether an email address has an account: a wrong address and a wrong password
get the same message, take about as long (`users.authenticate` checks a dummy hash), and count
against the same limits. Failed attempts are limited per client and per email address, in SQL,
so every worker shares the counts; past a limit even the right password is refused until the
window ends, or the limit would not slow a guesser down.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload, selectinload

from collector import db, models, ratelimits, users
from collector.models import utcnow
from forms import services
from forms.security import client_key
from forms.text import Words

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

# Failed sign-ins: generous per client (an office shares one address), tighter per account.
LOGIN_CLIENT = ratelimits.Limit("login_client", limit=30, window=timedelta(minutes=15))
LOGIN_EMAIL = ratelimits.Limit("login_email", limit=10, window=timedelta(minutes=15))
# A signed-in session ends this long after signing in, however busy it is.
SESSION_HOURS = 12
BAD_SIGN_IN = "The email address or password is not right"
EMAIL_LENGTH = 254
PASSWORD_LENGTH = 1024  # scrypt would take a long password; nobody needs one this long


class Account(UserMixin):
    """The signed-in person: their account row, loaded with the providers they may see."""

    def __init__(self, user: models.User) -> None:
        self.user = user

    def get_id(self) -> str:
        """Give the session's user id: the account id and a fingerprint of its password hash.

        A new password changes the fingerprint, which signs out every other session.
        """
        return f"{self.user.id}.{_fingerprint(self.user.password_hash)}"

    @property
    def is_active(self) -> bool:
        """Tell whether the account may sign in."""
        return bool(self.user.active)

    @property
    def id(self) -> int:
        """Give the account id."""
        return self.user.id

    @property
    def name(self) -> str:
        """Give the person's name."""
        return self.user.name

    @property
    def email(self) -> str:
        """Give the account's email address."""
        return self.user.email

    @property
    def role(self) -> str:
        """Give the role: admin, staff or funder."""
        return self.user.role

    @property
    def is_admin(self) -> bool:
        """Tell whether this is an admin."""
        return self.user.role == "admin"


def _fingerprint(password_hash: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"account:" + password_hash.encode(), hashlib.sha256).hexdigest()[:20]


def _identifier() -> str:
    """Identify the browser a session is used from: its address and its user agent.

    The address is `request.remote_addr`, which the configured trusted proxies set (see
    forms.security); Flask-Login's own identifier reads the first X-Forwarded-For entry,
    which any client can write.
    """
    base = f"{request.remote_addr}|{request.headers.get('User-Agent', '')}"
    return hashlib.sha512(base.encode()).hexdigest()


def _email_key(email: str) -> str:
    """Key the per-address limit by a keyed hash: rate counts never hold an address."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"email:" + email.encode(), hashlib.sha256).hexdigest()[:32]


def _load_account(user_id: int) -> models.User | None:
    with db.transaction(services(current_app).readers) as reader:
        return reader.scalar(
            select(models.User)
            .where(models.User.id == user_id)
            .options(selectinload(models.User.funded), joinedload(models.User.provider))
        )


@login_manager.user_loader
def load_user(session_id: str) -> Account | None:
    """Give the account of the session, or None when it is stale, foreign or disabled."""
    number, _, fingerprint = session_id.partition(".")
    if not number.isdigit():
        return None
    # "strong" protection, also for a permanent session (Flask-Login relaxes it for those, and
    # a browser that answered an open-link survey has a permanent one): a session used from
    # another address or browser is not signed in.
    if session.get("_id") != _identifier():
        return None
    signed_in_at = session.get("signed_in_at")
    if not isinstance(signed_in_at, int | float) or time.time() - signed_in_at > (
        SESSION_HOURS * 3600
    ):
        return None
    user = _load_account(int(number))
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(fingerprint, _fingerprint(user.password_hash)):
        return None
    return Account(user)


@login_manager.unauthorized_handler
def _unauthorized() -> ResponseReturnValue:
    return redirect_to_sign_in()


def redirect_to_sign_in() -> ResponseReturnValue:
    """Send an anonymous visitor to the sign-in page, to come back here afterwards."""
    target = None
    if request.method == "GET":
        target = request.full_path.rstrip("?")
    return redirect(url_for("auth.login", next=target) if target else url_for("auth.login"))


def safe_next(target: str | None) -> str | None:
    """Give `target` if it is a path on this site, else None (no open redirects)."""
    if not target or len(target) > 2000:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def signed_in() -> Account | None:
    """Give the signed-in account, or None."""
    if current_user.is_authenticated:
        account: Account = current_user._get_current_object()
        return account
    return None


def _page(status: int = 200, **context: Any) -> ResponseReturnValue:
    values: dict[str, Any] = {"email": "", "next": "", "errors": {}, **context}
    errors = values["errors"]
    return (
        render_template("auth/login.html", t=Words("en"), frame=None, error=bool(errors), **values),
        status,
        {"Retry-After": str(context["retry_after"])} if "retry_after" in context else {},
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the sign-in form, and sign in with an email address and password."""
    target = safe_next(request.values.get("next"))
    if signed_in() is not None:
        return redirect(target or url_for("console.index"), 303)
    if request.method == "GET":
        return _page(next=target or "")
    email = request.form.get("email", "").strip()[:EMAIL_LENGTH]
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter your email address"
    if not password:
        errors["password"] = "Enter your password"
    if errors:
        return _page(email=email, next=target or "", errors=errors)

    sessions = services(current_app)
    client, address = client_key(), _email_key(email.lower())
    with db.transaction(sessions.readers) as reader:
        limited = ratelimits.exceeded(reader, LOGIN_CLIENT, client) or ratelimits.exceeded(
            reader, LOGIN_EMAIL, address
        )
    if limited:
        wait = max(LOGIN_CLIENT.retry_after(utcnow()), LOGIN_EMAIL.retry_after(utcnow()))
        minutes = max(1, round(wait / 60))
        message = (
            "There have been too many attempts to sign in. "
            f"Wait {minutes} minute{'s' if minutes != 1 else ''} and try again"
        )
        return _page(
            429, email=email, next=target or "", errors={"email": message}, retry_after=wait
        )

    # The password check (tens of milliseconds of scrypt) runs outside the write transaction,
    # so that signing in never holds SQLite's write lock for that long.
    with sessions.readers() as reader:
        user = users.authenticate(reader, email, password[:PASSWORD_LENGTH])
        account_id = user.id if user is not None else None
        reader.rollback()
    with db.transaction(sessions.sessions) as writer:
        if account_id is None:
            ratelimits.hit(writer, LOGIN_CLIENT, client)
            ratelimits.hit(writer, LOGIN_EMAIL, address)
        else:
            writer.execute(
                update(models.User)
                .where(models.User.id == account_id)
                .values(last_login_at=utcnow())
            )
    found = _load_account(account_id) if account_id is not None else None
    if found is None or not found.active:
        return _page(email=email, next=target or "", errors={"email": BAD_SIGN_IN})
    session["signed_in_at"] = int(time.time())
    login_user(Account(found))
    return redirect(target or url_for("console.index"), 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out, and go back to the sign-in page."""
    logout_user()
    session.pop("signed_in_at", None)
    flash("You have signed out.")
    return redirect(url_for("auth.login"), 303)


def init_app(app: Flask) -> None:
    """Set up sign-in for the app."""
    login_manager.session_protection = "strong"
    login_manager._session_identifier_generator = _identifier
    login_manager.login_view = "auth.login"
    login_manager.init_app(app)
