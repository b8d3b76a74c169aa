"""Signing in and out for staff and funders (Flask-Login over `collector.users`).

No page says whether an email address has an account: a wrong address and a wrong password
get the same message, take about as long (`users.authenticate` checks a dummy hash), and count
against the same limits. Failed attempts are counted in SQL, so every worker shares the counts;
past a limit even the right password is refused until the window ends, or the limit would not
slow a guesser down.

The limits keep guessing slow without letting a stranger lock the real person out:

- a browser that has signed in to an account before carries a signed device cookie naming
  it (by a keyed hash of its email address); its failures for that account count against
  that browser alone (LOGIN_DEVICE), so nobody else's failures ever hold it up;
- any other browser's failures count per client and account together (LOGIN_ACCOUNT_CLIENT:
  one stranger stops themselves, not the account), per client (LOGIN_CLIENT: one client
  trying many accounts), and per account from all such clients (LOGIN_ACCOUNT, looser: many
  clients guessing one account). A stranger who uses up the last one holds up only new
  browsers; the person's own keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
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
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from collector import db, models, users
from collector.delivery import ratelimits
from collector.models import utcnow
from forms import services
from forms.security import client_key
from forms.text import Words

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

# Failed sign-ins from a browser new to the account: tight per client and account together,
# generous per client (an office shares one address), looser per account (many clients).
LOGIN_ACCOUNT_CLIENT = ratelimits.Limit(
    "login_account_client", limit=10, window=timedelta(minutes=15)
)
LOGIN_CLIENT = ratelimits.Limit("login_client", limit=30, window=timedelta(minutes=15))
LOGIN_ACCOUNT = ratelimits.Limit("login_account", limit=50, window=timedelta(minutes=15))
# Failed sign-ins from a browser that has signed in to the account before: its own count.
LOGIN_DEVICE = ratelimits.Limit("login_device", limit=10, window=timedelta(minutes=15))
# The device cookie: how long a browser stays known, and how many accounts it remembers.
DEVICE_DAYS = 90
DEVICE_ACCOUNTS = 5
# A signed-in session ends this long after signing in, however busy it is (on the server).
SESSION_HOURS = 12
BAD_SIGN_IN = "The email address or password is not right"
EMAIL_LENGTH = 254
PASSWORD_LENGTH = users.MAX_PASSWORD_LENGTH  # a longer password cannot be set


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


def _pair_key(address: str, other: str) -> str:
    """Key a count by an account and a client or device together (keyed, like the others)."""
    secret = current_app.config["SECRET_KEY"].encode()
    data = f"pair:{address}:{other}".encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:32]


def _device_cookie_name() -> str:
    secure = bool(current_app.config["SESSION_COOKIE_SECURE"])
    return "__Host-tempcheck-device" if secure else "tempcheck-device"


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="tempcheck-device")


def _device() -> tuple[str, list[str]] | None:
    """Give this browser's device id and the accounts (keyed hashes) it has signed in to."""
    raw = request.cookies.get(_device_cookie_name())
    if not raw or len(raw) > 1000:
        return None
    try:
        data = _device_serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:  # forged, altered, or older than DEVICE_DAYS
        return None
    if not isinstance(data, dict):
        return None
    device, accounts = data.get("d"), data.get("a")
    if not isinstance(device, str) or not isinstance(accounts, list):
        return None
    return device, [a for a in accounts if isinstance(a, str)]


def _remember_device(response: Response, address: str) -> None:
    """Mark this browser as one that has signed in to the account, for DEVICE_DAYS."""
    known = _device()
    device = known[0] if known is not None else secrets.token_urlsafe(16)
    accounts = [address] + [a for a in (known[1] if known else []) if a != address]
    value = _device_serializer().dumps({"d": device, "a": accounts[:DEVICE_ACCOUNTS]})
    response.set_cookie(
        _device_cookie_name(),
        value,
        max_age=DEVICE_DAYS * 86400,
        path="/",
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        httponly=True,
        samesite="Lax",
    )


def _limits(address: str) -> list[tuple[ratelimits.Limit, str]]:
    """Give the limits (and the key each counts by) that a failed sign-in counts against."""
    device = _device()
    if device is not None and address in device[1]:
        return [(LOGIN_DEVICE, _pair_key(address, "device:" + device[0]))]
    client = client_key()
    return [
        (LOGIN_ACCOUNT_CLIENT, _pair_key(address, client)),
        (LOGIN_CLIENT, client),
        (LOGIN_ACCOUNT, address),
    ]


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
    address = _email_key(email.lower())
    limits = _limits(address)
    with db.transaction(sessions.readers) as reader:
        limited = [limit for limit, key in limits if ratelimits.exceeded(reader, limit, key)]
    if limited:
        wait = max(limit.retry_after(utcnow()) for limit in limited)
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
            for limit, key in limits:
                ratelimits.hit(writer, limit, key)
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
    response = redirect(target or url_for("console.index"), 303)
    _remember_device(response, address)
    return response


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
