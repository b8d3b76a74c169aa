"""Placement follow-ups and volunteer data protection: `tempcheck volunteers erase` and the
commands that run follow-ups and retention by hand (the dispatcher runs them on schedule)."""

from __future__ import annotations

import click
from sqlalchemy import select

from collector import audit, db, erasure, followups, models
from collector.commands.base import Context, local_time, pass_context, stop
from collector.models import utcnow


@click.command("erase")
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


@click.group("followups")
def followups_group() -> None:
    """Placement follow-ups (the dispatcher runs them on schedule)."""


@followups_group.command("run")
@pass_context
def followups_run(context: Context) -> None:
    """Follow up every placement due now, and remind unanswered follow-ups."""
    with db.transaction(context.sessions) as session:
        counts = followups.run(session, now=utcnow())
    click.echo(
        f"Followed up {counts.placements} placements: {counts.invitations} invitations, "
        f"{counts.queued} messages queued; {counts.reminders} reminders queued."
    )
    if counts.queued or counts.reminders:
        click.echo("Run `tempcheck dispatch` (or `tempcheck up`) to send them.")


def register(main: click.Group) -> None:
    """Add this module's commands to the `tempcheck` command groups."""
    volunteers = main.commands["volunteers"]
    assert isinstance(volunteers, click.Group)
    volunteers.add_command(erase)
    main.add_command(followups_group)
