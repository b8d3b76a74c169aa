"""`tempcheck backup` and `tempcheck restore`: a consistent copy while everything runs, checked,
and put back with the erasures made since re-applied."""

from __future__ import annotations

from pathlib import Path

import click

from collector import backup as backups
from collector.cli.base import Context, pass_context, stop

COUNTED_AS = {
    "organisations": "organisations",
    "responses": "responses",
    "answers": "answers",
    "outbox": "outbox messages",
}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(key, 0):,} {label}" for key, label in COUNTED_AS.items())


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")  # pragma: no cover


@click.command("backup")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the backup here (default: a new file named by the time in BACKUP_DIR).",
)
@click.option(
    "--verify",
    "verify",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Check a backup file instead: its checksum, its database's integrity, what it holds.",
)
@pass_context
def backup(context: Context, output: Path | None, verify: Path | None) -> None:
    """Back up the database while tempcheck keeps running (or check a backup, --verify)."""
    if verify is not None:
        if output is not None:
            stop("Give --output or --verify, not both")
        try:
            checked = backups.verify_backup(verify)
        except backups.BackupError as error:
            stop(str(error))
        manifest = checked.manifest
        click.echo(f"Backup:     {verify}")
        click.echo(f"Taken:      {manifest.created_at} by tempcheck {manifest.tempcheck_version}")
        click.echo(f"Database:   {manifest.database}, schema {manifest.schema_revision}")
        click.echo("Checksum:   ok")
        click.echo(f"Integrity:  {checked.integrity}")
        for key, label in COUNTED_AS.items():
            click.echo(f"{label.capitalize() + ':':<16}{checked.counts.get(key, 0):>8,}")
        if checked.integrity != "ok":
            stop("The backup's database is damaged: use another backup.")
        if checked.counts != manifest.counts:
            stop(f"The backup holds other counts than it recorded ({_counts(manifest.counts)}).")
        return
    target = output or backups.default_output(context.settings)
    try:
        manifest = backups.create_backup(context.engine, target)
    except backups.BackupError as error:
        stop(str(error))
    click.secho(f"Backed up to {target}", fg="green")
    click.echo(
        f"  schema {manifest.schema_revision}, tempcheck {manifest.tempcheck_version}, "
        f"{_size(manifest.payload_bytes)}, readable by its owner only"
    )
    click.echo(f"  {_counts(manifest.counts)}")


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--force", is_flag=True, help="Replace a database that holds data (everything in it goes)."
)
@pass_context
def restore(context: Context, file: Path, force: bool) -> None:
    """Restore a backup into an empty database, then erase again what was erased since."""
    try:
        done = backups.restore_backup(file, context.engine, context.settings, force=force)
    except backups.BackupError as error:
        stop(str(error))
    manifest = done.manifest
    click.secho(
        f"Restored {file} (taken {manifest.created_at} UTC, schema {manifest.schema_revision}).",
        fg="green",
    )
    click.echo(f"  {_counts(manifest.counts)}")
    if done.upgraded_to:
        click.echo(f"  Upgraded from schema {manifest.schema_revision} to {done.upgraded_to}.")
    click.echo(
        f"  Re-applied {done.reapplied} erasure{'' if done.reapplied == 1 else 's'} made after "
        f"the backup was taken ({done.registered} in the register of erasures)."
    )
