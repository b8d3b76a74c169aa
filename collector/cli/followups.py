"""`tempcheck followups`: run placement follow-ups by hand (the dispatcher runs them on
schedule)."""

from __future__ import annotations

import click

from collector import db
from collector.cli.base import Context, pass_context
from collector.models import utcnow
from collector.volunteering import followups


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
