"""The `tempcheck` command: what operators and staff do that has no page yet.

This is the one composition root of the collector: commands that need other packages import
them inside the command.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import func, select

from collector import audit, db, flow, models, organisations
from collector.cli.base import Context, _fail, _table, default_workers, pass_context
from collector.config import Settings
from collector.errors import CollectorError
from collector.rounds import invitation_by_token, redact_token
from collector.survey.loader import SurveyDefinitionError, library_surveys, load_survey


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """tempcheck: feedback from VCS groups, turned into the KPIs funders ask for."""
    try:
        ctx.obj = Context(Settings.from_env())
    except CollectorError as error:
        _fail(f"Configuration problem: {error}")
    ctx.call_on_close(ctx.obj.close)


@main.command()
@pass_context
def init(context: Context) -> None:
    """Create the database, or upgrade it to the newest schema."""
    engine = context.engine
    before = db.current_revision(engine)
    db.upgrade(engine)
    after = db.current_revision(engine)
    if before == after:
        click.echo(f"Database is up to date (schema {after}).")
    else:
        click.echo(f"Database upgraded from {before or 'nothing'} to schema {after}.")


# Surveys ----------------------------------------------------------------------------------


@main.group()
def surveys() -> None:
    """List, show and check survey definitions."""


@surveys.command("list")
def surveys_list() -> None:
    """List the built-in surveys."""
    rows = [
        (
            s.id,
            str(s.version),
            s.title.get("en"),
            str(len(s.answerable_questions())),
            ", ".join(s.language_names()),
            f"~{s.minutes} min",
        )
        for s in library_surveys().values()
    ]
    _table(("survey", "version", "title", "questions", "languages", "time"), rows)


@surveys.command("show")
@click.argument("survey_id")
@click.option("--language", default="en", show_default=True)
def surveys_show(survey_id: str, language: str) -> None:
    """Show a built-in survey's questions, or those of a YAML file."""
    try:
        path = Path(survey_id)
        survey = (
            load_survey(path)
            if path.suffix in (".yaml", ".yml")
            else (library_surveys()[survey_id])
        )
    except KeyError:
        _fail(f"No built-in survey called {survey_id!r} (see `tempcheck surveys list`)")
        return
    except SurveyDefinitionError as error:
        _fail(str(error), error.problems)
        return
    click.secho(f"{survey.title.get(language)} ({survey.id} v{survey.version})", bold=True)
    for n, q in enumerate(survey.questions, 1):
        required = "" if q.required or not q.answerable else " (optional)"
        click.echo(f"{n:>2}. [{q.type}] {q.id}{required}: {q.label.get(language)}")
        if q.relevant:
            click.secho(f"      only if {q.relevant}", fg="cyan")
        for c in q.choices:
            click.echo(f"      - {c.value}: {c.label.get(language)}")
        if q.constraint:
            click.secho(f"      must satisfy {q.constraint}", fg="cyan")


@surveys.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def surveys_validate(file: Path) -> None:
    """Check a survey definition file and list every problem."""
    try:
        survey = load_survey(file)
    except SurveyDefinitionError as error:
        _fail(f"{file}: {len(error.problems)} problem(s)", error.problems)
        return
    click.secho(
        f"{file}: OK, {survey.id} v{survey.version}, "
        f"{len(survey.answerable_questions())} questions, "
        f"languages {', '.join(survey.language_names())}",
        fg="green",
    )


@surveys.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", type=click.IntRange(min=1), help="Store it as this version.")
@click.option("--dry-run", is_flag=True, help="Check and report only; store nothing.")
@pass_context
def surveys_import(context: Context, file: Path, version: int | None, dry_run: bool) -> None:
    """Import an XLSForm (.xlsx or .xls) as a survey, listing what could not be imported."""
    from collector.survey.store import SurveyChanged, register
    from collector.survey.xlsform import import_survey

    try:
        imported = import_survey(file.read_bytes(), file.name, version=version)
    except SurveyDefinitionError as error:
        _fail(f"{file}: not imported, {len(error.problems)} problem(s)", error.problems)
        return
    survey = imported.survey
    if imported.notes:
        click.secho(f"Not imported from {file.name} ({len(imported.notes)}):", fg="yellow")
        for note in imported.notes:
            click.echo(f"  {note}")
    summary = (
        f"{survey.id} v{survey.version}, {len(survey.answerable_questions())} questions, "
        f"languages {', '.join(survey.language_names())}"
    )
    if dry_run:
        click.secho(f"{file}: OK ({summary}); nothing stored (--dry-run)", fg="green")
        return
    with context.sessions() as session:
        try:
            row = register(session, survey)
        except SurveyChanged as error:
            _fail(f"{file}: not imported. {error.message} (--version N)")
            return
        audit.record(
            session,
            "survey.import",
            subject=f"{survey.id} v{survey.version}",
            details={"notes": len(imported.notes)},
        )
        session.commit()
        click.secho(f"Imported {summary} (stored survey {row.id}).", fg="green")


@surveys.command("export")
@click.argument("survey_id")
@click.option("--format", "format_", type=click.Choice(["xlsx"]), default="xlsx", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@pass_context
def surveys_export(context: Context, survey_id: str, format_: str, out: Path, force: bool) -> None:
    """Write a survey as an XLSForm: a built-in one (its id), or a stored one (ID or ID:VERSION)."""
    from collector.survey.xlsform import find_survey, write_xlsform

    if out.exists() and not force:
        _fail(f"{out} already exists: choose another file, or add --force to overwrite it")
    with context.sessions() as session:
        survey = find_survey(session, survey_id)
    if survey is None:
        _fail(f"No survey {survey_id!r} (built-in: `tempcheck surveys list`; or a stored one)")
        return
    try:
        out.write_bytes(write_xlsform(survey))
    except OSError as error:
        _fail(f"Could not write {out}: {error.strerror}")
    click.secho(f"Wrote {survey.id} v{survey.version} as an XLSForm to {out}.", fg="green")


# Organisations ----------------------------------------------------------------------------


@main.group()
def orgs() -> None:
    """Manage the organisations (VCS groups) on a provider's list."""


@orgs.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change.")
@pass_context
def orgs_import(context: Context, file: Path, provider_slug: str, dry_run: bool) -> None:
    """Import organisations from CSV: every row, or nothing if any row is bad."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        _fail(f"{file} is not UTF-8 text: save it as 'CSV UTF-8' and try again")
        return
    with db.transaction(context.sessions) as session:
        provider = session.scalar(
            select(models.Provider).where(models.Provider.slug == provider_slug)
        )
        if provider is None:
            _fail(f"No provider called {provider_slug!r}")
            return
        try:
            if dry_run:
                plan = organisations.plan_import(session, provider, text)
            else:
                plan = organisations.import_csv(session, provider, text)
        except organisations.CsvImportError as error:
            _fail(str(error), [str(p) for p in error.problems])
            return
        if not dry_run:
            audit.record(
                session,
                "organisations.import",
                actor=audit.command_line_actor(),
                provider_id=provider.id,
                subject=file.name,
                details={"added": len(plan.new), "updated": len(plan.updated)},
            )
    verb = "Would add" if dry_run else "Added"
    click.secho(
        f"{verb} {len(plan.new)} and {'would update' if dry_run else 'updated'} "
        f"{len(plan.updated)} organisations for {provider_slug}.",
        fg="green",
    )


@orgs.command("list")
@click.option("--provider", "provider_slug", help="Only this provider's organisations.")
@pass_context
def orgs_list(context: Context, provider_slug: str | None) -> None:
    """List organisations with their segments."""
    with context.sessions() as session:
        query = select(models.Organisation, models.Provider.slug).join(models.Provider)
        if provider_slug:
            query = query.where(models.Provider.slug == provider_slug)
        rows = [
            (
                slug,
                o.external_ref,
                o.name,
                o.org_type,
                o.income_band or "",
                o.district or "",
                "yes" if o.is_member else "no",
                "opted out" if o.opted_out_at else "",
            )
            for o, slug in session.execute(
                query.order_by(models.Provider.slug, models.Organisation.external_ref)
            )
        ]
    _table(("provider", "ref", "name", "type", "income", "district", "member", ""), rows)


# Demo data --------------------------------------------------------------------------------


@main.command("demo-data")
@click.option("--reset", is_flag=True, help="Delete the SQLite demo database first.")
@click.option("--seed", default=2026, show_default=True, help="Random seed (same seed, same data).")
@pass_context
def demo_data(context: Context, reset: bool, seed: int) -> None:
    """Create a realistic synthetic data set: providers, organisations, rounds and answers."""
    from functools import partial

    from analysis.publish import publish
    from collector.cli import demo

    url = context.settings.resolved_database_url
    if reset:
        if not url.startswith("sqlite:///"):
            _fail("--reset only deletes a SQLite file; empty a PostgreSQL database yourself")
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        # The register of erasures names records of the database just deleted: restoring a
        # backup of the new one must not erase its records of the same numbers.
        from collector.erasure import REGISTER_FILE

        (context.settings.backup_folder / REGISTER_FILE).unlink(missing_ok=True)
    with db.transaction(context.sessions) as session:
        if session.scalar(select(func.count()).select_from(models.Provider)):
            _fail("The database already has data: use --reset for a fresh demo database")
        summary = demo.build(
            session,
            seed=seed,
            progress=lambda line: click.echo(f"  {line}"),
            publish=partial(publish, published_by="demo"),
        )
    click.echo()
    click.secho("Demo data created", bold=True, fg="green")
    click.echo(f"  database:        {_safe_url(url)}")
    click.echo(f"  providers:       {summary.providers}")
    click.echo(f"  organisations:   {summary.organisations}")
    with context.sessions() as session:
        rolling = session.scalar(
            select(func.count(models.Round.id)).where(models.Round.kind == "rolling")
        )
    click.echo(
        f"  rounds:          {summary.rounds} surveys (per Essex and Kent provider: two closed and "
        "one open of cvs-support or kent-support, and in Essex two closed of each partnership "
        "survey; Voluntary Action LeicesterShire's two self-evaluations), "
        f"{rolling} placement follow-up rounds"
    )
    click.echo(
        f"  responses:       {summary.completed} completed, {summary.in_progress} in progress"
    )
    click.echo(f"  not yet answered in the open rounds: {summary.invitations_open}")
    click.echo(
        f"  contacts:        {summary.contacts} partners, commissioners and representatives "
        "(VAL 7, 9, 10 and 12)"
    )
    click.echo(
        f"  volunteering:    {summary.volunteers} volunteers, {summary.enquiries} enquiries, "
        f"{summary.placements} placements; {summary.followups_answered} follow-ups answered, "
        f"{summary.followups_coming} placements reach their follow-up day in the coming weeks"
    )
    click.echo()
    click.echo("Invitation tokens you can answer with `tempcheck answer TOKEN`:")
    for token in summary.sample_tokens:
        click.echo(f"  {token}")
    base = context.settings.base_url.rstrip("/")
    click.echo()
    click.echo("The same invitations on the web (served by `make demo` or `tempcheck serve`):")
    for token in summary.sample_tokens:
        click.echo(f"  {base}/r/{token}")
    username = (context.settings.telegram_bot_username or "").lstrip("@")
    if username:
        click.echo("And in Telegram (`make demo` starts the bot when TELEGRAM_BOT_TOKEN is set):")
        for token in summary.sample_tokens:
            click.echo(f"  https://t.me/{username}?start={token}")
    with context.sessions() as session:
        slugs = session.scalars(
            select(models.Round.slug).where(
                models.Round.open_link.is_(True), models.Round.status == "open"
            )
        ).all()
    if slugs:
        click.echo("Open links (anonymous, for posters and events):")
        for slug in slugs:
            click.echo(f"  {base}/s/{slug}")
    click.echo()
    click.echo(f"Sign in to the staff console at {base}/login (demo passwords, new every time):")
    width = max(len(login.email) for login in summary.logins)
    for login in summary.logins:
        click.echo(f"  {login.role:<7}{login.email:<{width + 2}}{login.password:<18}{login.sees}")
    funded = [r for r in summary.reports if r.funded]
    if funded:
        click.echo()
        click.echo("KPI reports the funders can open (published when the last rounds closed):")
        for published in funded:
            click.echo(f"  {published.title}")
            click.echo(f"    {base}{published.path}")
    click.echo()
    click.echo(
        f"{summary.emails_queued} invitation emails wait in the outbox: `tempcheck up` (run by "
        "`make demo`) sends them"
    )
    click.echo(
        f"to a local mail sink that saves each one as a .eml file in "
        f"{Path(context.settings.instance_path) / 'mail'}/."
    )
    if summary.report_emails:
        click.echo(
            f"The {summary.report_emails} report emails to the funders (PDF and workbook "
            "attached) go the same way."
        )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# The web app --------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Threads that run requests (each request is read whole before one takes it).",
)
@click.option(
    "--workers",
    default=default_workers,
    show_default="one per core, at most 4",
    type=click.IntRange(1, 64),
    help="Processes, each with its threads (one per core makes use of every core).",
)
@click.option(
    "--dev", is_flag=True, help="Flask's development server instead (never in production)."
)
@pass_context
def serve(context: Context, host: str, port: int, threads: int, workers: int, dev: bool) -> None:
    """Serve the web forms with waitress until Ctrl-C."""
    if not context.settings.secret_key:
        _fail(
            "SECRET_KEY is not set. Generate one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'` and put it in .env"
        )
    from forms import assets

    missing = assets.missing()
    if missing:
        click.secho(
            f"Front-end assets are missing ({', '.join(missing)}): run `make install`.",
            fg="yellow",
            err=True,
        )
    context.service_sessions  # noqa: B018 - refuses a schema behind or ahead of the code
    context.close()  # the app opens its own engine
    click.echo(f"tempcheck web forms on http://{host}:{port}/ (Ctrl-C stops)")
    if dev:
        from forms import create_app

        create_app(context.settings).run(host=host, port=port, debug=True)
        return
    from forms.server import Server

    Server(context.settings, host=host, port=port, threads=threads, workers=workers).run()


# Answering in the terminal ----------------------------------------------------------------


@main.command()
@click.argument("token")
@click.option("--language", default=None, help="Answer in this language, e.g. cy.")
@pass_context
def answer(context: Context, token: str, language: str | None) -> None:
    """Answer a survey in the terminal: b goes back, s skips an optional question."""
    from collector.cli.terminal import TerminalChannel

    factory = context.sessions
    try:
        with db.transaction(factory) as session:
            invitation = invitation_by_token(session, token)
            response = flow.start(session, invitation, channel="terminal", language=language)
            response_id, completed = response.id, response.status == "completed"
    except CollectorError as error:
        _fail(error.message)
        return
    if completed:
        click.echo(flow.AlreadyCompleted().message)
        return
    click.echo(f"(invitation {redact_token(token)})", err=True)
    TerminalChannel(factory, response_id).run()


# KPIs -------------------------------------------------------------------------------------


@main.command()
@click.option("--round", "round_id", type=int, help="Report on this round (id).")
@click.option("--provider", "provider_slug", help="Only this provider (its latest closed round).")
@click.option("--framework", help="Only this KPI framework, e.g. essex-2017.")
@click.option(
    "--by",
    type=click.Choice(
        [
            "org_type",
            "income_band",
            "district",
            "outcomes",
            "channel",
            "is_member",
            "audience",
            "contact_org",
            "language",
        ]
    ),
    help="Also break every KPI down by this segment.",
)
@click.option(
    "--alliance",
    is_flag=True,
    help="Also the alliance's report (all its providers' responses together) of each framework "
    "that names an alliance; with --round, for that round's period.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@pass_context
def kpi(
    context: Context,
    round_id: int | None,
    provider_slug: str | None,
    framework: str | None,
    by: str | None,
    alliance: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Show the KPIs against their targets, with RAG status and the change since last round."""
    from analysis.alliance import build_alliance_report
    from analysis.build import build_reports
    from analysis.drift import published_changes
    from analysis.frames import SEGMENTS
    from analysis.kpis.definitions import frameworks
    from analysis.render import to_csv, to_json, to_table

    if as_json and as_csv:
        _fail("Choose one of --json and --csv")
    context.sessions  # noqa: B018 - upgrades the schema first if it is behind
    # The usual breakdowns, and the one asked for where it is not one of them (the language).
    segments = [*SEGMENTS, *([by] if by and by not in SEGMENTS else [])]
    try:
        with context.engine.connect() as connection:
            reports = build_reports(
                connection,
                framework=framework,
                provider=provider_slug,
                round_id=round_id,
                segments=segments,
            )
            if alliance:
                named = [
                    f
                    for f in frameworks().values()
                    if f.alliance is not None and framework in (None, f.id)
                ]
                if not named:
                    _fail("No KPI framework names an alliance of providers")
                reports += [
                    build_alliance_report(connection, f.id, round_id=round_id) for f in named
                ]
            # Records added to a period after its report was published: said, not hidden.
            changes = published_changes(connection, reports)
    except CollectorError as error:
        _fail(error.message)
        return
    if as_json:
        click.echo(to_json(reports, changes))
    elif as_csv:
        click.echo(to_csv(reports), nl=False)
    else:
        click.echo(to_table(reports, by=by, colour=True, changes=changes), nl=False)


def _add_command_groups() -> None:
    """Add the command groups that live in `collector.commands` (one module per noun)."""
    from collector.cli import (
        activities,
        api,
        backup,
        bot,
        contacts,
        dispatch,
        export,
        followups,
        hubs,
        providers,
        report,
        rounds,
        selfeval,
        status,
        up,
        users,
        volunteers,
    )

    main.add_command(providers.group)
    main.add_command(users.group)
    main.add_command(activities.activities_group)
    main.add_command(activities.evidence_group)
    main.add_command(activities.milestones_group)
    main.add_command(rounds.group)
    main.add_command(report.report)
    main.add_command(dispatch.dispatch)
    main.add_command(dispatch.mail_sink)
    main.add_command(up.up)
    main.add_command(bot.bot)
    main.add_command(contacts.group)
    main.add_command(volunteers.volunteers)
    main.add_command(volunteers.placements)
    main.add_command(volunteers.enquiries)
    main.add_command(followups.followups_group)
    main.add_command(export.group)
    main.add_command(api.group)
    main.add_command(hubs.group)
    main.add_command(selfeval.group)
    main.add_command(backup.backup)
    main.add_command(backup.restore)
    main.add_command(status.status)


_add_command_groups()
