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
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

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
# A signed-in session ends this long after signing in, however busy it is (on the server).
SESSION_HOURS = 12
BAD_SIGN_IN = "The email address or password is not right"
EMAIL_LENGTH = 254
PASSWORD_LENGTH = 1024  # scrypt would take a long password; nobody needs one this long


class Account(UserMixin):
    """The signed-in person: their account row, loaded with the providers they may see."""

    def __init__(self, user: models.User, token: str) -> None:
        self.user = user
        self.token = token

    def get_id(self) -> str:
        """Give what the session cookie holds: the token of this browser's sign-in row.

        The row is on the server: signing out, a new password or deactivation deletes it, and
        a copy of the cookie opens nothing from then on.
        """
        return self.token

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


@login_manager.user_loader
def load_user(token: str) -> Account | None:
    """Give the account of the session, or None when it ended, is foreign or is disabled."""
    # "strong" protection, also for a permanent session (Flask-Login relaxes it for those, and
    # a browser that answered an open-link survey has a permanent one): a session used from
    # another address or browser is not signed in.
    if session.get("_id") != _identifier():
        return None
    with db.transaction(services(current_app).readers) as reader:
        user = users.signed_in_user(reader, token)
    return Account(user, token) if user is not None else None


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
    token = None
    with db.transaction(sessions.sessions) as writer:
        if account_id is None:
            ratelimits.hit(writer, LOGIN_CLIENT, client)
            ratelimits.hit(writer, LOGIN_EMAIL, address)
        else:
            account = writer.get(models.User, account_id)
            if account is not None and account.active:
                account.last_login_at = utcnow()
                token = users.start_sign_in(writer, account, hours=SESSION_HOURS)
    found = None
    if token is not None:
        with db.transaction(sessions.readers) as reader:
            found = users.signed_in_user(reader, token)
    if token is None or found is None:
        return _page(email=email, next=target or "", errors={"email": BAD_SIGN_IN})
    # A new CSRF secret for the signed-in session: no token from before signing in (which
    # someone else may have planted or seen) is good for a signed-in form.
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)
    login_user(Account(found, token))
    return redirect(target or url_for("console.index"), 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (ending this browser's sign-in on the server), and go back to the sign-in page."""
    account = signed_in()
    if account is not None:
        with db.transaction(services(current_app).sessions) as writer:
            users.end_sign_in(writer, account.token)
    logout_user()
    flash("You have signed out.")
    return redirect(url_for("auth.login"), 303)


def init_app(app: Flask) -> None:
    """Set up sign-in for the app."""
    login_manager.session_protection = "strong"
    login_manager._session_identifier_generator = _identifier
    login_manager.login_view = "auth.login"
    login_manager.init_app(app)
