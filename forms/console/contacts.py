"""Contacts: a provider's partners, commissioners and representatives (issue 15), listed and
searched, imported from CSV (upload, preview, confirm: every row or none), opted out and back
in. The audit log names them by reference and number, never by name or address."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from collector import audit, contacts, models
from collector.segments import CONTACT_AUDIENCES
from forms.console import bp
from forms.console.access import ProviderRef, staff_required
from forms.console.imports import SHOWN, _read_upload, large_upload
from forms.console.pages import (
    Form,
    csv_download,
    owned,
    page_number,
    pagination,
    reading,
    render,
    writing,
)

PER_PAGE = 50
KIND, NOUN = "contacts", "contact"
COLUMN_HELP = (
    ("external_ref", "Required. Your reference for the person (unique on your list)."),
    ("name", "Required. Their name."),
    ("audience", "Required. partner, commissioner or representative."),
    ("organisation", "Where they work or sit, e.g. County Council, Children's Services."),
    ("email", "Their email address."),
    ("consent_email", "yes if they agreed to be emailed surveys."),
    ("consent_telegram", "yes if they agreed to be sent surveys in Telegram."),
    ("preferred_channel", "email or telegram, when they agreed to both."),
)


def _provider(session: Any, provider: ProviderRef) -> models.Provider:
    row = session.get(models.Provider, provider.id)
    assert row is not None
    return row


@bp.get("/<provider_slug>/contacts")
@staff_required
def contacts_list(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's contacts, by reference, with a search and an audience filter."""
    text = request.args.get("q", "")[:200]
    audience = request.args.get("audience") or None
    if audience not in CONTACT_AUDIENCES:
        audience = None
    page = page_number()
    with reading() as session:
        rows, total = contacts.search(
            session, provider.id, text=text, audience=audience, page=page, per_page=PER_PAGE
        )
        _, everyone = contacts.search(session, provider.id, per_page=1)
        return render(
            "console/contacts.html",
            section="contacts",
            rows=rows,
            total=total,
            everyone=everyone,
            filtered=bool(text or audience),
            args=request.args,
            audiences=CONTACT_AUDIENCES,
            audience_items=[{"value": "", "text": "Any"}]
            + [
                {"value": key, "text": label, "selected": key == audience}
                for key, label in CONTACT_AUDIENCES.items()
            ],
            name_of=contacts.display_name,
            pages=pagination(page, PER_PAGE, total),
        )


def _import_page(form: Form, **context: Any) -> ResponseReturnValue:
    return render(
        "console/volunteers_import.html",
        section="contacts",
        kind=KIND,
        noun=NOUN,
        columns=COLUMN_HELP,
        form=form,
        **context,
    )


def _preview(provider: ProviderRef, text: str, form: Form) -> ResponseReturnValue:
    """Check the text and show what importing it would do, or every problem it has."""
    with reading() as session:
        try:
            plan = contacts.plan_import(session, _provider(session, provider), text)
        except contacts.CsvImportError as error:
            count = len(error.problems)
            form.error(
                "file",
                f"The file has {count} problem{'s' if count != 1 else ''}, listed below: "
                "nothing was imported. Correct the file and upload it again",
            )
            return _import_page(form, problems=error.problems[:SHOWN], more=max(0, count - SHOWN))
    return render(
        "console/volunteers_import_preview.html",
        section="contacts",
        kind=KIND,
        noun=NOUN,
        plan=plan,
        shown=SHOWN,
        text=text,
        audiences=CONTACT_AUDIENCES,
    )


@bp.route("/<provider_slug>/contacts/import", methods=["GET", "POST"])
@staff_required
@large_upload
def contacts_import(provider: ProviderRef) -> ResponseReturnValue:
    """Show the contacts upload form, and preview an uploaded file (nothing is saved yet)."""
    form = Form()
    if request.method == "GET":
        return _import_page(form)
    text = _read_upload(form)
    if text is None:
        return _import_page(form)
    return _preview(provider, text, form)


@bp.post("/<provider_slug>/contacts/import/confirm")
@staff_required
@large_upload
def contacts_import_confirm(provider: ProviderRef) -> ResponseReturnValue:
    """Import the previewed contacts file: every row, or none if any is bad."""
    text = request.form.get("csv", "")
    form = Form()
    if not text.strip():
        form.error("file", "Choose a CSV file to upload")
        return _import_page(form)
    try:
        with writing() as session:
            plan = contacts.import_csv(session, _provider(session, provider), text)
            audit.record(
                session,
                "contacts.import",
                user=current_user.user,
                provider_id=provider.id,
                subject=f"{len(plan.new) + len(plan.updated)} contacts from CSV",
                details={"added": len(plan.new), "updated": len(plan.updated)},
            )
    except contacts.CsvImportError:
        # Only a changed text (or contacts changed since the preview) fails here.
        return _preview(provider, text, form)
    flash(
        f"Imported {len(plan.new) + len(plan.updated)} contacts: "
        f"{len(plan.new)} added, {len(plan.updated)} updated."
    )
    return redirect(url_for("console.contacts_list", provider_slug=provider.slug), 303)


@bp.get("/<provider_slug>/contacts/template.csv")
@staff_required
def contacts_template(provider: ProviderRef) -> ResponseReturnValue:
    """Give a CSV file with the columns a contacts import takes and one example row."""
    return csv_download("contacts-template.csv", contacts.COLUMNS, [contacts.EXAMPLE])


@bp.post("/<provider_slug>/contacts/<int:contact_id>/opt-out")
@staff_required
def contact_opt_out(provider: ProviderRef, contact_id: int) -> ResponseReturnValue:
    """Stop asking a contact (they asked not to be contacted): unsent messages are cancelled."""
    with writing() as session:
        found = owned(session, models.Contact, contact_id, provider.id)
        already = found.opted_out_at is not None
        cancelled = contacts.opt_out(session, found)
        if not already:
            audit.record(
                session,
                "contact.opt_out",
                user=current_user.user,
                provider_id=provider.id,
                subject=contacts.subject(found),
                details={"cancelled": cancelled},
            )
        ref = found.external_ref
    message = f"Contact {ref} will not be asked again."
    if cancelled:
        message += f" {cancelled} unsent message{'s were' if cancelled != 1 else ' was'} cancelled."
    flash(message)
    return redirect(url_for("console.contacts_list", provider_slug=provider.slug), 303)


@bp.post("/<provider_slug>/contacts/<int:contact_id>/opt-in")
@staff_required
def contact_opt_in(provider: ProviderRef, contact_id: int) -> ResponseReturnValue:
    """Ask a contact again in future rounds (they asked to be back)."""
    with writing() as session:
        found = owned(session, models.Contact, contact_id, provider.id)
        if found.erased_at is None and found.opted_out_at is not None:
            contacts.opt_in(found)
            audit.record(
                session,
                "contact.opt_in",
                user=current_user.user,
                provider_id=provider.id,
                subject=contacts.subject(found),
            )
        ref = found.external_ref
    flash(f"Contact {ref} will be asked again in new rounds.")
    return redirect(url_for("console.contacts_list", provider_slug=provider.slug), 303)
