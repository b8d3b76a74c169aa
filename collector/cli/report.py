"""`tempcheck report`: build a KPI report in any format, publish a round's reports, list them.

Building shows the live report (answers so far, narratives as they stand) and changes nothing;
publishing freezes a closed round's reports as snapshots and queues their emails to the
provider's funders (closing a round does this too: `report publish` is for trying again, or for
a correction). The reports themselves are analysis's work, imported inside the commands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit, db, models, reports
from collector.cli.base import (
    Context,
    local_time,
    pass_context,
    provider_by_slug,
    stop,
    table,
)
from collector.errors import CollectorError

FORMATS = ("html", "xlsx", "pdf", "png", "text")


@click.group()
def report() -> None:
    """Build, publish and list funder KPI reports."""


def _round(session: Session, round_id: int) -> models.Round:
    round_ = session.get(models.Round, round_id)
    if round_ is None:
        stop(f"No round {round_id} (see `tempcheck rounds list`)")
    return round_


def _base(context: Context) -> str:
    return context.settings.base_url.rstrip("/")


def _file_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


# Building -------------------------------------------------------------------------------------


@report.command("build")
@click.option("--round", "round_id", type=int, required=True, help="The round (id).")
@click.option(
    "--framework", help="The KPI framework, e.g. essex-2017 (needed when several use the survey)."
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    required=True,
    help="html, xlsx, pdf, png (one file per chart, into the --out folder) or text (the short "
    "summary sent by email).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The file to write; a folder for png; - prints html or text.",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@pass_context
def report_build(
    context: Context,
    round_id: int,
    framework: str | None,
    format_: str,
    out: Path,
    force: bool,
) -> None:
    """Build a round's KPI report as it stands now (nothing is published or sent)."""
    from analysis.publish import build_report, choose_frameworks, completed_responses

    to_screen = str(out) == "-"
    if to_screen and format_ not in ("html", "text"):
        stop(f"Only html and text can be printed: give --out a file for {format_}")
    if not to_screen:
        _check_out(out, format_, force)
    with context.sessions() as session:
        round_ = _round(session, round_id)
        try:
            chosen = choose_frameworks(round_, framework)
        except CollectorError as error:
            stop(_no_framework(error.message, round_id))
        if not completed_responses(session, round_.id):
            stop(
                f"Round {round_id} has no completed responses ({round_.status}): there is "
                "nothing to report yet"
            )
        if len(chosen) > 1:
            stop(
                f"Round {round_id}'s survey feeds {len(chosen)} KPI frameworks: choose one with "
                f"--framework ({', '.join(f.id for f in chosen)})"
            )
        click.echo(f"Building the {chosen[0].id} report for round {round_id}...", err=to_screen)
        try:
            built = build_report(
                session,
                round_,
                chosen[0].id,
                reports.narratives(session, round_.id, chosen[0].id),
            )
        except CollectorError as error:
            stop(error.message)
        link = f"{_base(context)}/funder/{round_.provider.slug}"
    if to_screen:
        click.echo(_render_text(built, format_, link), nl=False)
        return
    if format_ == "png":
        written = _write_charts(built, out)
        click.secho(f"Wrote {len(written)} charts to {out}/:", fg="green")
        for path in written:
            click.echo(f"  {path.name}")
        return
    click.echo(f"  rendering {format_}...")
    content = _render(built, format_, link)
    try:
        out.write_bytes(content)
    except OSError as error:
        stop(f"Could not write {out}: {error.strerror}")
    click.secho(f"Wrote {out} ({_size(len(content))}).", fg="green")


@report.command("collective")
@click.option("--framework", "framework_id", required=True, help="The framework, e.g. essex-2017.")
@click.option("--period", help="The period, e.g. '2025/26 H2' (default: the latest).")
@click.option(
    "--provider", "provider_slugs", multiple=True, help="Only these providers (default: all)."
)
@click.option("--format", "format_", type=click.Choice(("html", "pdf")), required=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The file to write.")
@click.option("--force", is_flag=True, help="Overwrite a file that exists.")
@pass_context
def report_collective(
    context: Context,
    framework_id: str,
    period: str | None,
    provider_slugs: tuple[str, ...],
    format_: str,
    out: Path,
    force: bool,
) -> None:
    """Build a framework's collective report: the county overview across its providers, their
    figures side by side, then each provider's own report (with its narratives)."""
    from analysis.collective import build_collective
    from analysis.render.html import collective_html
    from analysis.render.pdf import pdf_from_html

    _check_out(out, format_, force)
    with context.sessions() as session:
        try:
            built = build_collective(
                session.connection(), framework_id, period=period, providers=provider_slugs
            )
            written = {
                r.provider: reports.narratives(session, r.round.id, framework_id)
                for r in built.reports
            }
            built = build_collective(
                session.connection(),
                framework_id,
                period=built.period,
                providers=provider_slugs,
                narratives=written,
            )
        except CollectorError as error:
            stop(error.message)
    click.echo(
        f"Collective {framework_id} report for {built.period}: "
        f"{', '.join(name for _, name in built.providers)}"
    )
    document = collective_html(built)
    content = document.encode() if format_ == "html" else pdf_from_html(document)
    try:
        out.write_bytes(content)
    except OSError as error:
        stop(f"Could not write {out}: {error.strerror}")
    click.secho(f"Wrote {out} ({_size(len(content))}).", fg="green")


def _no_framework(message: str, round_id: int) -> str:
    if message.startswith("no KPI framework"):
        return f"Round {round_id}: {message}, so it has no KPI report"
    return message


def _check_out(out: Path, format_: str, force: bool) -> None:
    """Stop before any work when the output cannot or should not be written."""
    if format_ == "png":
        if out.exists() and not out.is_dir():
            stop(f"{out} is a file: png writes one file per chart, so give --out a folder")
        if out.is_dir() and any(out.glob("*.png")) and not force:
            stop(f"{out} already has charts in it: choose another folder, or add --force")
        return
    if out.is_dir():
        stop(f"{out} is a folder: give --out a file name, e.g. {out / ('report.' + format_)}")
    if out.exists() and not force:
        stop(f"{out} already exists: choose another file, or add --force to overwrite it")
    if not out.parent.is_dir():
        stop(f"There is no folder {out.parent} to write {out.name} into")


def _render_text(built: Any, format_: str, link: str) -> str:
    from analysis.render.html import report_html
    from analysis.render.message import report_message

    if format_ == "html":
        return report_html(built, standalone=True)
    text = report_message(built, link)
    return text if text.endswith("\n") else text + "\n"


def _render(built: Any, format_: str, link: str) -> bytes:
    from analysis.render.pdf import report_pdf
    from analysis.render.xlsx import report_xlsx

    if format_ == "pdf":
        return report_pdf(built)
    if format_ == "xlsx":
        return report_xlsx(built)
    return _render_text(built, format_, link).encode("utf-8")


def _write_charts(built: Any, out: Path) -> list[Path]:
    """Write each KPI's chart, its trend and the locality comparison: one PNG each."""
    from analysis.render.charts import kpi_chart, locality_chart, trend_chart

    charts: list[tuple[str, bytes | None]] = []
    for result in built.results:
        name = _file_name(result.kpi.id)
        charts.append((f"{name}.png", kpi_chart(result, built)))
        charts.append((f"{name}-trend.png", trend_chart(result, built)))
    charts.append(("localities.png", locality_chart(built)))
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for file_name, content in charts:
            if content is None:
                continue  # no trend before a second round, no localities to compare
            path = out / file_name
            path.write_bytes(content)
            written.append(path)
    except OSError as error:
        stop(f"Could not write the charts into {out}: {error.strerror}")
    return written


def _size(count: int) -> str:
    return f"{count / 1024:,.0f} KB" if count >= 1024 else f"{count} bytes"


# Publishing -----------------------------------------------------------------------------------


@report.command("publish")
@click.option("--round", "round_id", type=int, required=True, help="A closed round (id).")
@click.option("--framework", help="Only this KPI framework (default: every one its survey feeds).")
@pass_context
def report_publish(context: Context, round_id: int, framework: str | None) -> None:
    """Publish a closed round's reports again: new snapshots, emailed to the provider's funders."""
    from analysis.publish import build, choose_frameworks

    actor = audit.command_line_actor()
    # Built in a session that only reads, kept in a short transaction after: on SQLite, no
    # respondent waits for the write lock while the PDFs render.
    with db.transaction(context.read_sessions) as session:
        round_ = _round(session, round_id)
        if round_.status != "closed":
            stop(
                f"Round {round_id} is {round_.status}: its reports are published when it closes "
                f"(`tempcheck rounds close {round_id}`)"
            )
        try:
            chosen = choose_frameworks(round_, framework)
        except reports.NothingToPublish as error:
            click.echo(f"Nothing to publish: {error.message}.")
            return
        except CollectorError as error:
            stop(error.message)
        earlier = {f.id: reports.latest_snapshot(session, round_.id, f.id) for f in chosen}
        try:
            built = build(session, round_, framework=framework, progress=click.echo)
        except reports.NothingToPublish as error:
            click.echo(f"Nothing to publish: {error.message}.")
            return
        except CollectorError as error:
            stop(error.message)
        except Exception as error:  # noqa: BLE001 - say what failed, not a traceback
            stop(
                f"Nothing was published: {type(error).__name__}: {error}. When that is fixed, "
                f"publish again with `tempcheck report publish --round {round_id}`"
            )
    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id)
        published = reports.store_built(session, round_, built, actor)
        reports.record_publication(session, round_, published, actor=actor)
        lines = []
        for snapshot in published:
            before = earlier.get(snapshot.framework)
            emails = reports.emails_queued(session, snapshot.id)
            lines.append(
                (
                    snapshot.id,
                    snapshot.title,
                    f"{_base(context)}{reports.report_path(round_.provider.slug, snapshot.id)}",
                    emails,
                    None if before is None else f"{before.id} of {local_time(before.published_at)}",
                )
            )
        provider_name = round_.provider.name
    for snapshot_id, title, link, emails, replaces in lines:
        click.secho(f"Published report {snapshot_id}: {title}", fg="green")
        if replaces:
            click.echo(f"  a correction: it replaces report {replaces}, which stays as it was sent")
        click.echo(f"  {link}")
        if emails:
            click.echo(
                f"  {emails} email{'s' if emails != 1 else ''} to funders queued: "
                f"`tempcheck dispatch` sends {'them' if emails != 1 else 'it'}"
            )
        else:
            click.echo(
                f"  no funder of {provider_name} has an account, so nobody was emailed "
                "(add one with `tempcheck users add --role funder`)"
            )


# Listing --------------------------------------------------------------------------------------


@report.command("list")
@click.option("--provider", "provider_slug", help="Only this provider's reports.")
@pass_context
def report_list(context: Context, provider_slug: str | None) -> None:
    """List published reports, newest first, with their links."""
    base = _base(context)
    with context.sessions() as session:
        provider_id = None
        if provider_slug:
            provider_id = provider_by_slug(session, provider_slug).id
        found = reports.snapshots(session, provider_id)
        slugs = dict(session.execute(select(models.Provider.id, models.Provider.slug)).all())
        periods = dict(
            session.execute(
                select(models.Round.id, models.Round.period_label).where(
                    models.Round.id.in_({s.round_id for s in found})
                )
            ).all()
        )
        rows = [
            (
                s.id,
                slugs[s.provider_id],
                f"{s.round_id} ({periods[s.round_id]})",
                s.framework,
                local_time(s.published_at),
                reports.emails_queued(session, s.id),
                f"{base}{reports.report_path(slugs[s.provider_id], s.id)}",
            )
            for s in found
        ]
    table(("id", "provider", "round", "framework", "published", "emails", "link"), rows)
