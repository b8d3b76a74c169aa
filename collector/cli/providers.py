"""`tempcheck providers`: the CVSs and volunteer centres that use this tempcheck."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from collector import audit, db, models, providers
from collector.cli.base import Context, pass_context, stop, table
from collector.errors import CollectorError


@click.group("providers")
def group() -> None:
    """Add and list providers (CVSs, volunteer centres)."""


@group.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The provider's name, e.g. 'Harlow CVS'.")
@click.option("--kind", type=click.Choice(providers.KINDS), default="cvs", show_default=True)
@click.option("--district", help="The area it serves, e.g. Harlow.")
@pass_context
def providers_add(context: Context, slug: str, name: str, kind: str, district: str | None) -> None:
    """Add a provider; then add its staff with `tempcheck users add`."""
    with db.transaction(context.sessions) as session:
        try:
            provider = providers.create_provider(
                session, slug=slug, name=name, kind=kind, district=district
            )
        except CollectorError as error:
            stop(error.message)
        audit.record(session, "provider.add", provider_id=provider.id, subject=f"{provider.name}")
    click.echo(f"Added provider {provider.slug} ({provider.name}).")
    click.echo(
        f"Next: tempcheck users add EMAIL --name NAME --role staff --provider {provider.slug}"
    )


@group.command("list")
@pass_context
def providers_list(context: Context) -> None:
    """List the providers with their organisations and rounds."""
    with context.sessions() as session:
        org_count = (
            select(func.count(models.Organisation.id))
            .where(models.Organisation.provider_id == models.Provider.id)
            .scalar_subquery()
        )
        round_count = (
            select(func.count(models.Round.id))
            .where(models.Round.provider_id == models.Provider.id)
            .scalar_subquery()
        )
        rows = session.execute(
            select(
                models.Provider.slug,
                models.Provider.name,
                models.Provider.kind,
                models.Provider.district,
                org_count,
                round_count,
            ).order_by(models.Provider.slug)
        ).all()
    table(
        ["slug", "name", "kind", "district", "organisations", "rounds"],
        [[s, n, k, d or "", o, r] for s, n, k, d, o, r in rows],
    )
