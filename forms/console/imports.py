"""Importing organisations from a CSV file: upload, preview, confirm.

The preview saves nothing: it lists every problem by line and column, or the groups that
would be added and updated. Confirming sends the same text back (in a hidden field of the
preview page, so nothing is kept on the server between the two steps) and imports it: every
row, or none. These two views accept up to `IMPORT_LIMIT` bytes, above the app's usual 64 KiB.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from collector import audit, models, organisations
from collector.segments import ORGANISATION_TYPES
from forms.console import bp
from forms.console.access import ProviderRef, View, staff_required
from forms.console.pages import Form, csv_download, reading, render, writing

# A list of some thousands of groups; the preview page carries the text back once more.
IMPORT_LIMIT = 2 * 1024 * 1024
SHOWN = 200  # rows or problems listed on the preview page


def large_upload(view: View) -> View:
    """Let this view take up to `IMPORT_LIMIT` bytes (see `forms.console._upload_limits`)."""
    view.max_upload = IMPORT_LIMIT  # type: ignore[attr-defined]
    return view


def _read_upload(form: Form) -> str | None:
    """Give the uploaded file's text, or None with the reason on the form."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        form.error("file", "Choose a CSV file to upload")
        return None
    raw = upload.read(IMPORT_LIMIT + 1)
    if not raw.strip():
        form.error("file", "The file is empty")
        return None
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        form.error(
            "file", "The file is a spreadsheet, not CSV: save it as ‘CSV UTF-8’ and upload that"
        )
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.error(
            "file",
            "The file is not UTF-8 text: in your spreadsheet, save it as ‘CSV UTF-8’ "
            "and upload it again",
        )
        return None
    if "\x00" in text:
        form.error("file", "The file is not a CSV file")
        return None
    return text


def _preview(provider: ProviderRef, text: str, *, form: Form | None = None) -> ResponseReturnValue:
    """Check the text and show what importing it would do, or every problem it has."""
    with reading() as session:
        row = session.get(models.Provider, provider.id)
        assert row is not None
        try:
            plan = organisations.plan_import(session, row, text)
        except organisations.CsvImportError as error:
            problems = sorted(error.problems, key=lambda p: (p.line, p.column))
            form = form or Form()
            count = len(problems)
            form.error(
                "file",
                f"The file has {count} problem{'s' if count != 1 else ''}, listed below: "
                "nothing was imported. Correct the file and upload it again",
            )
            return render(
                "console/import.html",
                section="organisations",
                form=form,
                problems=problems[:SHOWN],
                more=max(0, len(problems) - SHOWN),
            )
    return render(
        "console/import_preview.html",
        section="organisations",
        plan=plan,
        shown=SHOWN,
        text=text,
        types=ORGANISATION_TYPES,
    )


@bp.route("/<provider_slug>/organisations/import", methods=["GET", "POST"])
@staff_required
@large_upload
def organisations_import(provider: ProviderRef) -> ResponseReturnValue:
    """Show the upload form, and preview an uploaded file (nothing is saved yet)."""
    form = Form()
    if request.method == "GET":
        return render("console/import.html", section="organisations", form=form)
    text = _read_upload(form)
    if text is None:
        return render("console/import.html", section="organisations", form=form)
    return _preview(provider, text, form=form)


@bp.post("/<provider_slug>/organisations/import/confirm")
@staff_required
@large_upload
def organisations_import_confirm(provider: ProviderRef) -> ResponseReturnValue:
    """Import the previewed file: every row, or none if any is bad."""
    text = request.form.get("csv", "")
    if not text.strip():
        form = Form()
        form.error("file", "Choose a CSV file to upload")
        return render("console/import.html", section="organisations", form=form)
    try:
        with writing() as session:
            row = session.get(models.Provider, provider.id)
            assert row is not None
            plan = organisations.import_csv(session, row, text)
            details: dict[str, Any] = {"added": len(plan.new), "updated": len(plan.updated)}
            audit.record(
                session,
                "organisations.import",
                user=current_user.user,
                provider_id=provider.id,
                subject=f"{len(plan.new) + len(plan.updated)} organisations from CSV",
                details=details,
            )
    except organisations.CsvImportError:
        # Only a changed text can fail here (the preview passed it): show its problems.
        return _preview(provider, text)
    flash(
        f"Imported {details['added'] + details['updated']} organisations: "
        f"{details['added']} added, {details['updated']} updated."
    )
    return redirect(url_for("console.organisations", provider_slug=provider.slug), 303)


@bp.get("/<provider_slug>/organisations/template.csv")
@staff_required
def organisations_template(provider: ProviderRef) -> ResponseReturnValue:
    """Give a CSV file with the columns an import takes and one example row."""
    example = [
        "HAR0001",
        "Harlow Foodbank",
        "registered_charity",
        "10k_100k",
        "Harlow",
        "healthy_lifestyles;good_lives",
        "yes",
        "info@foodbank.example",
        "yes",
        "no",
    ]
    return csv_download(
        "organisations-template.csv",
        organisations.REQUIRED_COLUMNS + organisations.OPTIONAL_COLUMNS,
        [example],
    )
