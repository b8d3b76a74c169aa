"""`tempcheck users`: staff, funder and admin accounts, from the command line.

A password is never an argument (it would stay in the shell's history and show in `ps`): it is
typed twice without echo, or read from standard input with `--password-stdin` for scripts.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from collector import audit, db, models, users
from collector.cli.base import Context, local_time, pass_context, provider_by_slug, stop, table
from collector.delivery import chats
from collector.errors import CollectorError


@click.group("users")
def group() -> None:
    """Add, list and change the accounts that sign in to the console."""


@group.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The person's name, as shown in the console.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(users.ROLES),
    help="admin: everything; staff: one provider; funder: read-only, the providers it funds.",
)
@click.option("--provider", "provider_slug", help="The staff member's provider (slug).")
@click.option(
    "--funds",
    "funds",
    multiple=True,
    metavar="SLUG",
    help="A provider the funder funds (repeat, or separate with commas).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def users_add(
    context: Context,
    email: str,
    name: str,
    role: str,
    provider_slug: str | None,
    funds: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Add an account; asks for its password twice (hidden)."""
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug) if provider_slug else None
        slugs = [s.strip() for item in funds for s in item.split(",") if s.strip()]
        funded = [provider_by_slug(session, slug) for slug in dict.fromkeys(slugs)]
        try:
            # Every check that needs no password first, so nobody types one for nothing.
            users.check_new_user(
                session, email=email, name=name, role=role, provider=provider, funded=funded
            )
            password = _read_password(password_stdin)
            user = users.create_user(
                session,
                email=email,
                name=name,
                password=password,
                role=role,
                provider=provider,
                funded=funded,
            )
        except CollectorError as error:
            stop(error.message)
        audit.record(
            session,
            "user.add",
            actor=audit.command_line_actor(),
            provider_id=user.provider_id,
            subject=f"user {user.id} ({user.email})",
            details={"role": role, "funds": [p.slug for p in funded]},
        )
        sees = _sees(user)
    click.secho(f"Added {role} {user.email} ({sees}).", fg="green")


@group.command("list")
@pass_context
def users_list(context: Context) -> None:
    """List the accounts: role, what each sees, and when each last signed in."""
    with context.sessions() as session:
        rows = [
            (
                user.email,
                user.name,
                user.role,
                _sees(user),
                "yes" if user.active else "no",
                local_time(user.last_login_at) if user.last_login_at else "never",
            )
            for user in session.scalars(
                select(models.User)
                .options(selectinload(models.User.provider), selectinload(models.User.funded))
                .order_by(models.User.role, models.User.email)
            )
        ]
    table(("email", "name", "role", "provider / funds", "active", "last sign-in"), rows)


@group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def users_set_password(context: Context, email: str, password_stdin: bool) -> None:
    """Give an account a new password (signing it out everywhere); asks for it twice (hidden)."""
    with db.transaction(context.sessions) as session:
        user = _user(session, email)
        try:
            users.set_password(session, user, _read_password(password_stdin))
        except CollectorError as error:
            stop(error.message)
        audit.record(
            session,
            "user.set_password",
            actor=audit.command_line_actor(),
            provider_id=user.provider_id,
            subject=f"user {user.id} ({user.email})",
        )
    click.secho(f"New password set for {user.email}; it is signed out everywhere.", fg="green")


@group.command("deactivate")
@click.argument("email")
@pass_context
def users_deactivate(context: Context, email: str) -> None:
    """Stop an account from signing in, and sign it out everywhere (its history stays)."""
    _set_active(context, email, active=False)


@group.command("activate")
@click.argument("email")
@pass_context
def users_activate(context: Context, email: str) -> None:
    """Let a deactivated account sign in again."""
    _set_active(context, email, active=True)


@group.command("link-telegram")
@click.argument("email")
@pass_context
def users_link_telegram(context: Context, email: str) -> None:
    """Print a one-time code that links the account's Telegram chat to the bot."""
    with db.transaction(context.sessions) as session:
        user = _user(session, email)
        if not user.active:
            stop(f"{user.email} is deactivated: activate it first (nothing changed)")
        code = chats.new_link_code(session, user)
        expires_at = user.telegram_code_expires_at
        assert expires_at is not None
        # The code itself is never logged: whoever reads the log could link a chat with it.
        audit.record(
            session,
            "user.telegram_code",
            actor=audit.command_line_actor(),
            provider_id=user.provider_id,
            subject=f"user {user.id} ({user.email})",
        )
    bot = context.settings.telegram_bot_username
    where = f"the bot @{bot.lstrip('@')}" if bot else "the tempcheck bot"
    click.secho(f"Telegram code for {user.email}: {code}", fg="green", bold=True)
    click.echo(f"In Telegram, send {where} this message: /link {code}")
    click.echo(
        f"The code works once, until {local_time(expires_at)} (UK time); a new code replaces it."
    )


def _set_active(context: Context, email: str, *, active: bool) -> None:
    word = "active" if active else "deactivated"
    with db.transaction(context.sessions) as session:
        user = _user(session, email)
        if user.active == active:
            click.echo(f"{user.email} is already {word}: nothing changed.")
            return
        if active:
            user.active = True
        else:
            users.deactivate(session, user)
        audit.record(
            session,
            "user.activate" if active else "user.deactivate",
            actor=audit.command_line_actor(),
            provider_id=user.provider_id,
            subject=f"user {user.id} ({user.email})",
        )
    if active:
        click.secho(f"{user.email} may sign in again.", fg="green")
    else:
        click.secho(
            f"{user.email} is deactivated, signed out everywhere, and can no longer sign in.",
            fg="green",
        )


def _read_password(from_stdin: bool) -> str:
    """Read a password without echo (asked twice), or one line of standard input."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            stop("No password on standard input")
        return password
    first = click.prompt("Password", hide_input=True, default="", show_default=False)
    second = click.prompt("Password again", hide_input=True, default="", show_default=False)
    if first != second:
        stop("The two passwords do not match: nothing was saved")
    return str(first)


def _user(session: Session, email: str) -> models.User:
    try:
        return users.user_by_email(session, email)
    except CollectorError as error:
        stop(f"{error.message} (see `tempcheck users list`)")
        raise AssertionError from error  # stop() exits


def _sees(user: models.User) -> str:
    if user.role == "admin":
        return "every provider"
    if user.role == "staff":
        return user.provider.slug if user.provider is not None else "(no provider)"
    return "funds " + ", ".join(sorted(p.slug for p in user.funded))
