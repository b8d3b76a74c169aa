"""`tempcheck export responses`: a round's raw responses as CSV, XLSX or Parquet.

One row per response and one column per question (see :mod:`collector.exports`), written as
the rows are read, with a progress bar; the export is recorded in the audit log (which round,
the format and how many rows, never the answers).
"""

from __future__ import annotations

from pathlib import Path

import click

from collector import audit, exports, models
from collector.cli.base import Context, pass_context, stop


@click.group("export")
def group() -> None:
    """Export raw data for spreadsheets and other tools."""


@group.command("responses")
@click.option("--round", "round_id", type=int, required=True, help="The round (id).")
@click.option("--format", "format_", type=click.Choice(exports.FORMATS), required=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The file to write.")
@click.option(
    "--codes",
    is_flag=True,
    help="Choice codes (very_easy) and column names (ease_of_access) instead of labels.",
)
@click.option("--in-progress", is_flag=True, help="Include responses not yet submitted.")
@click.option("--no-free-text", is_flag=True, help="Leave out the answers to free-text questions.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@pass_context
def export_responses(
    context: Context,
    round_id: int,
    format_: str,
    out: Path,
    codes: bool,
    in_progress: bool,
    no_free_text: bool,
    force: bool,
) -> None:
    """Write a round's responses, one row per response and one column per question."""
    if out.is_dir():
        stop(f"{out} is a folder: give --out a file name, e.g. {out / ('responses.' + format_)}")
    if out.exists() and not force:
        stop(f"{out} already exists: choose another file, or add --force to overwrite it")
    if not out.parent.is_dir():
        stop(f"There is no folder {out.parent} to write {out.name} into")
    options = exports.Options(labels=not codes, in_progress=in_progress, free_text=not no_free_text)
    with context.sessions() as session:
        round_ = session.get(models.Round, round_id)
        if round_ is None:
            stop(f"No round {round_id} (see `tempcheck rounds list`)")
        export = exports.Export(session, round_, options)
        total = export.count()
        partial = out.with_name(f".{out.name}.partial")
        try:
            with (
                partial.open("wb") as handle,
                click.progressbar(length=total, label=f"Exporting {total} responses") as bar,
            ):
                written = exports.write(export, format_, handle, bar.update)
            partial.replace(out)
        except OSError as error:
            partial.unlink(missing_ok=True)
            stop(f"Could not write {out}: {error.strerror}")
        audit.record(
            session,
            "responses.export",
            provider_id=round_.provider_id,
            subject=f"round {round_.id}",
            details={
                "format": format_,
                "rows": written,
                "labels": options.labels,
                "in_progress": in_progress,
                "free_text": options.free_text,
            },
        )
        session.commit()
    click.secho(
        f"Wrote {written} responses and {len(export.columns)} columns to {out}.", fg="green"
    )
