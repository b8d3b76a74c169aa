"""`tempcheck api`: tokens for the read-only JSON API (admins' work: run on the server).

A token is shown once, when it is made; the database keeps only its hash. Making and revoking
one is audited (which token, whose view, never the token itself).
"""

from __future__ import annotations

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import apitokens, audit, models
from collector.cli.base import Context, local_time, pass_context, provider_by_slug, stop, table


@click.group("api")
def group() -> None:
    """Tokens for the read-only JSON API (/api/v1)."""


def _whose(
    session: Session, provider_slug: str | None, funder_email: str | None
) -> tuple[models.Provider | None, models.User | None]:
    """Give the provider or the funder's account a token or webhook is for (stop if unknown)."""
    provider = provider_by_slug(session, provider_slug) if provider_slug else None
    funder = None
    if funder_email:
        funder = session.scalar(
            select(models.User).where(models.User.email == funder_email.strip().lower())
        )
        if funder is None:
            stop(f"No account {funder_email} (see `tempcheck users list`)")
    return provider, funder


@group.command("create-token")
@click.option("--name", required=True, help="What uses it, e.g. 'council dashboard'.")
@click.option("--provider", "provider_slug", help="A staff token: this provider's view.")
@click.option("--funder", "funder_email", help="A funder token: this funder account's view.")
@pass_context
def create_token(
    context: Context, name: str, provider_slug: str | None, funder_email: str | None
) -> None:
    """Make a token with a provider's staff view or a funder's view; it is shown once."""
    if (provider_slug is None) == (funder_email is None):
        stop("Give one of --provider SLUG (a staff token) or --funder EMAIL (a funder token)")
    with context.sessions() as session:
        provider, funder = _whose(session, provider_slug, funder_email)
        try:
            row, token = apitokens.create_token(
                session,
                name=name,
                provider=provider,
                funder=funder,
                created_by=audit.command_line_actor(),
            )
        except apitokens.TokenError as error:
            stop(error.message)
        audit.record(
            session,
            "api.token_create",
            provider_id=row.provider_id,
            subject=f"API token {row.id} ({row.prefix}...)",
            details={"role": row.role, "name": row.name},
        )
        session.commit()
        whose = provider_slug or funder_email
    click.secho(f"API token {row.id} ({row.role}, {whose}): {token}", fg="green")
    click.echo("Copy it now: it is not shown again. Send it as `Authorization: Bearer <token>`.")


@group.command("tokens")
@pass_context
def list_tokens(context: Context) -> None:
    """List the API tokens (never the tokens themselves)."""
    with context.sessions() as session:
        rows = [
            (
                str(t.id),
                f"{t.prefix}...",
                t.name,
                t.role,
                t.provider.slug if t.provider else (t.user.email if t.user else "-"),
                local_time(t.created_at),
                local_time(t.last_used_at) if t.last_used_at else "never",
                "revoked " + local_time(t.revoked_at) if t.revoked_at else "active",
            )
            for t in apitokens.tokens(session)
        ]
    if not rows:
        click.echo("No API tokens yet: `tempcheck api create-token --help`.")
        return
    table(("id", "token", "name", "role", "view of", "made", "last used", "status"), rows)


@group.command("revoke")
@click.argument("token_id", type=int)
@pass_context
def revoke(context: Context, token_id: int) -> None:
    """Revoke a token: it stops working at once."""
    with context.sessions() as session:
        try:
            row = apitokens.revoke(session, token_id)
        except apitokens.TokenError as error:
            stop(error.message)
        audit.record(
            session,
            "api.token_revoke",
            provider_id=row.provider_id,
            subject=f"API token {row.id} ({row.prefix}...)",
        )
        session.commit()
    click.secho(f"Revoked API token {token_id}.", fg="green")


@group.command("add-webhook")
@click.argument("url")
@click.option(
    "--events",
    required=True,
    help="Comma-separated: report.published, round.closed, response.completed (a provider's "
    "own webhooks only).",
)
@click.option("--provider", "provider_slug", help="The provider's events.")
@click.option("--funder", "funder_email", help="The events of the providers a funder funds.")
@pass_context
def add_webhook(
    context: Context, url: str, events: str, provider_slug: str | None, funder_email: str | None
) -> None:
    """Tell an HTTPS address of events; its signing secret is shown once."""
    from collector.delivery import webhooks

    if (provider_slug is None) == (funder_email is None):
        stop("Give one of --provider SLUG or --funder EMAIL")
    with context.sessions() as session:
        provider, funder = _whose(session, provider_slug, funder_email)
        try:
            row, secret = webhooks.add_webhook(
                session,
                url=url,
                events=[e.strip() for e in events.split(",") if e.strip()],
                provider=provider,
                funder=funder,
                created_by=audit.command_line_actor(),
            )
        except webhooks.WebhookError as error:
            stop(error.message)
        audit.record(
            session,
            "api.webhook_add",
            provider_id=row.provider_id,
            subject=f"webhook {row.id}",
            details={"events": row.events},
        )
        session.commit()
    click.secho(f"Webhook {row.id} for {', '.join(row.events)}; its signing secret: {secret}")
    click.echo("Copy the secret now: it is not shown again (see the README on checking it).")


@group.command("webhooks")
@pass_context
def list_webhooks(context: Context) -> None:
    """List the webhooks (never their secrets)."""
    with context.sessions() as session:
        rows = [
            (
                str(h.id),
                h.url,
                ", ".join(h.events),
                h.provider.slug if h.provider else (h.user.email if h.user else "-"),
                "removed " + local_time(h.removed_at) if h.removed_at else "active",
            )
            for h in session.scalars(select(models.Webhook).order_by(models.Webhook.id))
        ]
    if not rows:
        click.echo("No webhooks yet: `tempcheck api add-webhook --help`.")
        return
    table(("id", "address", "events", "for", "status"), rows)


@group.command("remove-webhook")
@click.argument("webhook_id", type=int)
@pass_context
def remove_webhook(context: Context, webhook_id: int) -> None:
    """Remove a webhook: nothing more is sent to it."""
    from collector.delivery import webhooks

    with context.sessions() as session:
        try:
            row = webhooks.remove(session, webhook_id)
        except webhooks.WebhookError as error:
            stop(error.message)
        audit.record(
            session, "api.webhook_remove", provider_id=row.provider_id, subject=f"webhook {row.id}"
        )
        session.commit()
    click.secho(f"Removed webhook {webhook_id}.", fg="green")
