"""Activities: what a provider did, recorded for its framework's indicators that are not surveys
(events, health checks, guidance, funding applications and their amounts), listed and imported
from CSV (every row checked first: the file is taken whole or not at all, every problem
listed). Evidence and milestones are recorded with `tempcheck evidence` and `tempcheck
milestones` for now."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from collector import activities as acts
from collector import audit, models
from forms.console import bp
from forms.console.access import ProviderRef, staff_required
from forms.console.imports import SHOWN, _read_upload, large_upload
from forms.console.pages import Form, csv_download, reading, render, writing

# What each column of the import holds, for the page.
COLUMN_HELP = [
    ("external_ref", "Required. Your reference for the activity, different on each row."),
    ("kind", "Required. " + ", ".join(acts.ACTIVITY_KINDS) + "."),
    ("date", "Required. When it happened, like 2026-04-01, inside a reporting period."),
    ("organisation_ref", "Optional. The reference of the group helped, on your list."),
    ("description", "Optional. What it was."),
    ("amount_applied", "A funding application only: the amount applied for, in pounds."),
    ("amount_obtained", "A funding application only: the amount obtained, in pounds."),
    ("beneficiaries", "Optional. The beneficiaries reached, estimated."),
]


def _page(provider: ProviderRef, form: Form, **context: Any) -> ResponseReturnValue:
    with reading() as session:
        rows = acts.activities(session, provider.id, limit=100)
        total = session.scalar(
            select(func.count(models.ActivityRecord.id)).where(
                models.ActivityRecord.provider_id == provider.id
            )
        )
        listed = [
            {
                "on": r.occurred_on,
                "ref": r.external_ref or "–",
                "kind": acts.ACTIVITY_KINDS.get(r.kind, r.kind),
                "group": r.organisation.name if r.organisation else "–",
                "description": r.description or "–",
                "obtained": "–"
                if r.amount_obtained_pence is None
                else f"£{r.amount_obtained_pence / 100:,.2f}",
            }
            for r in rows
        ]
    return render(
        "console/activities.html",
        section="activities",
        form=form,
        rows=listed,
        total=total or 0,
        columns=COLUMN_HELP,
        **context,
    )


@bp.get("/<provider_slug>/activities")
@staff_required
def activities(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's latest activity records, with the CSV import form."""
    return _page(provider, Form(), problems=[], more=0)


@bp.post("/<provider_slug>/activities/import")
@staff_required
@large_upload
def activities_import(provider: ProviderRef) -> ResponseReturnValue:
    """Import an activity CSV: every row, or nothing and every problem listed."""
    form = Form()
    text = _read_upload(form)
    if text is None:
        return _page(provider, form, problems=[], more=0)
    try:
        with writing() as session:
            row = session.get(models.Provider, provider.id)
            assert row is not None
            plan = acts.import_activities(session, row, text)
            audit.record(
                session,
                "activities.import",
                user=current_user.user,
                provider_id=provider.id,
                subject=f"{len(plan.new) + len(plan.updated)} activities from CSV",
                details={"added": len(plan.new), "updated": len(plan.updated)},
            )
    except acts.CsvImportError as error:
        count = len(error.problems)
        form.error(
            "file",
            f"The file has {count} problem{'s' if count != 1 else ''}, listed below: nothing "
            "was imported. Correct the file and upload it again",
        )
        return _page(provider, form, problems=error.problems[:SHOWN], more=max(0, count - SHOWN))
    flash(f"Imported {len(plan.new)} new and {len(plan.updated)} updated activities.")
    return redirect(url_for("console.activities", provider_slug=provider.slug), 303)


@bp.get("/<provider_slug>/activities/template.csv")
@staff_required
def activities_template(provider: ProviderRef) -> ResponseReturnValue:
    """Give a CSV file with the columns an activity import takes and an example row."""
    return csv_download("activities-template.csv", [*acts.REQUIRED, *acts.OPTIONAL], [acts.EXAMPLE])
