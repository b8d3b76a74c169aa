"""Surveys: the built-in ones and those imported, each as an XLSForm to download; and importing
an XLSForm (from KoboToolbox, ODK or SurveyCTO) as a new survey or a new version.

An import is checked in full before anything is stored: a form pyxform refuses, or one with
problems tempcheck cannot get past (no English text, no question it can ask), is refused with
every problem listed; a form that imports lists what it left out, by sheet and row.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from collector import audit
from collector.survey.loader import SurveyDefinitionError
from collector.survey.store import SurveyChanged, register
from collector.survey.xlsform import find_survey, import_survey, write_xlsform
from forms.console import bp
from forms.console.access import ProviderRef, View, staff_required
from forms.console.pages import Form, reading, render, writing
from forms.console.rounds import survey_choices

XLSFORM_LIMIT = 5 * 1024 * 1024  # bytes: a large form with its translations
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _large_upload(view: View) -> View:
    view.max_upload = XLSFORM_LIMIT  # type: ignore[attr-defined]
    return view


def _page(form: Form, problems: list[str] | None = None) -> ResponseReturnValue:
    with reading() as session:
        surveys = survey_choices(session)
    return render(
        "console/surveys.html",
        section="rounds",
        form=form,
        surveys=surveys,
        problems=problems or [],
    )


@bp.get("/<provider_slug>/surveys")
@staff_required
def surveys(provider: ProviderRef) -> ResponseReturnValue:
    """List the surveys a round can use, with the XLSForm upload."""
    return _page(Form())


@bp.post("/<provider_slug>/surveys")
@staff_required
@_large_upload
def surveys_import(provider: ProviderRef) -> ResponseReturnValue:
    """Import an uploaded XLSForm, or say why not (nothing stored)."""
    form = Form(values=dict(request.form))
    upload = request.files.get("file")
    version_text = request.form.get("version", "").strip()
    version = None
    if version_text:
        if not version_text.isdigit() or not 1 <= int(version_text) <= 999_999:
            form.error("version", "Enter the version as a whole number, like 2, or leave it empty")
        else:
            version = int(version_text)
    if upload is None or not upload.filename:
        form.error("file", "Choose an XLSForm (.xlsx or .xls) to upload")
    if form.errors or upload is None:
        return _page(form)
    content = upload.read(XLSFORM_LIMIT + 1)
    try:
        imported = import_survey(content, upload.filename or "form.xlsx", version=version)
    except SurveyDefinitionError as error:
        count = len(error.problems)
        form.error(
            "file",
            f"The form has {count} problem{'s' if count != 1 else ''}, listed below: nothing "
            "was imported",
        )
        return _page(form, error.problems)
    survey = imported.survey
    with writing() as session:
        try:
            register(session, survey)
        except SurveyChanged as error:
            form.error("version", f"{error.message} Enter a new version number.")
            return _page(form)
        audit.record(
            session,
            "survey.import",
            user=current_user.user,
            provider_id=provider.id,
            subject=f"{survey.id} v{survey.version}",
            details={"notes": len(imported.notes)},
        )
    flash(
        f"Imported ‘{survey.title.get()}’ ({survey.id}, version {survey.version}, "
        f"{len(survey.answerable_questions())} questions). Rounds can use it now.",
        "success",
    )
    return render(
        "console/surveys_imported.html", section="rounds", survey=survey, notes=imported.notes
    )


@bp.get("/<provider_slug>/surveys/<survey_id>.xlsx")
@staff_required
def survey_xlsform(provider: ProviderRef, survey_id: str) -> ResponseReturnValue:
    """Give a survey (built-in, or stored: ID or ID:VERSION) as an XLSForm workbook."""
    from flask import Response

    with reading() as session:
        survey = find_survey(session, survey_id)
    if survey is None:
        flash(f"There is no survey ‘{survey_id}’.", "error")
        return redirect(url_for("console.surveys", provider_slug=provider.slug))
    response = Response(write_xlsform(survey), mimetype=XLSX)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{survey.id}-v{survey.version}.xlsx"'
    )
    return response
