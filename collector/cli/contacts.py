"""`tempcheck contacts`: a provider's partners, commissioners and representatives (issue 15):
imported from CSV (all or nothing), listed, opted out and back in, and erased on request."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.orm import Session

from collector import audit, contacts, db, models
from collector.cli.base import (
    Context,
    import_csv_file,
    local_time,
    pass_context,
    provider_by_slug,
    stop,
    table,
)
from collector.segments import CONTACT_AUDIENCES


@click.group("contacts")
def group() -> None:
    """Import, list, opt out and erase contacts: partners, commissioners, representatives."""


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change.")
@pass_context
def contacts_import(context: Context, file: Path, provider_slug: str, dry_run: bool) -> None:
    """Import contacts from CSV (a known reference is updated): every row, or none if any is
    bad."""
    import_csv_file(
        context,
        file,
        provider_slug,
        plan=contacts.plan_import,
        apply=contacts.import_csv,
        dry_run=dry_run,
        action="contacts.import",
        noun="contacts",
    )


@group.command("list")
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@click.option(
    "--audience",
    type=click.Choice(list(CONTACT_AUDIENCES)),
    help="Only contacts of this audience.",
)
@pass_context
def contacts_list(context: Context, provider_slug: str, audience: str | None) -> None:
    """List a provider's contacts (erased ones by their id only)."""
    with context.sessions() as session:
        provider = provider_by_slug(session, provider_slug)
        rows, _ = contacts.search(session, provider.id, audience=audience, per_page=1_000_000)
        lines = [
            (
                c.id,
                c.external_ref,
                contacts.display_name(c),
                c.audience,
                c.organisation or "",
                ", ".join(ch for ch in contacts.CHANNELS if getattr(c, f"consent_{ch}")),
                "erased" if c.erased_at else ("opted out" if c.opted_out_at else ""),
            )
            for c in rows
        ]
    table(("id", "ref", "name", "audience", "organisation", "contact by", ""), lines)


def _contact(session: Session, contact_id: int) -> models.Contact:
    contact = session.get(models.Contact, contact_id, with_for_update=True)
    if contact is None:
        stop(f"No contact {contact_id}")
    return contact


@group.command("opt-out")
@click.argument("contact_id", type=int)
@pass_context
def contacts_opt_out(context: Context, contact_id: int) -> None:
    """Stop asking a contact (their unsent messages are cancelled; answers are kept)."""
    with db.transaction(context.sessions) as session:
        contact = _contact(session, contact_id)
        cancelled = contacts.opt_out(session, contact)
        audit.record(
            session,
            "contact.opt_out",
            actor=audit.command_line_actor(),
            provider_id=contact.provider_id,
            subject=contacts.subject(contact),
            details={"cancelled": cancelled},
        )
    click.secho(f"Contact {contact_id} opted out; {cancelled} unsent messages cancelled.")


@group.command("opt-in")
@click.argument("contact_id", type=int)
@pass_context
def contacts_opt_in(context: Context, contact_id: int) -> None:
    """Ask a contact again in future rounds."""
    with db.transaction(context.sessions) as session:
        contact = _contact(session, contact_id)
        if contact.erased_at is not None:
            stop(f"Contact {contact_id} was erased: add them again under a new reference")
        contacts.opt_in(contact)
        audit.record(
            session,
            "contact.opt_in",
            actor=audit.command_line_actor(),
            provider_id=contact.provider_id,
            subject=contacts.subject(contact),
        )
    click.secho(f"Contact {contact_id} will be asked again.")


@group.command("erase")
@click.argument("contact_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def contacts_erase(context: Context, contact_id: int, yes: bool) -> None:
    """Erase a contact who asks to be forgotten: their details go, their answers stay
    anonymous."""
    with db.transaction(context.sessions) as session:
        contact = _contact(session, contact_id)
        if contact.erased_at is not None:
            click.echo(
                f"Contact {contact_id} was erased on {local_time(contact.erased_at)}: "
                "nothing to do."
            )
            return
        provider = contact.provider.name
    if not yes:
        click.confirm(
            f"Erase contact {contact_id} of {provider}: name, email, consents and Telegram "
            "chats, for good? Their answers stay, without their name",
            abort=True,
        )
    with db.transaction(context.sessions) as session:
        contact = _contact(session, contact_id)
        done = contacts.erase_contact(session, contact)
        audit.record(
            session,
            "contact.erase",
            actor=audit.command_line_actor(),
            provider_id=contact.provider_id,
            subject=contacts.subject(contact),
            details={
                "chats": done.chats,
                "messages": done.messages,
                "cancelled": done.cancelled,
                "answers": done.answers,
            },
        )
    click.secho(f"Erased contact {contact_id}.", fg="green")
    click.echo(
        f"  Telegram chats removed: {done.chats}; messages blanked: {done.messages} "
        f"({done.cancelled} not yet sent, cancelled); free-text answers deleted: {done.answers}"
    )
