"""`tempcheck volunteers`, `tempcheck placements` and `tempcheck enquiries`: a volunteer
centre's records, from which placement follow-ups are sent and VAL 24-28 are counted; and
`tempcheck volunteers erase`, a volunteer's data forgotten on request or past retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from sqlalchemy import func, select

from collector import audit, db, models
from collector.cli.base import Context, local_time, pass_context, provider_by_slug, stop, table
from collector.models import utcnow
from collector.volunteering import erasure
from collector.volunteering import volunteers as vols

provider_option = click.option(
    "--provider", "provider_slug", required=True, help="The provider's slug."
)
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Check the file and say what would change."
)
file_argument = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.group()
def volunteers() -> None:
    """Import, list and erase volunteers."""


@click.group()
def placements() -> None:
    """Add, import and list placements of volunteers with host groups."""


@click.group()
def enquiries() -> None:
    """Import and list volunteer enquiries."""


def _import(context: Context, kind: str, file: Path, provider_slug: str, dry_run: bool) -> None:
    """Import a CSV file of `kind` records: every row, or nothing if any row is bad."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        stop(f"{file} is not UTF-8 text: save it as 'CSV UTF-8' and try again")
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            if dry_run:
                plan = vols.plan_import(session, provider, kind, text)
            else:
                plan = vols.import_csv(session, provider, kind, text)
        except vols.CsvImportError as error:
            stop(str(error), [str(p) for p in error.problems])
        if not dry_run:
            audit.record(
                session,
                f"{kind}.import",
                actor=audit.command_line_actor(),
                provider_id=provider.id,
                subject=file.name,
                details={"added": len(plan.new), "updated": len(plan.updated)},
            )
    verb, again = ("Would add", "would update") if dry_run else ("Added", "updated")
    click.secho(
        f"{verb} {len(plan.new)} and {again} {len(plan.updated)} {kind} for {provider_slug}.",
        fg="green",
    )


@volunteers.command("import")
@file_argument
@provider_option
@dry_run_option
@pass_context
def volunteers_import(context: Context, file: Path, provider_slug: str, dry_run: bool) -> None:
    """Import volunteers from CSV (a known reference is updated): all rows or none."""
    _import(context, "volunteers", file, provider_slug, dry_run)


@volunteers.command("list")
@provider_option
@click.option("--district", help="Only volunteers in this district.")
@pass_context
def volunteers_list(context: Context, provider_slug: str, district: str | None) -> None:
    """List a provider's volunteers (erased ones by their id only)."""
    with context.sessions() as session:
        provider = provider_by_slug(session, provider_slug)
        rows, _ = vols.search_volunteers(
            session, provider.id, district=district, per_page=1_000_000
        )
        lines = [
            (
                v.id,
                v.external_ref,
                vols.display_name(v),
                v.district or "",
                v.consent_at.date().isoformat() if v.consent_at else "",
                ", ".join(c for c in vols.CHANNELS if getattr(v, f"consent_{c}")),
                len(v.placements),
                "erased" if v.erased_at else ("opted out" if v.opted_out_at else ""),
            )
            for v in rows
        ]
    table(("id", "ref", "name", "district", "consent", "contact by", "placements", ""), lines)


@placements.command("add")
@provider_option
@click.option("--volunteer", "volunteer_ref", required=True, help="The volunteer's reference.")
@click.option("--host", "host_ref", required=True, help="The host organisation's reference.")
@click.option("--role", required=True, help="The volunteering role, e.g. Befriender.")
@click.option("--starts", required=True, help="The start date, e.g. 2026-04-01.")
@click.option("--ref", "external_ref", default="", help="Your reference for the placement.")
@pass_context
def placements_add(
    context: Context,
    provider_slug: str,
    volunteer_ref: str,
    host_ref: str,
    role: str,
    starts: str,
    external_ref: str,
) -> None:
    """Add one placement of a volunteer with a host group, checked as an imported row is."""
    cells = {
        "external_ref": external_ref,
        "volunteer_ref": volunteer_ref,
        "host_ref": host_ref,
        "role": role,
        "start_date": starts,
    }
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            placement = vols.add_placement(session, provider, cells)
        except vols.RecordError as error:
            # The problems name the CSV's columns; say which option each one is.
            options = {
                "external_ref": "--ref",
                "volunteer_ref": "--volunteer",
                "host_ref": "--host",
                "role": "--role",
                "start_date": "--starts",
            }
            stop(
                str(error),
                [f"{options.get(p.column, p.column)}: {p.message}" for p in error.problems],
            )
        audit.record(
            session,
            "placement.add",
            actor=audit.command_line_actor(),
            provider_id=provider.id,
            subject=vols.subject(placement),
        )
        due = placement.starts_on + timedelta(days=provider.followup_days)
        message = (
            f"Added placement #{placement.id}: {volunteer_ref} with {host_ref} as {role}, "
            f"from {placement.starts_on.isoformat()}. Follow-ups are due on {due.isoformat()}."
        )
    click.secho(message, fg="green")


@placements.command("import")
@file_argument
@provider_option
@dry_run_option
@pass_context
def placements_import(context: Context, file: Path, provider_slug: str, dry_run: bool) -> None:
    """Import placements from CSV (a known reference is updated): all rows or none."""
    _import(context, "placements", file, provider_slug, dry_run)


@placements.command("list")
@provider_option
@click.option("--status", type=click.Choice(list(vols.STATUSES)), help="Only this status.")
@pass_context
def placements_list(context: Context, provider_slug: str, status: str | None) -> None:
    """List a provider's placements, newest first, with their follow-up status."""
    with context.sessions() as session:
        provider = provider_by_slug(session, provider_slug)
        rows, _ = vols.search_placements(session, provider.id, status=status, per_page=1_000_000)
        status_of = vols.followups(session, rows, provider.followup_days)
        lines = [
            (
                p.id,
                p.external_ref or "",
                p.volunteer.external_ref,
                p.organisation.external_ref,
                p.role,
                p.starts_on.isoformat(),
                vols.STATUSES[p.status] + (f" {p.ended_on.isoformat()}" if p.ended_on else ""),
                status_of[p.id].volunteer,
                status_of[p.id].host,
            )
            for p in rows
        ]
    table(
        ("id", "ref", "volunteer", "host", "role", "starts", "status", "volunteer asked", "host"),
        lines,
    )


@enquiries.command("import")
@file_argument
@provider_option
@dry_run_option
@pass_context
def enquiries_import(context: Context, file: Path, provider_slug: str, dry_run: bool) -> None:
    """Import volunteer enquiries from CSV (a known reference is updated): all rows or none."""
    _import(context, "enquiries", file, provider_slug, dry_run)


@enquiries.command("list")
@provider_option
@click.option("--outcome", type=click.Choice(list(vols.OUTCOMES)), help="Only this outcome.")
@pass_context
def enquiries_list(context: Context, provider_slug: str, outcome: str | None) -> None:
    """List a provider's enquiries, newest first, with a count by outcome."""
    with context.sessions() as session:
        provider = provider_by_slug(session, provider_slug)
        rows, total = vols.search_enquiries(
            session, provider.id, outcome=outcome, per_page=1_000_000
        )
        lines = [
            (
                e.id,
                e.external_ref or "",
                e.enquired_on.isoformat(),
                vols.SOURCES.get(e.source, e.source),
                e.district or "",
                vols.OUTCOMES.get(e.outcome, e.outcome),
                e.volunteer.external_ref if e.volunteer else "",
            )
            for e in rows
        ]
        enq = models.Enquiry
        counts = dict(
            session.execute(
                select(enq.outcome, func.count())
                .where(enq.provider_id == provider.id)
                .group_by(enq.outcome)
            ).all()
        )
    table(("id", "ref", "date", "source", "district", "outcome", "volunteer"), lines)
    click.echo(
        f"{total} enquir{'y' if total == 1 else 'ies'}"
        + (
            ": "
            + ", ".join(f"{counts[k]} {v.lower()}" for k, v in vols.OUTCOMES.items() if k in counts)
            if counts and not outcome
            else "."
        )
    )


# Erasure ----------------------------------------------------------------------------------------


@volunteers.command("erase")
@click.argument("volunteer_id", type=int, required=False)
@click.option(
    "--expired",
    is_flag=True,
    help="Erase every volunteer past their provider's retention period (as the dispatcher does).",
)
@click.option("--dry-run", is_flag=True, help="With --expired: list whom, and erase nobody.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def erase(
    context: Context, volunteer_id: int | None, expired: bool, dry_run: bool, yes: bool
) -> None:
    """Erase a volunteer's personal details (a request to be forgotten); answers stay, anonymous.

    VOLUNTEER_ID is the number the console shows (`tempcheck volunteers list`).
    """
    if expired == (volunteer_id is not None):
        stop("Give a volunteer's number, or --expired for everyone past the retention period")
    if dry_run and not expired:
        stop("--dry-run goes with --expired")
    if expired:
        _erase_expired(context, dry_run)
        return
    assert volunteer_id is not None
    with db.transaction(context.sessions) as session:
        volunteer = session.get(models.Volunteer, volunteer_id)
        if volunteer is None:
            stop(f"No volunteer {volunteer_id}")
        if volunteer.erased_at is not None:
            click.echo(
                f"Volunteer {volunteer_id} was erased on {local_time(volunteer.erased_at)}: "
                "nothing to do."
            )
            return
        provider = volunteer.provider.name
    if not yes:
        click.confirm(
            f"Erase volunteer {volunteer_id} of {provider}: name, email, consents and "
            "Telegram chats, for good? Their answers stay, without their name",
            abort=True,
        )
    with db.transaction(context.sessions) as session:
        volunteer = session.get(models.Volunteer, volunteer_id, with_for_update=True)
        assert volunteer is not None
        done = erasure.erase_volunteer(session, volunteer)
        audit.record(
            session,
            "volunteer.erase",
            actor=audit.command_line_actor(),
            provider_id=volunteer.provider_id,
            subject=f"volunteer {volunteer_id}",
            details={
                "reason": "request",
                "chats": done.chats,
                "messages": done.messages,
                "cancelled": done.cancelled,
                "answers": done.answers,
            },
        )
    click.secho(f"Erased volunteer {volunteer_id}.", fg="green")
    click.echo(
        f"  Telegram chats removed: {done.chats}; messages blanked: {done.messages} "
        f"({done.cancelled} not yet sent, cancelled); free-text answers deleted: {done.answers}"
    )
    click.echo("  Their placements and other answers stay, as anonymous rows: KPIs are unchanged.")


def _erase_expired(context: Context, dry_run: bool) -> None:
    """Erase (or list) every volunteer past their provider's retention period."""
    now = utcnow()
    with db.transaction(context.sessions) as session:
        if dry_run:
            lines = []
            for provider in session.scalars(select(models.Provider).order_by(models.Provider.slug)):
                for volunteer in session.scalars(erasure.expired_query(provider, now=now)):
                    lines.append(
                        f"volunteer {volunteer.id} of {provider.slug} (retention "
                        f"{provider.volunteer_retention_days} days)"
                    )
            click.echo(f"{len(lines)} volunteers are past their retention period (none erased):")
            for line in lines:
                click.echo(f"  {line}")
            return
        erased = erasure.sweep(session, now=now, actor=audit.command_line_actor())
    click.secho(f"Erased {erased} volunteers past their retention period.", fg="green")
