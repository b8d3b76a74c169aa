"""`tempcheck hubs`: a provider's Community Hubs and Local Resource Centres (issue 17), their
quarterly returns imported from CSV (all or nothing), and the quarter's RAG table across
localities with the comparison with the quarter before (text, HTML, PDF or workbook)."""

from __future__ import annotations

from pathlib import Path

import click

from collector import audit, db, hubs
from collector.cli.base import Context, pass_context, provider_by_slug, stop, table

FORMATS = ("text", "html", "pdf", "xlsx")


@click.group("hubs")
def group() -> None:
    """Community Hubs and Local Resource Centres: register, quarterly returns, RAG table."""


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        stop(f"{file} is not UTF-8 text: save it as 'CSV UTF-8' and try again")


def _check(check_id: str):  # type: ignore[no-untyped-def]
    from analysis.hubs import check
    from collector.errors import NotFound

    try:
        return check(check_id)
    except NotFound as error:
        stop(str(error))


CHECK_OPTION = click.option(
    "--check",
    "check_id",
    default="leicestershire-hubs",
    show_default=True,
    help="The hub check (variables and targets) in analysis/hubs/.",
)


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change.")
@pass_context
def hubs_import(context: Context, file: Path, provider_slug: str, dry_run: bool) -> None:
    """Import hubs and centres (external_ref,name,kind,locality): every row, or none."""
    text = _read(file)
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            plan = (hubs.plan_hubs if dry_run else hubs.import_hubs)(session, provider, text)
        except hubs.CsvImportError as error:
            stop(str(error), [str(p) for p in error.problems])
        if not dry_run:
            audit.record(
                session,
                "hubs.import",
                actor=audit.command_line_actor(),
                provider_id=provider.id,
                subject=file.name,
                details={"added": len(plan.new), "updated": len(plan.updated)},
            )
    verb, again = ("Would add", "would update") if dry_run else ("Added", "updated")
    click.secho(
        f"{verb} {len(plan.new)} and {again} {len(plan.updated)} hubs and centres for "
        f"{provider_slug}.",
        fg="green",
    )


@group.command("import-returns")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change.")
@CHECK_OPTION
@pass_context
def hubs_import_returns(
    context: Context, file: Path, provider_slug: str, dry_run: bool, check_id: str
) -> None:
    """Import quarterly returns (hub_ref,quarter,variable,value[,target,note]): every row, or
    none if any is bad."""
    text = _read(file)
    variables = _check(check_id).variable_kinds()
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        act = hubs.plan_returns if dry_run else hubs.import_returns
        try:
            plan = act(session, provider, text, variables)
        except hubs.CsvImportError as error:
            stop(str(error), [str(p) for p in error.problems])
        if not dry_run:
            audit.record(
                session,
                "hubs.import_returns",
                actor=audit.command_line_actor(),
                provider_id=provider.id,
                subject=file.name,
                details={"added": len(plan.new), "updated": len(plan.updated)},
            )
    verb, again = ("Would add", "would update") if dry_run else ("Added", "updated")
    click.secho(
        f"{verb} {len(plan.new)} and {again} {len(plan.updated)} returned figures for "
        f"{provider_slug}.",
        fg="green",
    )


@group.command("list")
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@pass_context
def hubs_list(context: Context, provider_slug: str) -> None:
    """List a provider's hubs and centres, and the quarters they have returns for."""
    with context.sessions() as session:
        provider = provider_by_slug(session, provider_slug)
        rows = [
            (h.external_ref, h.name, hubs.KINDS[h.kind], h.locality)
            for h in hubs.hubs_of(session, provider.id)
        ]
        quarters = [hubs.quarter_label(q) for q in hubs.quarters_of(session, provider.id)]
    table(("ref", "name", "kind", "locality"), rows)
    click.echo(f"Quarters with returns: {', '.join(quarters) or 'none yet'}")


@group.command("table")
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@click.option("--quarter", help="The quarter, as 2010/11 Q2 (default: the latest returned).")
@click.option("--format", "format_", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@CHECK_OPTION
@pass_context
def hubs_table(
    context: Context,
    provider_slug: str,
    quarter: str | None,
    format_: str,
    out: Path | None,
    check_id: str,
) -> None:
    """Show the quarter's RAG table across localities, with the comparison with the quarter
    before (html, pdf and xlsx need --out)."""
    from analysis.hubs import load_table
    from analysis.render import hubs as render

    hub_check = _check(check_id)
    with context.sessions() as session:
        provider = provider_by_slug(session, provider_slug)
        if quarter:
            start = hubs.parse_quarter(quarter)
            if start is None:
                stop(f"{quarter!r} is not a quarter: write it as 2010/11 Q2")
        else:
            known = hubs.quarters_of(session, provider.id)
            if not known:
                stop(
                    f"{provider_slug} has no hub returns yet: import some with "
                    "`tempcheck hubs import-returns`"
                )
            start = known[0]
        built = load_table(session, provider, start, hub_check)
    if format_ == "text":
        content: str | bytes = render.hubs_text(built) + "\n"
    elif out is None:
        stop(f"--format {format_} needs --out FILE")
    elif format_ == "html":
        content = render.hubs_html(built)
    elif format_ == "pdf":
        content = render.hubs_pdf(built)
    else:
        content = render.hubs_xlsx(built)
    if out is None:
        click.echo(content, nl=False)
        return
    if isinstance(content, str):
        out.write_text(content, encoding="utf-8")
    else:
        out.write_bytes(content)
    click.secho(f"Wrote {out} ({built.label}: {built.summary()})", fg="green")
