"""Staff and funder accounts: roles, hashed passwords, and who may see which provider.

Roles:
- `admin` sees and runs everything, and reads the audit log;
- `staff` belong to one provider and see only its organisations, rounds and results;
- `funder` read only, sees the providers it funds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from collector import models
from collector.errors import CollectorError, NotFound
from collector.models import utcnow

ROLES = ("admin", "staff", "funder")
MIN_PASSWORD_LENGTH = 10
# Longer is refused: the sign-in page reads no more than this (and scrypt would take it).
MAX_PASSWORD_LENGTH = 1024
# zxcvbn's score (0-4) a password must reach: 3 is "safely unguessable" (about 10^8 guesses and
# more), far past what the sign-in limits allow a guesser. zxcvbn reads at most 72 characters.
MIN_PASSWORD_SCORE = 3
_STRENGTH_READS = 72
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# scrypt, as OWASP suggests for it: N=2^15, r=8, p=1 (32 MiB, a few tens of ms per check).
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_SCRYPT_MAXMEM = 64 * 1024 * 1024


class UserError(CollectorError):
    """An account cannot be made or changed as asked."""

    code = "bad_user"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a random salt, as `scrypt$n$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=_SCRYPT_MAXMEM, **_SCRYPT)
    return _stored(salt, digest)


def _stored(salt: bytes, digest: bytes) -> str:
    n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, hashed: str) -> bool:
    """Tell whether `password` matches `hashed` (in constant time)."""
    try:
        scheme, n, r, p, salt, digest = hashed.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest + "==")
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.urlsafe_b64decode(salt + "=="),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Checked against when no account has the email, so a wrong email costs as long as a wrong
# password and response times do not tell which emails have accounts. A check costs one scrypt
# of the password whatever the stored digest is, so a random salt and digest (which no password
# matches) serve as well as a hashed random password and cost nothing to make: every CLI command
# imports this module, and computing a hash here made each one wait for scrypt.
_DUMMY_HASH = _stored(secrets.token_bytes(16), secrets.token_bytes(64))  # 64: scrypt's dklen


def check_password_strength(password: str, *, personal: Sequence[str] = ()) -> None:
    """Refuse a password that is too short, too long, or common or easy to guess.

    `personal` are words someone could guess it from: the account's email address and name.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"A password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"A password must be at most {MAX_PASSWORD_LENGTH} characters")
    from zxcvbn import zxcvbn  # its word lists take a while to load: only when a password is set

    words = [w for item in personal for w in re.split(r"[^\w]+", item.lower()) if len(w) > 2]
    result = zxcvbn(password[:_STRENGTH_READS], user_inputs=[*personal, *words, "tempcheck"])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return
    feedback = result["feedback"]
    why = feedback["warning"] or "It is too easy to guess."
    advice = " ".join(feedback["suggestions"]) or "Add another word or two."
    raise UserError(
        f"That password is too easy to guess: {why} {advice} "
        "Three or four words nobody would put together make a strong password."
    )


def normalise_email(email: str) -> str:
    """Give an email address as stored: trimmed and lower case; refuse one that is not."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise UserError(f"{email!r} is not an email address")
    return email


def check_new_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    provider: models.Provider | None = None,
    funded: Sequence[models.Provider] = (),
) -> str:
    """Refuse an account that cannot be made (before any password is asked); give the email."""
    email = normalise_email(email)
    if role not in ROLES:
        raise UserError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}")
    if role == "staff" and provider is None:
        raise UserError("A staff account belongs to a provider: name it")
    if role != "staff" and provider is not None:
        raise UserError(f"Only staff belong to a provider, not {role}s")
    if role == "funder" and not funded:
        raise UserError("A funder account needs the providers it funds")
    if role != "funder" and funded:
        raise UserError("Only funder accounts fund providers")
    if not name.strip():
        raise UserError("Give the account a name")
    if session.scalar(select(models.User.id).where(models.User.email == email)) is not None:
        raise UserError(f"There is already an account for {email}")
    return email


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    role: str,
    provider: models.Provider | None = None,
    funded: Sequence[models.Provider] = (),
) -> models.User:
    """Add an account; staff need their provider, funders the providers they fund."""
    email = check_new_user(
        session, email=email, name=name, role=role, provider=provider, funded=funded
    )
    check_password_strength(password, personal=[email, name])
    user = models.User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        provider=provider,
        funded=list(funded),
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> models.User:
    """Find an account by email (any case)."""
    user = session.scalar(
        select(models.User).where(func.lower(models.User.email) == email.strip().lower())
    )
    if user is None:
        raise NotFound(f"No account for {email.strip()}", code="no_user")
    return user


def set_password(session: Session, user: models.User, password: str) -> None:
    """Give an account a new password, and sign it out everywhere."""
    check_password_strength(password, personal=[user.email, user.name])
    user.password_hash = hash_password(password)
    end_sign_ins(session, user)


def deactivate(session: Session, user: models.User) -> None:
    """Stop an account from signing in, and sign it out everywhere (its history stays)."""
    user.active = False
    end_sign_ins(session, user)


def authenticate(session: Session, email: str, password: str) -> models.User | None:
    """Give the active account with this email and password, or None (without saying why)."""
    user = session.scalar(select(models.User).where(models.User.email == email.strip().lower()))
    if user is None:
        check_password(password, _DUMMY_HASH)
        return None
    if not check_password(password, user.password_hash) or not user.active:
        return None
    user.last_login_at = utcnow()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_sign_in(session: Session, user: models.User, *, hours: int) -> str:
    """Record a newly signed-in browser for `hours`; give the token its session cookie holds."""
    now = utcnow()
    # Housekeeping: sign-ins that ended by themselves go as new ones start.
    session.execute(delete(models.SignIn).where(models.SignIn.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        models.SignIn(
            user_id=user.id,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.flush()
    return token


def signed_in_user(session: Session, token: str) -> models.User | None:
    """Give the active account signed in with this token (providers loaded), or None."""
    if not token or len(token) > 100:
        return None
    return session.scalar(
        select(models.User)
        .join(models.SignIn, models.SignIn.user_id == models.User.id)
        .where(
            models.SignIn.token_hash == _token_hash(token),
            models.SignIn.expires_at > utcnow(),
            models.User.active.is_(True),
        )
        .options(selectinload(models.User.funded), joinedload(models.User.provider))
    )


def end_sign_in(session: Session, token: str) -> None:
    """Sign one browser out: its token opens nothing any more."""
    session.execute(delete(models.SignIn).where(models.SignIn.token_hash == _token_hash(token)))


def end_sign_ins(session: Session, user: models.User) -> int:
    """Sign an account out of every browser; give how many sign-ins ended."""
    result = session.execute(delete(models.SignIn).where(models.SignIn.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def visible_provider_ids(session: Session, user: models.User) -> list[int]:
    """List the ids of the providers this account may see."""
    if user.role == "admin":
        return list(session.scalars(select(models.Provider.id).order_by(models.Provider.id)))
    if user.role == "staff":
        return [user.provider_id] if user.provider_id is not None else []
    return sorted(p.id for p in user.funded)


def can_see(user: models.User, provider_id: int) -> bool:
    """Tell whether this account may see the provider's data (read)."""
    if not user.active:
        return False
    if user.role == "admin":
        return True
    if user.role == "staff":
        return user.provider_id == provider_id
    return any(p.id == provider_id for p in user.funded)


def can_run(user: models.User, provider_id: int) -> bool:
    """Tell whether this account may change the provider's data (organisations, rounds)."""
    if not user.active:
        return False
    return user.role == "admin" or (user.role == "staff" and user.provider_id == provider_id)
