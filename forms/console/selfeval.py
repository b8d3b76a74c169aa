"""The two-way self-evaluation (issue 16) in the console: a provider's self-evaluations, each
one's perception-gap report (page, PDF, workbook), handing a reviewed round over, entering a
side's agreed ratings after a facilitated meeting, publishing, and the action plan; and the
published report for its funders.

Rounds themselves are opened and closed like any other (the Rounds pages and `tempcheck
selfeval`); these pages are about what only a self-evaluation has.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, abort, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import Session

from analysis.render.selfeval import action_plan_xlsx, gap_html, gap_pdf, gap_xlsx
from analysis.selfeval import GapReport, build_gap_report
from collector import audit, models, selfeval
from collector.selfeval import ACTION_STATUSES, CHOICES, QUESTIONS, SIDES, ActionInput
from forms.console import bp, funder_bp
from forms.console.access import ProviderRef, reader_required, staff_required
from forms.console.pages import Form, owned, reading, render, text_field, writing

MIME = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _evaluation(
    session: Session, provider: ProviderRef, evaluation_id: int
) -> tuple[models.Round, models.SelfEvaluation]:
    """Give the provider's round and its self-evaluation, or "not found"."""
    evaluation = session.get(models.SelfEvaluation, evaluation_id)
    if evaluation is None or evaluation.round.provider_id != provider.id:
        abort(404)
    return evaluation.round, evaluation


def _subject(round_: models.Round) -> str:
    return f"round {round_.id} ({round_.period_label})"


def _file(data: bytes, kind: str, name: str) -> Response:
    response = Response(data, mimetype=MIME[kind])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _stem(report: GapReport) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"self-evaluation {report.period}".lower()).strip("-")


@bp.get("/<provider_slug>/self-evaluations")
@staff_required
def selfeval_list(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's self-evaluations, newest first."""
    with reading() as session:
        rows = [(e, e.round) for e in selfeval.evaluations_of(session, provider.id)]
        return render(
            "console/selfeval_list.html", section="reports", rows=rows, modes=selfeval.MODES
        )


@bp.get("/<provider_slug>/self-evaluations/<int:evaluation_id>")
@staff_required
def selfeval_report(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Show a self-evaluation's perception-gap report as it stands, with what staff can do."""
    with reading() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        return _report_page(session, round_)


def _report_page(
    session: Session, round_: models.Round, *, problem: str | None = None, status: int = 200
) -> ResponseReturnValue:
    evaluation = selfeval.require(session, round_.id)
    report = build_gap_report(session, round_)
    return render(
        "console/selfeval_report.html",
        status=status,
        section="reports",
        round=round_,
        evaluation=evaluation,
        report=report,
        fragment=Markup(gap_html(report, standalone=False)),
        sides=SIDES,
        problem=problem,
    )


@bp.get("/<provider_slug>/self-evaluations/<int:evaluation_id>/report.<any(pdf, xlsx):kind>")
@staff_required
def selfeval_download(provider: ProviderRef, evaluation_id: int, kind: str) -> ResponseReturnValue:
    """Download the report as it stands, as a PDF or a workbook."""
    with reading() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        report = build_gap_report(session, round_)
    data = gap_pdf(report) if kind == "pdf" else gap_xlsx(report)
    return _file(data, kind, _stem(report))


@bp.post("/<provider_slug>/self-evaluations/<int:evaluation_id>/publish")
@staff_required
def selfeval_publish(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Publish a closed self-evaluation's report to the provider's funders."""
    with writing() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        try:
            selfeval.publish(session, round_, by=current_user.user.email)
        except selfeval.SelfEvaluationError as error:
            return _report_page(session, round_, problem=str(error), status=409)
        audit.record(
            session,
            "selfeval.publish",
            user=current_user.user,
            provider_id=provider.id,
            subject=_subject(round_),
        )
    flash("The perception-gap report is published: the provider's funders can read it.")
    return redirect(
        url_for(
            "console.selfeval_report", provider_slug=provider.slug, evaluation_id=evaluation_id
        ),
        303,
    )


@bp.post("/<provider_slug>/self-evaluations/<int:evaluation_id>/hand-over")
@staff_required
def selfeval_hand_over(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Invite the reviewing side of a round run one side first."""
    with writing() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        try:
            invited = selfeval.hand_over(session, round_)
        except selfeval.SelfEvaluationError as error:
            return _report_page(session, round_, problem=str(error), status=409)
        audit.record(
            session,
            "selfeval.hand_over",
            user=current_user.user,
            provider_id=provider.id,
            subject=_subject(round_),
            details={"invited": invited},
        )
    flash(f"Handed over: {invited} invitation{'s' if invited != 1 else ''} queued.")
    return redirect(
        url_for(
            "console.selfeval_report", provider_slug=provider.slug, evaluation_id=evaluation_id
        ),
        303,
    )


def _agreed_page(
    session: Session, provider: ProviderRef, round_: models.Round, form: Form, status: int = 200
) -> ResponseReturnValue:
    agreed = selfeval.agreed_ratings(session, round_.id)
    return render(
        "console/selfeval_agreed.html",
        status=status,
        section="reports",
        round=round_,
        evaluation=selfeval.require(session, round_.id),
        form=form,
        agreed=agreed,
        sides=SIDES,
        questions={qid: selfeval.question_title(qid) for qid in QUESTIONS},
        choices=CHOICES,
    )


@bp.route("/<provider_slug>/self-evaluations/<int:evaluation_id>/agreed", methods=["GET", "POST"])
@staff_required
def selfeval_agreed(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Enter one side's agreed rating of a question, with its evidence, after a meeting."""
    form = Form()
    with writing() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        if request.method == "GET":
            return _agreed_page(session, provider, round_, form)
        form.values = {
            "side": text_field("side", 8),
            "question": text_field("question", 64),
            "level": text_field("level", 16),
            "evidence": text_field("evidence", 2100),
            "comment": text_field("comment", 2100),
            "prioritise": request.form.get("prioritise") == "yes",
        }
        try:
            selfeval.record_agreed(
                session,
                round_,
                side=form.values["side"],
                question_id=form.values["question"],
                level=form.values["level"],
                evidence=form.values["evidence"],
                comment=form.values["comment"],
                prioritise=form.values["prioritise"],
                by=current_user.user.email,
            )
        except selfeval.SelfEvaluationError as error:
            for name, message in error.errors.items():
                form.error(name or "level", message)
            return _agreed_page(session, provider, round_, form, status=422)
        audit.record(
            session,
            "selfeval.agreed",
            user=current_user.user,
            provider_id=provider.id,
            subject=_subject(round_),
            details={"side": form.values["side"], "question": form.values["question"]},
        )
    flash(
        f"Saved the {SIDES[form.values['side']].lower()}'s agreed rating of "
        f"{selfeval.question_title(form.values['question'])}."
    )
    return redirect(
        url_for(
            "console.selfeval_agreed", provider_slug=provider.slug, evaluation_id=evaluation_id
        ),
        303,
    )


def _action_form() -> tuple[Form, ActionInput]:
    values = {
        "question": text_field("question", 64),
        "text": text_field("text", 2100),
        "owner": text_field("owner", 300),
        "due_on": text_field("due_on", 20),
        "status": text_field("status", 20) or "planned",
        "review_on": text_field("review_on", 20),
    }
    given = ActionInput(
        question_id=values["question"],
        text=values["text"],
        owner=values["owner"],
        due_on=values["due_on"],
        status=values["status"],
        review_on=values["review_on"],
    )
    return Form(values=values), given


def _plan_page(
    session: Session,
    round_: models.Round,
    form: Form,
    *,
    action: models.EvaluationAction | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    report = build_gap_report(session, round_)
    return render(
        "console/selfeval_actions.html" if action is None else "console/selfeval_action.html",
        status=status,
        section="reports",
        round=round_,
        evaluation=selfeval.require(session, round_.id),
        report=report,
        form=form,
        action=action,
        questions={qid: selfeval.question_title(qid) for qid in QUESTIONS},
        statuses=ACTION_STATUSES,
    )


def _form_errors(form: Form, error: selfeval.SelfEvaluationError) -> None:
    for name, message in error.errors.items():
        form.error(name or "text", message)


@bp.get("/<provider_slug>/self-evaluations/<int:evaluation_id>/actions")
@staff_required
def selfeval_actions(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Show the action plan, overdue actions flagged, with a form to add one."""
    with reading() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        wanted = request.args.get("question", "")
        form = Form(values={"question": wanted if wanted in QUESTIONS else "", "status": "planned"})
        return _plan_page(session, round_, form)


@bp.post("/<provider_slug>/self-evaluations/<int:evaluation_id>/actions")
@staff_required
def selfeval_action_add(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Add an action to the plan; a bad one is refused with its reasons, nothing saved."""
    form, given = _action_form()
    with writing() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        try:
            action = selfeval.add_action(session, round_, given, by=current_user.user.email)
        except selfeval.SelfEvaluationError as error:
            _form_errors(form, error)
            return _plan_page(session, round_, form, status=422)
        audit.record(
            session,
            "selfeval.action_add",
            user=current_user.user,
            provider_id=provider.id,
            subject=f"action {action.id} of {_subject(round_)}",
        )
    flash("Action added to the plan.")
    return redirect(
        url_for(
            "console.selfeval_actions", provider_slug=provider.slug, evaluation_id=evaluation_id
        ),
        303,
    )


@bp.route(
    "/<provider_slug>/self-evaluations/<int:evaluation_id>/actions/<int:action_id>",
    methods=["GET", "POST"],
)
@staff_required
def selfeval_action_edit(
    provider: ProviderRef, evaluation_id: int, action_id: int
) -> ResponseReturnValue:
    """Change an action (its status, dates, owner); a bad change is refused, nothing lost."""
    with writing() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        action = owned(session, models.EvaluationAction, action_id, provider.id)
        if action.round_id != round_.id:
            abort(404)
        if request.method == "GET":
            form = Form(
                values={
                    "question": action.question_id,
                    "text": action.text,
                    "owner": action.owner,
                    "due_on": action.due_on.isoformat(),
                    "status": action.status,
                    "review_on": action.review_on.isoformat() if action.review_on else "",
                }
            )
            return _plan_page(session, round_, form, action=action)
        form, given = _action_form()
        try:
            selfeval.update_action(session, action, given, by=current_user.user.email)
        except selfeval.SelfEvaluationError as error:
            # Checked before anything is set: the action is as it was.
            _form_errors(form, error)
            return _plan_page(session, round_, form, action=action, status=422)
        audit.record(
            session,
            "selfeval.action_edit",
            user=current_user.user,
            provider_id=provider.id,
            subject=f"action {action.id} of {_subject(round_)}",
        )
    flash("Action saved.")
    return redirect(
        url_for(
            "console.selfeval_actions", provider_slug=provider.slug, evaluation_id=evaluation_id
        ),
        303,
    )


@bp.get("/<provider_slug>/self-evaluations/<int:evaluation_id>/actions.xlsx")
@staff_required
def selfeval_actions_xlsx(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Download the action plan as a workbook."""
    with reading() as session:
        round_, _ = _evaluation(session, provider, evaluation_id)
        report = build_gap_report(session, round_)
    return _file(action_plan_xlsx(report), "xlsx", _stem(report) + "-action-plan")


# The published report, for the provider's funders (and its staff) ---------------------------


def _published(session: Session, provider: ProviderRef, evaluation_id: int) -> models.Round:
    round_, evaluation = _evaluation(session, provider, evaluation_id)
    if evaluation.published_at is None:
        abort(404)
    return round_


def published_of(session: Session, provider_id: int) -> list[tuple[models.SelfEvaluation, Any]]:
    """List a provider's published self-evaluations with their rounds, newest first."""
    return [
        (e, e.round)
        for e in selfeval.evaluations_of(session, provider_id)
        if e.published_at is not None
    ]


@funder_bp.get("/<provider_slug>/self-evaluations/<int:evaluation_id>", endpoint="selfeval")
@reader_required
def funder_selfeval(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Show a published self-evaluation's report: counts and agreed words, no member's words."""
    with reading() as session:
        round_ = _published(session, provider, evaluation_id)
        report = build_gap_report(session, round_, for_funder=True)
        staff = g.account.role == "staff"
        return render(
            "funder/selfeval.html",
            area=None if staff else "funder",
            section="reports" if staff else None,
            evaluation=selfeval.require(session, round_.id),
            report=report,
            fragment=Markup(gap_html(report, standalone=False)),
        )


@funder_bp.get("/<provider_slug>/self-evaluations/<int:evaluation_id>.pdf", endpoint="selfeval_pdf")
@reader_required
def funder_selfeval_pdf(provider: ProviderRef, evaluation_id: int) -> ResponseReturnValue:
    """Download a published self-evaluation's report as a PDF."""
    with reading() as session:
        round_ = _published(session, provider, evaluation_id)
        report = build_gap_report(session, round_, for_funder=True)
        # The PDF kept at publication (the CLI's `selfeval publish`), else made now.
        pdf = selfeval.require(session, round_.id).pdf
    return _file(pdf or gap_pdf(report), "pdf", _stem(report))
