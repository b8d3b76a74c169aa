"""The Community Hub Temperature Check rendered: an HTML section (for a page or a report), a
standalone HTML document and its PDF, workbook sheets, and plain text.

Each piece stands alone so a report can take it: `hubs_section` is the HTML partial (GOV.UK
classes on the site, plain ones in a standalone document, whose stylesheet is the report's),
`write_hub_sheets` adds two sheets to an open `pd.ExcelWriter`, `hubs_pdf` renders the section
as its own document.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd

from analysis.hubs.table import STATUSES, HubCell, HubRow, HubStatus, HubTable
from analysis.render.html import GOVUK, PLAIN, report_css
from analysis.render.pdf import pdf_from_html
from analysis.render.xlsx import _properties, _write
from collector.hubs import KINDS

__all__ = [
    "SHEETS",
    "comparison",
    "hubs_html",
    "hubs_pdf",
    "hubs_section",
    "hubs_text",
    "hubs_xlsx",
    "write_hub_sheets",
]

TEMPLATES = jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "templates")
SHEETS = ("Hub check", "Hub comparison")
RAG_CLASSES = {
    HubStatus.GREEN: "green",
    HubStatus.AMBER: "amber",
    HubStatus.RED: "red",
    HubStatus.NOT_REPORTED: "no-data",
}
GOVUK_TAGS = {
    HubStatus.GREEN: "govuk-tag--green",
    HubStatus.AMBER: "govuk-tag--yellow",
    HubStatus.RED: "govuk-tag--red",
    HubStatus.NOT_REPORTED: "govuk-tag--grey",
}


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=TEMPLATES,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        STATUSES=STATUSES, RAG_CLASSES=RAG_CLASSES, GOVUK_TAGS=GOVUK_TAGS, KINDS=KINDS
    )
    return env


def comparison(table: HubTable) -> dict[str, list[tuple[HubRow, HubCell]]]:
    """Give, per variable, each reporting hub's cell, by locality: the locality comparison."""
    found: dict[str, list[tuple[HubRow, HubCell]]] = {v.id: [] for v in table.variables}
    for row in sorted(table.rows, key=lambda r: (r.hub.locality.lower(), r.hub.name.lower())):
        for cell in row.cells:
            found[cell.variable.id].append((row, cell))
    return found


def hubs_section(table: HubTable, *, standalone: bool = False, level: int = 2) -> str:
    """Render the table as an HTML section (its title at heading `level`, 1 or 2)."""
    return (
        _environment()
        .get_template("hubs/section.html")
        .render(
            table=table,
            comparison=comparison(table),
            groups=(("centre", "Local Resource Centres"), ("hub", "Community Hubs")),
            hub_count=len(table.check.variables_for("hub")),
            centre_count=len(table.check.variables_for("centre")),
            c=PLAIN if standalone else GOVUK,
            standalone=standalone,
            level=level,
        )
    )


def hubs_html(table: HubTable) -> str:
    """Render the table as a whole HTML document (the report's stylesheet), for the PDF."""
    return (
        _environment()
        .get_template("report/document.html")
        .render(
            title=f"{table.provider}: {table.check.title}, {table.label}",
            css=markupsafe.Markup(report_css()),
            body=markupsafe.Markup(hubs_section(table, standalone=True, level=1)),
        )
    )


def hubs_pdf(table: HubTable) -> bytes:
    """Render the table as an A4 PDF."""
    return pdf_from_html(hubs_html(table))


def _figure(value: int | None) -> Any:
    return value if value is not None else None


def _grid(table: HubTable) -> pd.DataFrame:
    """One row per hub and variable: the status, figure, target and why not rated."""
    rows = []
    for row in table.rows:
        for cell in row.cells:
            rows.append(
                {
                    "Quarter": table.label,
                    "Locality": row.hub.locality,
                    "Hub or centre": row.hub.name,
                    "Reference": row.hub.ref,
                    "Kind": KINDS[row.hub.kind],
                    "Variable": cell.variable.title,
                    "VAL indicator": cell.variable.val or "",
                    "Figure": _figure(cell.value),
                    "Target": _figure(cell.target),
                    "Status": cell.status.value,
                    "Why not rated": cell.reason,
                    "Hub's note": cell.note,
                }
            )
    for status in STATUSES:
        rows.append(
            {
                "Quarter": table.label,
                "Locality": "Total",
                "Status": status.value,
                "Figure": table.totals.get(status, 0),
            }
        )
    return pd.DataFrame(rows, dtype=object)


def _comparison(table: HubTable) -> pd.DataFrame:
    rows = []
    for variable_id, pairs in comparison(table).items():
        for row, cell in pairs:
            rows.append(
                {
                    "Variable": cell.variable.title,
                    "Locality": row.hub.locality,
                    "Hub or centre": row.hub.name,
                    table.label: _figure(cell.value),
                    "Target": _figure(cell.target),
                    table.previous_label: _figure(cell.previous),
                    "Change": cell.change,
                    "Status": cell.status.value,
                    "Variable id": variable_id,
                }
            )
    return pd.DataFrame(rows, dtype=object)


def write_hub_sheets(writer: pd.ExcelWriter, table: HubTable) -> None:
    """Add the table's two sheets ("Hub check", "Hub comparison") to an open workbook."""
    heading = f"{table.provider}: {table.check.title}, {table.label}"
    _write(writer, SHEETS[0], f"{heading}. {table.summary()} {table.check.rule}", _grid(table))
    _write(
        writer,
        SHEETS[1],
        f"{heading}: each locality against target and {table.previous_label}",
        _comparison(table),
    )


def hubs_xlsx(table: HubTable) -> bytes:
    """Render the table as a workbook of its own."""
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        write_hub_sheets(writer, table)
        _properties(writer, f"{table.provider}: {table.check.title}, {table.label}")
    return out.getvalue()


def hubs_text(table: HubTable) -> str:
    """Render the table as plain text (the command line, an email summary)."""
    lines = [f"{table.provider}: {table.check.title}, {table.label}", table.summary(), ""]
    width = max((len(r.hub.name) for r in table.rows), default=10)
    heads = " ".join(f"{s.value[:12]:>12}" for s in STATUSES)
    lines.append(f"{'':<{width}}  {heads} {'total':>6}")
    for row in table.rows:
        counts = " ".join(f"{row.count(s):>12}" for s in STATUSES)
        lines.append(f"{row.hub.name:<{width}}  {counts} {len(row.cells):>6}")
    counts = " ".join(f"{table.totals.get(s, 0):>12}" for s in STATUSES)
    lines.append(f"{'Total':<{width}}  {counts} {table.total:>6}")
    return "\n".join(lines)
