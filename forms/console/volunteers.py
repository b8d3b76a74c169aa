"""Volunteering: volunteers, their placements with host groups and enquiries, the three CSV
imports (upload, preview, confirm) and the provider's follow-up and retention settings.

Every form is checked with the CSV import's rules (`collector.volunteering.volunteers`), so a
record is the same whichever way it came in. The audit log names records by reference and id, never
by a volunteer's name or address. An erased volunteer shows as "Erased volunteer #id".
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit, models
from collector.volunteering import volunteers as vols
from collector.volunteering.volunteers import Problem
from forms.console import bp
from forms.console.access import ProviderRef, View, staff_required
from forms.console.imports import SHOWN, _read_upload, large_upload
from forms.console.pages import (
    Form,
    csv_download,
    owned,
    page_number,
    pagination,
    reading,
    render,
    text_field,
    writing,
)

PER_PAGE = 50
DATES = ("start_date", "end_date", "date", "consent_date")
NOUNS = {"volunteers": "volunteer", "enquiries": "enquiry", "placements": "placement"}
# What each column of an import holds, for the upload page.
COLUMN_HELP = {
    "volunteers": [
        ("external_ref", "Required. Your reference for the volunteer, different on each row."),
        ("name", "Required. The volunteer's name."),
        ("consent", "Required: yes. Their details are only kept with their consent."),
        ("consent_date", "Required. When they gave it, like 2026-04-01 (or 01/04/2026)."),
        ("email", "Optional. Needed to ask them about a placement by email."),
        ("district", "Optional. Where they live, for results by location (VAL 24)."),
        ("consent_email", "Optional. yes if they agreed to be emailed."),
        ("consent_telegram", "Optional. yes if they agreed to be messaged in Telegram."),
        ("preferred_channel", "Optional. email or telegram, when both are agreed."),
    ],
    "enquiries": [
        ("external_ref", "Required. Your reference for the enquiry, different on each row."),
        ("date", "Required. When the enquiry came in, like 2026-04-01."),
        ("source", "Required. " + ", ".join(vols.SOURCES) + "."),
        ("district", "Optional. Where the enquirer lives."),
        ("outcome", "Optional. " + ", ".join(vols.OUTCOMES) + " (pending when empty)."),
        ("volunteer_ref", "Optional. The volunteer's reference, if they became one."),
    ],
    "placements": [
        ("external_ref", "Required. Your reference for the placement, different on each row."),
        ("volunteer_ref", "Required. The volunteer's reference (import volunteers first)."),
        ("host_ref", "Required. The host organisation's reference on your list."),
        ("role", "Required. The volunteering role, like Befriender."),
        ("start_date", "Required. When it starts, like 2026-04-01."),
        ("status", "Optional. active, ended or did_not_start (active when empty)."),
        ("end_date", "Only for an ended placement: when it ended."),
    ],
}
# How a form names what a CSV calls a column.
LABELS = {
    "external_ref": "reference",
    "volunteer_ref": "volunteer's reference",
    "host_ref": "host organisation's reference",
    "role": "role",
    "start_date": "start date",
    "end_date": "end date",
    "date": "date of the enquiry",
    "source": "source",
    "outcome": "outcome",
    "followup_days": "days",
    "volunteer_retention_days": "days",
}


class DatedForm(Form):
    """A form whose date fields link to their day box from the error summary."""

    def summary(self) -> list[dict[str, str]]:
        """Give the errors for the summary; a date's link goes to its day field."""
        return [
            {"text": text, "href": f"#{name}-day" if name in DATES else f"#{name}"}
            for name, text in self.errors.items()
        ]


def _provider(session: Session, provider: ProviderRef) -> models.Provider:
    row = session.get(models.Provider, provider.id)
    assert row is not None
    return row


def _date_cell(form: Form, name: str, *, required: bool) -> str:
    """Read a GOV.UK date input as the text a CSV cell holds (`form` notes a partial one)."""
    parts = {p: text_field(f"{name}-{p}", 10) for p in ("day", "month", "year")}
    form.values[name] = parts
    if not any(parts.values()):
        return ""
    if not all(v.isdigit() for v in parts.values()):
        form.error(name, f"Enter the {LABELS.get(name, 'date')} as numbers, like 1 4 2026")
        return ""
    if len(parts["year"]) != 4:
        form.error(name, "The year must include 4 numbers")
        return ""
    return f"{parts['year']}-{parts['month']}-{parts['day']}"


def _date_parts(day: date | None) -> dict[str, str]:
    if day is None:
        return {}
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}


def _report(form: Form, problems: list[Problem]) -> None:
    """Put the checks' problems on the form's fields, worded for a form."""
    for problem in problems:
        column, text = problem.column, problem.message
        label = LABELS.get(column, column.replace("_", " "))
        if text[:1].isupper():  # already worded for a form (a status change's checks)
            form.error(column, text)
        elif text.startswith("is empty"):
            form.error(column, f"Enter the {label}")
        elif column in DATES and "is not a date" in text:
            form.error(column, f"The {label} must be a real date, like 1 4 2026")
        elif column in DATES and text.endswith("is in the future"):
            form.error(column, f"The {label} must be today or in the past")
        elif column in DATES:
            form.error(column, f"The {label}: {text.split(' ', 1)[1]}")
        else:
            form.error(column or "external_ref", text[:1].upper() + text[1:])


def _choices(vocabulary: dict[str, str], chosen: str, empty: str | None) -> list[dict[str, Any]]:
    items = [{"value": "", "text": empty}] if empty is not None else []
    return items + [{"value": k, "text": v, "selected": k == chosen} for k, v in vocabulary.items()]


def _refs(session: Session, provider_id: int) -> dict[str, list[tuple[str, str]]]:
    """Give the references a form may suggest: volunteers (not erased) and organisations."""
    vol, org = models.Volunteer, models.Organisation
    volunteers = session.execute(
        select(vol.external_ref, vol.name)
        .where(vol.provider_id == provider_id, vol.erased_at.is_(None))
        .order_by(vol.external_ref)
    ).all()
    organisations = session.execute(
        select(org.external_ref, org.name)
        .where(org.provider_id == provider_id)
        .order_by(org.external_ref)
    ).all()
    return {
        "volunteers": [(r, n or "") for r, n in volunteers],
        "organisations": [(r, n) for r, n in organisations],
    }


# Volunteers -------------------------------------------------------------------------------


@bp.get("/<provider_slug>/volunteers")
@staff_required
def volunteers(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's volunteers, searched by name or reference and by district."""
    text = request.args.get("q", "")[:100]
    district = request.args.get("district", "")[:100] or None
    page = page_number()
    with reading() as session:
        rows, total = vols.search_volunteers(
            session, provider.id, text=text, district=district, page=page, per_page=PER_PAGE
        )
        everyone = vols.search_volunteers(session, provider.id, per_page=1)[1]
        districts = vols.volunteer_districts(session, provider.id)
        return render(
            "console/volunteers.html",
            section="volunteers",
            tab="volunteers",
            rows=rows,
            total=total,
            everyone=everyone,
            filtered=bool(text or district),
            args=request.args,
            district_items=_choices({d: d for d in districts}, district or "", "Any district"),
            pages=pagination(page, PER_PAGE, total),
            name_of=vols.display_name,
        )


@bp.get("/<provider_slug>/volunteers/<int:volunteer_id>")
@staff_required
def volunteer(provider: ProviderRef, volunteer_id: int) -> ResponseReturnValue:
    """Show a volunteer's details, placements and where each placement's follow-up stands."""
    with reading() as session:
        found = owned(session, models.Volunteer, volunteer_id, provider.id)
        days = _provider(session, provider).followup_days
        placements, _ = vols.search_placements(
            session, provider.id, volunteer_id=found.id, per_page=1000
        )
        enquiries = session.scalars(
            select(models.Enquiry)
            .where(models.Enquiry.volunteer_id == found.id)
            .order_by(models.Enquiry.enquired_on.desc())
        ).all()
        return render(
            "console/volunteer.html",
            section="volunteers",
            tab="volunteers",
            volunteer=found,
            name=vols.display_name(found),
            placements=placements,
            followups=vols.followups(session, placements, days),
            enquiries=enquiries,
            statuses=vols.STATUSES,
            sources=vols.SOURCES,
            outcomes=vols.OUTCOMES,
            channels=vols.CHANNELS,
        )


# Placements -------------------------------------------------------------------------------


@bp.get("/<provider_slug>/placements")
@staff_required
def placements(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's placements, newest first, by status and host."""
    status = request.args.get("status", "")
    status = status if status in vols.STATUSES else ""
    raw_host = request.args.get("host", "")
    host = int(raw_host) if raw_host.isdigit() and len(raw_host) < 10 else None
    page = page_number()
    with reading() as session:
        days = _provider(session, provider).followup_days
        rows, total = vols.search_placements(
            session, provider.id, status=status, host_id=host, page=page, per_page=PER_PAGE
        )
        hosts = vols.hosts(session, provider.id)
        return render(
            "console/placements.html",
            section="volunteers",
            tab="placements",
            rows=rows,
            total=total,
            filtered=bool(status or host),
            followups=vols.followups(session, rows, days),
            status_items=_choices(vols.STATUSES, status, "Any status"),
            host_items=_choices({str(i): n for i, n in hosts}, str(host or ""), "Any host"),
            pages=pagination(page, PER_PAGE, total),
            statuses=vols.STATUSES,
            name_of=vols.display_name,
        )


def _placement_form() -> DatedForm:
    form = DatedForm()
    for name in ("external_ref", "volunteer_ref", "host_ref", "role"):
        form.values[name] = text_field(name, 300)
    return form


def _placement_page(
    provider: ProviderRef, form: Form, placement: models.Placement | None, session: Session
) -> ResponseReturnValue:
    today = vols.uk_today()
    return render(
        "console/placement.html",
        section="volunteers",
        tab="placements",
        form=form,
        placement=placement,
        refs=_refs(session, provider.id),
        statuses=vols.STATUSES,
        name_of=vols.display_name,
        end_form=Form({"end_date": _date_parts(today)}) if "end_date" not in form.values else form,
    )


@bp.route("/<provider_slug>/placements/new", methods=["GET", "POST"])
@staff_required
def placement_new(provider: ProviderRef) -> ResponseReturnValue:
    """Add a placement of a volunteer with a host group."""
    if request.method == "GET":
        form = DatedForm({"volunteer_ref": request.args.get("volunteer", "")[:64]})
        with reading() as session:
            return _placement_page(provider, form, None, session)
    form = _placement_form()
    cells = {k: v for k, v in form.values.items() if isinstance(v, str)}
    cells["start_date"] = _date_cell(form, "start_date", required=True)
    if not form.errors:
        try:
            with writing() as session:
                added = vols.add_placement(session, _provider(session, provider), cells)
                audit.record(
                    session,
                    "placement.add",
                    user=current_user.user,
                    provider_id=provider.id,
                    subject=vols.subject(added),
                )
                placement_id = added.id
        except vols.RecordError as error:
            _report(form, error.problems)
        else:
            flash("The placement was added.")
            return redirect(
                url_for(
                    "console.placement", provider_slug=provider.slug, placement_id=placement_id
                ),
                303,
            )
    with reading() as session:
        return _placement_page(provider, form, None, session)


@bp.route("/<provider_slug>/placements/<int:placement_id>", methods=["GET", "POST"])
@staff_required
def placement(provider: ProviderRef, placement_id: int) -> ResponseReturnValue:
    """Show a placement to change, with its status actions; save the changes."""
    if request.method == "GET":
        with reading() as session:
            found = owned(session, models.Placement, placement_id, provider.id)
            cells = vols.placement_cells(found)
            form = DatedForm({k: v for k, v in cells.items() if k not in DATES})
            form.values["start_date"] = _date_parts(found.starts_on)
            return _placement_page(provider, form, found, session)
    form = _placement_form()
    start = _date_cell(form, "start_date", required=True)
    with writing() as session:
        found = owned(session, models.Placement, placement_id, provider.id)
        # The status and end date change through their own buttons, not this form.
        cells = {**vols.placement_cells(found), **form.values, "start_date": start}
        cells = {k: v for k, v in cells.items() if isinstance(v, str)}
        changed: list[str] = []
        if not form.errors:
            try:
                changed = vols.update_placement(session, found, cells)
            except vols.RecordError as error:
                _report(form, error.problems)
        if form.errors:
            return _placement_page(provider, form, found, session)
        if changed:
            audit.record(
                session,
                "placement.edit",
                user=current_user.user,
                provider_id=provider.id,
                subject=vols.subject(found),
                details={"changed": changed},
            )
    flash("The placement was saved." if changed else "Nothing about the placement changed.")
    return redirect(
        url_for("console.placement", provider_slug=provider.slug, placement_id=placement_id), 303
    )


@bp.post("/<provider_slug>/placements/<int:placement_id>/end")
@staff_required
def placement_end(provider: ProviderRef, placement_id: int) -> ResponseReturnValue:
    """Mark an active placement ended on the date given."""
    form = DatedForm()
    text = _date_cell(form, "end_date", required=True)
    ended = vols.parse_date(text) if text else None
    if ended is None and not form.errors:
        form.error("end_date", "Enter the date the placement ended, like 1 4 2026")
    with writing() as session:
        found = owned(session, models.Placement, placement_id, provider.id)
        if ended is not None:
            try:
                vols.end_placement(session, found, ended)
            except vols.RecordError as error:
                _report(form, error.problems)
        if form.errors:
            page_form = DatedForm({k: v for k, v in vols.placement_cells(found).items()})
            page_form.values["start_date"] = _date_parts(found.starts_on)
            page_form.values["end_date"] = form.values.get("end_date", {})
            page_form.errors = form.errors
            return _placement_page(provider, page_form, found, session)
        audit.record(
            session,
            "placement.end",
            user=current_user.user,
            provider_id=provider.id,
            subject=vols.subject(found),
            details={"ended_on": found.ended_on.isoformat() if found.ended_on else None},
        )
    flash("The placement was marked as ended.")
    return redirect(
        url_for("console.placement", provider_slug=provider.slug, placement_id=placement_id), 303
    )


@bp.post("/<provider_slug>/placements/<int:placement_id>/did-not-start")
@staff_required
def placement_did_not_start(provider: ProviderRef, placement_id: int) -> ResponseReturnValue:
    """Record that a placement never started: no follow-up is sent for it."""
    with writing() as session:
        found = owned(session, models.Placement, placement_id, provider.id)
        try:
            vols.mark_did_not_start(session, found)
        except vols.RecordError as error:
            flash(error.problems[0].message + ": nothing was changed.")
        else:
            audit.record(
                session,
                "placement.did_not_start",
                user=current_user.user,
                provider_id=provider.id,
                subject=vols.subject(found),
            )
            flash("The placement was marked as not started: no follow-up will be sent for it.")
    return redirect(
        url_for("console.placement", provider_slug=provider.slug, placement_id=placement_id), 303
    )


# Enquiries --------------------------------------------------------------------------------


@bp.get("/<provider_slug>/enquiries")
@staff_required
def enquiries(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's volunteer enquiries, newest first, by outcome."""
    outcome = request.args.get("outcome", "")
    outcome = outcome if outcome in vols.OUTCOMES else ""
    page = page_number()
    with reading() as session:
        rows, total = vols.search_enquiries(
            session, provider.id, outcome=outcome, page=page, per_page=PER_PAGE
        )
        return render(
            "console/enquiries.html",
            section="volunteers",
            tab="enquiries",
            rows=rows,
            total=total,
            filtered=bool(outcome),
            outcome_items=_choices(vols.OUTCOMES, outcome, "Any outcome"),
            pages=pagination(page, PER_PAGE, total),
            sources=vols.SOURCES,
            outcomes=vols.OUTCOMES,
        )


def _enquiry_page(provider: ProviderRef, form: Form, session: Session) -> ResponseReturnValue:
    return render(
        "console/enquiries_new.html",
        section="volunteers",
        tab="enquiries",
        form=form,
        refs=_refs(session, provider.id),
        source_items=_choices(vols.SOURCES, form.get("source"), "Choose a source"),
        outcome_items=_choices(vols.OUTCOMES, form.get("outcome") or "pending", None),
    )


@bp.route("/<provider_slug>/enquiries/new", methods=["GET", "POST"])
@staff_required
def enquiry_new(provider: ProviderRef) -> ResponseReturnValue:
    """Add one volunteer enquiry."""
    if request.method == "GET":
        with reading() as session:
            form = DatedForm({"date": _date_parts(vols.uk_today()), "outcome": "pending"})
            return _enquiry_page(provider, form, session)
    form = DatedForm()
    for name in ("external_ref", "source", "district", "outcome", "volunteer_ref"):
        form.values[name] = text_field(name, 300)
    cells = {k: v for k, v in form.values.items() if isinstance(v, str)}
    cells["date"] = _date_cell(form, "date", required=True)
    if not form.errors:
        try:
            with writing() as session:
                added = vols.add_enquiry(session, _provider(session, provider), cells)
                audit.record(
                    session,
                    "enquiry.add",
                    user=current_user.user,
                    provider_id=provider.id,
                    subject=vols.subject(added),
                )
        except vols.RecordError as error:
            _report(form, error.problems)
        else:
            flash("The enquiry was added.")
            return redirect(url_for("console.enquiries", provider_slug=provider.slug), 303)
    with reading() as session:
        return _enquiry_page(provider, form, session)


# Follow-up and retention settings ---------------------------------------------------------


@bp.route("/<provider_slug>/volunteers/settings", methods=["GET", "POST"])
@staff_required
def volunteers_settings(provider: ProviderRef) -> ResponseReturnValue:
    """Change how many days after a start follow-ups go, and how long details are kept."""
    if request.method == "GET":
        with reading() as session:
            row = _provider(session, provider)
            form = Form(
                {
                    "followup_days": str(row.followup_days),
                    "volunteer_retention_days": str(row.volunteer_retention_days),
                }
            )
        return render(
            "console/volunteers_settings.html", section="volunteers", tab="settings", form=form
        )
    form = Form({k: text_field(k, 10) for k in ("followup_days", "volunteer_retention_days")})
    with writing() as session:
        row = _provider(session, provider)
        try:
            changed = vols.set_followup_settings(
                session, row, form.get("followup_days"), form.get("volunteer_retention_days")
            )
        except vols.RecordError as error:
            for problem in error.problems:
                form.error(problem.column, problem.message)
            return render(
                "console/volunteers_settings.html", section="volunteers", tab="settings", form=form
            )
        if changed:
            audit.record(
                session,
                "provider.volunteer_settings",
                user=current_user.user,
                provider_id=provider.id,
                subject=provider.slug,
                details={k: getattr(row, k) for k in changed},
            )
    flash("The settings were saved." if changed else "Nothing changed.")
    return redirect(url_for("console.volunteers_settings", provider_slug=provider.slug), 303)


# CSV imports ------------------------------------------------------------------------------


def _import_page(kind: str, form: Form, **context: Any) -> ResponseReturnValue:
    return render(
        "console/volunteers_import.html",
        section="volunteers",
        tab=kind,
        kind=kind,
        noun=NOUNS[kind],
        columns=COLUMN_HELP[kind],
        form=form,
        **context,
    )


def _preview(provider: ProviderRef, kind: str, text: str, form: Form) -> ResponseReturnValue:
    """Check the text and show what importing it would do, or every problem it has."""
    with reading() as session:
        try:
            plan = vols.plan_import(session, _provider(session, provider), kind, text)
        except vols.CsvImportError as error:
            count = len(error.problems)
            form.error(
                "file",
                f"The file has {count} problem{'s' if count != 1 else ''}, listed below: "
                "nothing was imported. Correct the file and upload it again",
            )
            return _import_page(
                kind, form, problems=error.problems[:SHOWN], more=max(0, count - SHOWN)
            )
    return render(
        "console/volunteers_import_preview.html",
        section="volunteers",
        tab=kind,
        kind=kind,
        noun=NOUNS[kind],
        plan=plan,
        shown=SHOWN,
        text=text,
        statuses=vols.STATUSES,
        sources=vols.SOURCES,
        outcomes=vols.OUTCOMES,
    )


def _upload_view(kind: str) -> View:
    def view(provider: ProviderRef) -> ResponseReturnValue:
        form = Form()
        if request.method == "GET":
            return _import_page(kind, form)
        text = _read_upload(form)
        if text is None:
            return _import_page(kind, form)
        return _preview(provider, kind, text, form)

    view.__name__ = f"{kind}_import"
    view.__doc__ = f"Show the {kind} upload form, and preview an uploaded file (nothing saved)."
    return view


def _confirm_view(kind: str) -> View:
    def view(provider: ProviderRef) -> ResponseReturnValue:
        text = request.form.get("csv", "")
        form = Form()
        if not text.strip():
            form.error("file", "Choose a CSV file to upload")
            return _import_page(kind, form)
        try:
            with writing() as session:
                plan = vols.import_csv(session, _provider(session, provider), kind, text)
                audit.record(
                    session,
                    f"{kind}.import",
                    user=current_user.user,
                    provider_id=provider.id,
                    subject=f"{len(plan.new) + len(plan.updated)} {kind} from CSV",
                    details={"added": len(plan.new), "updated": len(plan.updated)},
                )
        except vols.CsvImportError:
            # Only a changed text (or records changed since the preview) fails here.
            return _preview(provider, kind, text, form)
        flash(
            f"Imported {len(plan.new) + len(plan.updated)} {kind}: "
            f"{len(plan.new)} added, {len(plan.updated)} updated."
        )
        return redirect(url_for(f"console.{kind}", provider_slug=provider.slug), 303)

    view.__name__ = f"{kind}_import_confirm"
    view.__doc__ = f"Import the previewed {kind} file: every row, or none if any is bad."
    return view


def _template_view(kind: str) -> View:
    def view(provider: ProviderRef) -> ResponseReturnValue:
        headers, rows = vols.rows_for_csv(kind)
        return csv_download(f"{kind}-template.csv", headers, rows)

    view.__name__ = f"{kind}_template"
    view.__doc__ = f"Give a CSV file with the columns a {kind} import takes and an example row."
    return view


for _kind in vols.KINDS:
    bp.add_url_rule(
        f"/<provider_slug>/{_kind}/import",
        f"{_kind}_import",
        staff_required(large_upload(_upload_view(_kind))),
        methods=["GET", "POST"],
    )
    bp.add_url_rule(
        f"/<provider_slug>/{_kind}/import/confirm",
        f"{_kind}_import_confirm",
        staff_required(large_upload(_confirm_view(_kind))),
        methods=["POST"],
    )
    bp.add_url_rule(
        f"/<provider_slug>/{_kind}/template.csv",
        f"{_kind}_template",
        staff_required(_template_view(_kind)),
        methods=["GET"],
    )
