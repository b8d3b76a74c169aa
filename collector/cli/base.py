"""What every command shares: the context (settings and database), failing, tables."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from collector import audit, db, models
from collector.config import Settings
from collector.localtime import LONDON

# Staff think in UK dates and times: shown in London time, stored in UTC.


class Context:
    """What every command gets: the settings, and a database opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._factory: sessionmaker[Session] | None = None
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """Give the engine, made on first use."""
        if self._engine is None:
            self._engine = db.make_engine(self.settings)
        return self._engine

    def close(self) -> None:
        """Close the database connections this command opened."""
        if self._engine is not None:
            self._engine.dispose()

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Give the session factory, upgrading the schema first if it is behind."""
        if self._factory is None:
            if db.current_revision(self.engine) != db.head_revision():
                db.upgrade(self.engine)
            self._factory = db.make_sessionmaker(self.engine)
        return self._factory

    @property
    def service_sessions(self) -> sessionmaker[Session]:
        """Give the session factory for a long-running process (web server, bot, dispatcher):
        stop, naming the command that fixes it, when the schema is behind or ahead of the code."""
        if self._factory is None:
            try:
                db.check_schema(self.engine)
            except db.SchemaMismatch as error:
                stop(str(error))
            self._factory = db.make_sessionmaker(self.engine)
        return self._factory

    @property
    def read_sessions(self) -> sessionmaker[Session]:
        """Give a factory for sessions that only read (on SQLite they take no write lock)."""
        return db.make_read_sessionmaker(self.sessions.kw["bind"])


pass_context = click.make_pass_decorator(Context)


def fail(message: str, lines: Sequence[str] = ()) -> None:
    click.secho(message, fg="red", err=True)
    for line in lines:
        click.echo(f"  {line}", err=True)
    sys.exit(1)


def stop(message: str, lines: Sequence[str] = ()) -> NoReturn:
    """Print a problem and exit with status 1 (the transaction around it rolls back)."""
    fail(message, lines)
    raise AssertionError("fail() exits")  # pragma: no cover


def provider_by_slug(session: Session, slug: str) -> models.Provider:
    """Find a provider by slug, or stop naming the ones there are."""
    provider = session.scalar(select(models.Provider).where(models.Provider.slug == slug))
    if provider is None:
        known = session.scalars(select(models.Provider.slug).order_by(models.Provider.slug)).all()
        stop(
            f"No provider called {slug!r}"
            + (f": known providers are {', '.join(known)}" if known else ": there are none yet")
        )
    return provider


def local_time(moment: datetime) -> str:
    """Show a stored UTC time as a UK date and time."""
    return moment.astimezone(LONDON).strftime("%Y-%m-%d %H:%M")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows as an aligned table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, row, strict=True)]
    click.secho(
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), bold=True
    )
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(none)")


# The names cli.py has always used.
_fail = fail
_table = table


# `tempcheck serve` and `up` run one web worker (process) per core, up to this many.
MOST_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """One web worker per core, up to MOST_DEFAULT_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MOST_DEFAULT_WORKERS))


ImportStep = Callable[[Session, models.Provider, str], Any]


def import_csv_file(
    context: Context,
    file: Path,
    provider_slug: str,
    *,
    plan: ImportStep,
    apply: ImportStep,
    dry_run: bool,
    action: str,
    noun: str,
) -> None:
    """Run a provider's all-or-nothing CSV import from the command line: read the file as UTF-8,
    plan it (`--dry-run`) or apply it and audit it as `action`, list every problem or say how
    many `noun` were (or would be) added and updated."""
    from collector.organisations import CsvImportError

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        stop(f"{file} is not UTF-8 text: save it as 'CSV UTF-8' and try again")
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            done = plan(session, provider, text) if dry_run else apply(session, provider, text)
        except CsvImportError as error:
            stop(str(error), [str(p) for p in error.problems])
        if not dry_run:
            audit.record(
                session,
                action,
                actor=audit.command_line_actor(),
                provider_id=provider.id,
                subject=file.name,
                details={"added": len(done.new), "updated": len(done.updated)},
            )
    verb, again = ("Would add", "would update") if dry_run else ("Added", "updated")
    click.secho(
        f"{verb} {len(done.new)} and {again} {len(done.updated)} {noun} for {provider_slug}.",
        fg="green",
    )
