"""Organisations: the provider's list with search and filters, add, edit, opt out and back in.

Add and edit check a group's fields with the CSV import's rules (`collector.organisations`),
so a group is the same whichever way it came in.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from collector import audit, models
from collector import organisations as orgs
from collector.organisations import Problem
from collector.segments import INCOME_BANDS, ORGANISATION_TYPES, OUTCOMES
from forms.console import bp
from forms.console.access import ProviderRef, staff_required
from forms.console.pages import (
    Form,
    owned,
    page_number,
    pagination,
    reading,
    render,
    text_field,
    writing,
)

PER_PAGE = 50
# What a form says for a problem the CSV import words for a file.
EMPTY = {"external_ref": "Enter a reference", "name": "Enter the group's name"}
TOO_LONG = {
    "external_ref": "The reference must be 64 characters or fewer",
    "name": "The name must be 200 characters or fewer",
}


def _filters() -> orgs.Filters:
    args = request.args

    def choice(name: str, allowed: Any) -> str | None:
        value = args.get(name, "")
        return value if value in allowed else None

    def yes_no(name: str) -> bool | None:
        return {"yes": True, "no": False}.get(args.get(name, ""))

    return orgs.Filters(
        text=args.get("q", "")[:100],
        org_type=choice("org_type", ORGANISATION_TYPES),
        district=args.get("district", "")[:100] or None,
        income_band=choice("income_band", [*INCOME_BANDS, "unknown"]),
        member=yes_no("member"),
        outcome=choice("outcome", OUTCOMES),
        opted_out=yes_no("opted_out"),
    )


@bp.get("/<provider_slug>/organisations")
@staff_required
def organisations(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's organisations, searched and filtered, a page at a time."""
    filters = _filters()
    page = page_number()
    with reading() as session:
        rows, total = orgs.search(session, provider.id, filters, page=page, per_page=PER_PAGE)
        everyone = orgs.search(session, provider.id, orgs.Filters(), per_page=1)[1]
        districts = orgs.districts(session, provider.id)
    return render(
        "console/organisations.html",
        section="organisations",
        rows=rows,
        total=total,
        everyone=everyone,
        filters=filters,
        filtered=filters != orgs.Filters(),
        selects=_selects(filters, districts),
        args=request.args,
        pages=pagination(page, PER_PAGE, total),
        first=(page - 1) * PER_PAGE + 1,
        types=ORGANISATION_TYPES,
        bands=INCOME_BANDS,
        outcomes=OUTCOMES,
    )


def _selects(filters: orgs.Filters, districts: list[str]) -> list[dict[str, Any]]:
    """Give the filter drop-downs, each with its choice selected."""

    def select(name: str, label: str, options: Any, chosen: Any, anything: str) -> dict[str, Any]:
        items = [{"value": "", "text": anything}]
        items += [{"value": v, "text": t, "selected": v == chosen} for v, t in options]
        return {"id": name, "label": label, "items": items}

    yes_no = {True: "yes", False: "no"}
    return [
        select(
            "org_type", "Type of group", ORGANISATION_TYPES.items(), filters.org_type, "Any type"
        ),
        select(
            "district", "District", [(d, d) for d in districts], filters.district, "Any district"
        ),
        select(
            "income_band",
            "Income",
            [*INCOME_BANDS.items(), ("unknown", "Not recorded")],
            filters.income_band,
            "Any income",
        ),
        select(
            "member",
            "Member",
            [("yes", "Members"), ("no", "Not members")],
            yes_no.get(filters.member) if filters.member is not None else None,
            "Members or not",
        ),
        select("outcome", "Outcome area", OUTCOMES.items(), filters.outcome, "Any outcome area"),
        select(
            "opted_out",
            "Opted out",
            [("no", "Still asked"), ("yes", "Opted out")],
            yes_no.get(filters.opted_out) if filters.opted_out is not None else None,
            "Either",
        ),
    ]


def _posted() -> Form:
    """Read an organisation's form as sent."""
    values: dict[str, Any] = {
        name: text_field(name, 300)
        for name in ("external_ref", "name", "org_type", "income_band", "district", "contact_email")
    }
    values["outcomes"] = [o for o in OUTCOMES if o in request.form.getlist("outcomes")]
    values["is_member"] = request.form.get("is_member", "")
    values["consent_email"] = "yes" if request.form.get("consent_email") == "yes" else "no"
    values["consent_telegram"] = "yes" if request.form.get("consent_telegram") == "yes" else "no"
    return Form(values)


def _cells(form: Form) -> dict[str, str]:
    """Give the form's values as the CSV row they stand for."""
    cells = {k: v for k, v in form.values.items() if isinstance(v, str)}
    cells["outcomes"] = ";".join(form.values["outcomes"])
    return cells


def _form_of(organisation: models.Organisation) -> Form:
    cells = orgs.as_cells(organisation)
    values: dict[str, Any] = dict(cells)
    values["outcomes"] = [o for o in cells["outcomes"].split(";") if o]
    return Form(values)


def _report(form: Form, problems: list[Problem]) -> None:
    """Put the import's problems on the form's fields, worded for a form."""
    for problem in problems:
        column, text = problem.column, problem.message
        if text == "is empty":
            form.error(column, EMPTY.get(column, "Enter a value"))
        elif text == "is too long":
            form.error(column, TOO_LONG.get(column, "This is too long"))
        elif column == "org_type":
            form.error(column, "Choose the type of group")
        elif column == "income_band":
            form.error(column, "Choose an income band from the list")
        elif column == "outcomes":
            form.error(column, "Choose outcome areas from the list")
        elif column == "is_member":
            form.error(column, "Say whether the group is a member")
        elif column == "contact_email":
            form.error(
                column, "Enter an email address in the correct format, like name@example.org"
            )
        elif column == "consent_email":
            form.error(
                "contact_email", "Enter the email address the group agreed to be contacted at"
            )
        else:
            form.error(column or "name", text[:1].upper() + text[1:])


def _edit_page(
    provider: ProviderRef, form: Form, organisation: models.Organisation | None
) -> ResponseReturnValue:
    return render(
        "console/organisation.html",
        section="organisations",
        form=form,
        organisation=organisation,
        types=ORGANISATION_TYPES,
        bands=INCOME_BANDS,
        outcomes=OUTCOMES,
    )


def _subject(organisation: models.Organisation) -> str:
    return f"organisation {organisation.external_ref} ({organisation.name})"[:200]


@bp.route("/<provider_slug>/organisations/new", methods=["GET", "POST"])
@staff_required
def organisation_new(provider: ProviderRef) -> ResponseReturnValue:
    """Add one organisation to the provider's list."""
    if request.method == "GET":
        return _edit_page(provider, Form({"outcomes": [], "is_member": "no"}), None)
    form = _posted()
    try:
        with writing() as session:
            row = session.get(models.Provider, provider.id)
            assert row is not None
            added = orgs.add_organisation(session, row, _cells(form))
            audit.record(
                session,
                "organisation.add",
                user=current_user.user,
                provider_id=provider.id,
                subject=_subject(added),
            )
            name = added.name
    except orgs.OrganisationError as error:
        # Nothing was added: the checks come before any change (and it rolled back).
        _report(form, error.problems)
        return _edit_page(provider, form, None)
    flash(f"{name} was added.")
    return redirect(url_for("console.organisations", provider_slug=provider.slug), 303)


@bp.route("/<provider_slug>/organisations/<int:organisation_id>", methods=["GET", "POST"])
@staff_required
def organisation(provider: ProviderRef, organisation_id: int) -> ResponseReturnValue:
    """Show an organisation's details to change, and save the changes."""
    if request.method == "GET":
        with reading() as session:
            found = owned(session, models.Organisation, organisation_id, provider.id)
            return _edit_page(provider, _form_of(found), found)
    form = _posted()
    with writing() as session:
        found = owned(session, models.Organisation, organisation_id, provider.id)
        try:
            changed = orgs.update_organisation(session, found, _cells(form))
        except orgs.OrganisationError as error:
            # Nothing was changed: the checks come before any change.
            _report(form, error.problems)
            return _edit_page(provider, form, found)
        if changed:
            # The names of the changed fields, never their values (an address is personal).
            audit.record(
                session,
                "organisation.edit",
                user=current_user.user,
                provider_id=provider.id,
                subject=_subject(found),
                details={"changed": changed},
            )
        name = found.name
    flash(f"{name} was saved." if changed else f"Nothing about {name} changed.")
    return redirect(url_for("console.organisations", provider_slug=provider.slug), 303)


@bp.post("/<provider_slug>/organisations/<int:organisation_id>/opt-out")
@staff_required
def organisation_opt_out(provider: ProviderRef, organisation_id: int) -> ResponseReturnValue:
    """Stop asking a group (it asked not to be contacted): unsent messages are cancelled."""
    with writing() as session:
        found = owned(session, models.Organisation, organisation_id, provider.id)
        already = found.opted_out_at is not None
        cancelled = orgs.opt_out(session, found)
        if not already:
            audit.record(
                session,
                "organisation.opt_out",
                user=current_user.user,
                provider_id=provider.id,
                subject=_subject(found),
                details={"cancelled": cancelled},
            )
        name = found.name
    message = f"{name} will not be asked again."
    if cancelled:
        message += f" {cancelled} unsent message{'s were' if cancelled != 1 else ' was'} cancelled."
    flash(message)
    return redirect(
        url_for(
            "console.organisation", provider_slug=provider.slug, organisation_id=organisation_id
        ),
        303,
    )


@bp.post("/<provider_slug>/organisations/<int:organisation_id>/opt-in")
@staff_required
def organisation_opt_in(provider: ProviderRef, organisation_id: int) -> ResponseReturnValue:
    """Ask a group again in future rounds (it asked to be back)."""
    with writing() as session:
        found = owned(session, models.Organisation, organisation_id, provider.id)
        if found.opted_out_at is not None:
            orgs.opt_in(found)
            audit.record(
                session,
                "organisation.opt_in",
                user=current_user.user,
                provider_id=provider.id,
                subject=_subject(found),
            )
        name = found.name
    flash(f"{name} will be asked again in new rounds.")
    return redirect(
        url_for(
            "console.organisation", provider_slug=provider.slug, organisation_id=organisation_id
        ),
        303,
    )
