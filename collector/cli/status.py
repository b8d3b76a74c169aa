"""`tempcheck status`: is tempcheck healthy? The same checks as the console's status page."""

from __future__ import annotations

import json
import logging
import sys

import click

from collector import db, health
from collector.cli.base import Context, pass_context

log = logging.getLogger(__name__)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_context
def status(context: Context, as_json: bool) -> None:
    """Check the database, the outbox, the dispatcher, the bot, backups and disk space.

    Exits 0 when every check is ok, 1 when one warns (for a monitoring script or a cron job).
    """
    settings = context.settings
    engine = context.engine
    problem = None
    if not health.database_reachable(engine, settings):
        problem = "the database cannot be reached (check DATABASE_URL, and that it is running)"
    else:
        current, head = db.current_revision(engine), db.head_revision()
        if current != head:
            problem = (
                f"the database's schema is at revision {current}, this tempcheck's at {head}: "
                "run `tempcheck init`"
            )
    if problem is not None:
        context.close()
        if as_json:
            click.echo(json.dumps({"state": health.WARNING, "database": problem}, indent=2))
        else:
            click.secho(f"warning  Database: {problem}", fg="yellow")
        sys.exit(1)
    with db.transaction(db.make_read_sessionmaker(engine)) as session:
        found = health.status(session, settings)
    context.close()
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
    else:
        click.echo(f"ok       Database: reachable, schema at revision {db.head_revision()}")
        for check in found.checks:
            colour = None if check.ok else "yellow"
            click.secho(f"{check.state:<8} {check.label}: {check.summary}", fg=colour)
    sys.exit(0 if found.ok else 1)
