"""The Community Hub Temperature Check (issue 17): a provider's Community Hubs and Local
Resource Centres, their quarterly returns imported from CSV (upload, preview, confirm: every
row or none), and the quarter's RAG table across localities with the comparison with the
quarter before, for staff (`/console/<provider>/hubs`) and the provider's funders
(`/funder/<provider>/hubs`), as a page, a PDF and a workbook.

The figures are each hub's own counts of its work, not anyone's answers: nothing in them
identifies a respondent, so the funder sees them as returned.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import markupsafe
from flask import Response, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session

from analysis.hubs import HubTable, check, load_table
from analysis.render.hubs import hubs_pdf, hubs_section, hubs_xlsx
from collector import audit, hubs, models
from forms.console import bp, funder_bp
from forms.console.access import ProviderRef, funder_required, reader_required, staff_required
from forms.console.imports import SHOWN, _read_upload, large_upload
from forms.console.pages import Form, csv_download, reading, render, writing

# What each import takes: its noun, the columns and their help, and the endpoints.
IMPORTS: dict[str, dict[str, Any]] = {
    "hubs": {
        "title": "hubs and centres",
        "noun": "hub or centre",
        "columns": (
            ("external_ref", "Required. Your reference for the hub or centre (unique)."),
            ("name", "Required. Its name."),
            ("kind", "Required. hub (a Community Hub) or centre (a Local Resource Centre)."),
            ("locality", "Required. The district or area it serves."),
        ),
    },
    "returns": {
        "title": "quarterly returns",
        "noun": "returned figure",
        "columns": (
            ("hub_ref", "Required. The hub or centre's reference on your register."),
            ("quarter", "Required. The financial quarter, as 2010/11 Q2 (July to September)."),
            ("variable", "Required. The variable's id, from the list below."),
            ("value", "The quarter's figure, a whole number. Leave it empty only with a note."),
            ("target", "The hub's own target for the quarter, if not the standard one."),
            ("note", "Why there is no figure (not applicable), or anything to know about it."),
        ),
    },
}


def _provider(session: Session, provider: ProviderRef) -> models.Provider:
    row = session.get(models.Provider, provider.id)
    assert row is not None
    return row


def _quarter(session: Session, provider: ProviderRef) -> tuple[date | None, list[date], str]:
    """Give the quarter asked for (else the latest with returns), the quarters there are, and a
    message when the one asked for cannot be read."""
    known = hubs.quarters_of(session, provider.id)
    asked = request.args.get("quarter", "").strip()[:40]
    if asked:
        start = hubs.parse_quarter(asked)
        if start is None:
            return (
                (known[0] if known else None),
                known,
                (f"‘{asked}’ is not a quarter: choose one from the list"),
            )
        return start, known, ""
    return (known[0] if known else None), known, ""


def _table(session: Session, provider: ProviderRef, start: date) -> HubTable:
    return load_table(session, _provider(session, provider), start, check())


def _page(
    provider: ProviderRef, template: str, *, level: int, **context: Any
) -> ResponseReturnValue:
    with reading() as session:
        start, known, problem = _quarter(session, provider)
        register = hubs.hubs_of(session, provider.id)
        table = _table(session, provider, start) if start is not None and register else None
        section = markupsafe.Markup(hubs_section(table, level=level)) if table is not None else None
        form = Form()
        if problem:
            form.error("quarter", problem)
        return render(
            template,
            section="hubs",
            register=register,
            kinds=hubs.KINDS,
            table=table,
            fragment=section,
            quarters=[
                {
                    "value": hubs.quarter_label(q),
                    "text": hubs.quarter_label(q),
                    "selected": q == start,
                }
                for q in known
            ],
            form=form,
            **context,
        )


@bp.get("/<provider_slug>/hubs")
@staff_required
def hubs_page(provider: ProviderRef) -> ResponseReturnValue:
    """Show the provider's hubs and centres and a quarter's temperature check."""
    return _page(provider, "console/hubs.html", level=2, area="console")


@funder_bp.get("/<provider_slug>/hubs")
@funder_required
def hubs_view(provider: ProviderRef) -> ResponseReturnValue:
    """Show a funded provider's Community Hub Temperature Check for a quarter."""
    return _page(provider, "funder/hubs.html", level=1, area="funder")


def _download(provider: ProviderRef, kind: str) -> ResponseReturnValue:
    """Give the quarter asked for (`?quarter=2010/11 Q2`, else the latest) as a file; without
    returns for it, go back to the page with a message."""
    with reading() as session:
        start, known, problem = _quarter(session, provider)
        if problem or start not in known:
            flash(problem or "There are no returns for that quarter yet.")
            staff = g.account.role == "staff"
            page = "console.hubs_page" if staff else "funder.hubs_view"
            return redirect(url_for(page, provider_slug=provider.slug), 303)
        assert start is not None
        table = _table(session, provider, start)
    name = f"{provider.slug}-hubs-{slug_of(start)}"
    if kind == "pdf":
        body, mimetype = hubs_pdf(table), "application/pdf"
    else:
        body = hubs_xlsx(table)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


def slug_of(start: date) -> str:
    """Give a quarter as a file name's part: 2010-11-Q2."""
    return hubs.quarter_label(start).replace("/", "-").replace(" ", "-")


@funder_bp.get("/<provider_slug>/hubs.pdf")
@reader_required
def hubs_pdf_download(provider: ProviderRef) -> ResponseReturnValue:
    """Give a quarter's temperature check as a PDF."""
    return _download(provider, "pdf")


@funder_bp.get("/<provider_slug>/hubs.xlsx")
@reader_required
def hubs_xlsx_download(provider: ProviderRef) -> ResponseReturnValue:
    """Give a quarter's temperature check as a workbook."""
    return _download(provider, "xlsx")


# Imports -------------------------------------------------------------------------------------


def _import_page(what: str, form: Form, **context: Any) -> ResponseReturnValue:
    return render(
        "console/hubs_import.html",
        section="hubs",
        what=what,
        spec=IMPORTS[what],
        variables=check().variables,
        form=form,
        **context,
    )


def _plan(session: Session, provider: ProviderRef, what: str, text: str) -> hubs.ImportPlan:
    row = _provider(session, provider)
    if what == "hubs":
        return hubs.plan_hubs(session, row, text)
    return hubs.plan_returns(session, row, text, check().variable_kinds())


def _preview(provider: ProviderRef, what: str, text: str, form: Form) -> ResponseReturnValue:
    """Check the text and show what importing it would do, or every problem it has."""
    with reading() as session:
        try:
            plan = _plan(session, provider, what, text)
        except hubs.CsvImportError as error:
            count = len(error.problems)
            form.error(
                "file",
                f"The file has {count} problem{'s' if count != 1 else ''}, listed below: "
                "nothing was imported. Correct the file and upload it again",
            )
            return _import_page(
                what, form, problems=error.problems[:SHOWN], more=max(0, count - SHOWN)
            )
    return render(
        "console/hubs_import_preview.html",
        section="hubs",
        what=what,
        spec=IMPORTS[what],
        plan=plan,
        shown=SHOWN,
        text=text,
        kinds=hubs.KINDS,
        label=hubs.quarter_label,
    )


def _upload(provider: ProviderRef, what: str) -> ResponseReturnValue:
    form = Form()
    if request.method == "GET":
        return _import_page(what, form)
    text = _read_upload(form)
    if text is None:
        return _import_page(what, form)
    return _preview(provider, what, text, form)


def _confirm(provider: ProviderRef, what: str) -> ResponseReturnValue:
    text = request.form.get("csv", "")
    form = Form()
    if not text.strip():
        form.error("file", "Choose a CSV file to upload")
        return _import_page(what, form)
    try:
        with writing() as session:
            row = _provider(session, provider)
            if what == "hubs":
                plan = hubs.import_hubs(session, row, text)
            else:
                plan = hubs.import_returns(session, row, text, check().variable_kinds())
            audit.record(
                session,
                f"hubs.import{'' if what == 'hubs' else '_returns'}",
                user=current_user.user,
                provider_id=provider.id,
                subject=f"{len(plan.new) + len(plan.updated)} {IMPORTS[what]['title']} from CSV",
                details={"added": len(plan.new), "updated": len(plan.updated)},
            )
    except hubs.CsvImportError:
        # Only a changed text (or a register changed since the preview) fails here.
        return _preview(provider, what, text, form)
    total = len(plan.new) + len(plan.updated)
    noun = IMPORTS[what]["noun" if total == 1 else "title"]
    flash(f"Imported {total} {noun}: {len(plan.new)} added, {len(plan.updated)} updated.")
    return redirect(url_for("console.hubs_page", provider_slug=provider.slug), 303)


@bp.route("/<provider_slug>/hubs/import", methods=["GET", "POST"])
@staff_required
@large_upload
def hubs_import(provider: ProviderRef) -> ResponseReturnValue:
    """Show the hubs and centres upload form, and preview an uploaded file."""
    return _upload(provider, "hubs")


@bp.post("/<provider_slug>/hubs/import/confirm")
@staff_required
@large_upload
def hubs_import_confirm(provider: ProviderRef) -> ResponseReturnValue:
    """Import the previewed hubs and centres: every row, or none if any is bad."""
    return _confirm(provider, "hubs")


@bp.get("/<provider_slug>/hubs/template.csv")
@staff_required
def hubs_template(provider: ProviderRef) -> ResponseReturnValue:
    """Give a CSV file with the columns a hubs import takes and one example row."""
    return csv_download("hubs-template.csv", hubs.HUB_COLUMNS, [hubs.HUB_EXAMPLE])


@bp.route("/<provider_slug>/hubs/returns/import", methods=["GET", "POST"])
@staff_required
@large_upload
def hub_returns_import(provider: ProviderRef) -> ResponseReturnValue:
    """Show the quarterly returns upload form, and preview an uploaded file."""
    return _upload(provider, "returns")


@bp.post("/<provider_slug>/hubs/returns/import/confirm")
@staff_required
@large_upload
def hub_returns_import_confirm(provider: ProviderRef) -> ResponseReturnValue:
    """Import the previewed returns: every row, or none if any is bad."""
    return _confirm(provider, "returns")


@bp.get("/<provider_slug>/hubs/returns/template.csv")
@staff_required
def hub_returns_template(provider: ProviderRef) -> ResponseReturnValue:
    """Give a CSV file with the columns a returns import takes and example rows."""
    return csv_download(
        "hub-returns-template.csv",
        hubs.RETURN_COLUMNS,
        hubs.csv_example(check().variable_kinds()),
    )
