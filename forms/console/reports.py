"""Reports: staff see each round's KPI report live (a draft), explain each result in a
narrative, and publish it; funders (and the provider's staff) read what was published.

A draft is built on every visit from the answers as they stand. Publishing freezes it: the
snapshot keeps the report's data, its PDF and its workbook, and the funders are emailed
(`analysis.publish.build`, then `collector.reports.store_built`). The funder pages only ever
show snapshots, so what a funder reads is what they were sent; every small cell was suppressed
by the report before it was frozen.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from html import unescape

from flask import Response, abort, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.drift import published_changes
from analysis.kpis.definitions import Framework
from analysis.kpis.results import KpiResult
from analysis.model import OVERVIEW, KpiReport, ReportDataError
from analysis.publish import build, build_report, frameworks_for
from analysis.render.formats import n_text, result_text, status_word
from analysis.render.html import report_html
from collector import audit, localtime, models, reports
from collector.errors import CollectorError
from forms.console import bp, funder_bp
from forms.console.access import ProviderRef, reader_required, staff_required
from forms.console.pages import Form, owned, reading, render, writing

log = logging.getLogger(__name__)

NARRATIVE_LENGTH = reports.NARRATIVE_MAX
MIME = {"pdf": reports.PDF_TYPE, "xlsx": reports.XLSX_TYPE}


# What the pages share ------------------------------------------------------------------------


def completed_counts(session: Session, provider_id: int) -> dict[int, int]:
    """Give the number of completed responses of each of the provider's rounds that has any."""
    response = models.Response
    rows = session.execute(
        select(response.round_id, func.count(response.id))
        .join(models.Round, models.Round.id == response.round_id)
        .where(models.Round.provider_id == provider_id, response.status == "completed")
        .group_by(response.round_id)
    ).all()
    return {int(round_id): int(count) for round_id, count in rows}


def snapshots_of(session: Session, provider_id: int) -> list[models.ReportSnapshot]:
    """List the provider's published reports, newest first."""
    return list(reports.snapshots(session, provider_id))


def chosen_framework(round_: models.Round, asked: str | None) -> Framework | None:
    """Give the framework asked for (404 if it does not read this round), else the first."""
    choices = frameworks_for(round_)
    if asked is None or asked == "":
        return choices[0] if choices else None
    for framework in choices:
        if framework.id == asked:
            return framework
    abort(404)


def replaced(snapshots: list[models.ReportSnapshot]) -> set[int]:
    """Give the ids of the snapshots that a later one of the same round and framework corrects."""
    latest: dict[tuple[int, str], models.ReportSnapshot] = {}
    for snapshot in snapshots:
        key = (snapshot.round_id, snapshot.framework)
        if key not in latest or snapshot.id > latest[key].id:
            latest[key] = snapshot
    return {s.id for s in snapshots if latest[(s.round_id, s.framework)].id != s.id}


def field_id(kpi_id: str) -> str:
    """Give the id of a KPI's narrative box (KPI ids such as "VAL 2" have spaces)."""
    return "narrative-" + (re.sub(r"[^a-z0-9]+", "-", kpi_id.lower()).strip("-") or "kpi")


def headline(result: KpiResult) -> str:
    """Say where a KPI stands now, as the report words it: Green, 83% (n = 24); target ≥ 75%."""
    cell = result.overall
    said = status_word(result.status)
    if cell.proportion is not None or cell.count is not None:
        said += f", {result_text(cell)}"
        if cell.n is not None:
            said += f" (n = {n_text(cell)})"
    return f"{said}; target {result.target}"


_TABLE = re.compile(r"<table\b.*?</table>", re.S)
_CAPTION = re.compile(r"<caption\b[^>]*>(.*?)</caption>", re.S)


def site_fragment(report: KpiReport) -> Markup:
    """Give the report's HTML for a page of the site, each table in a region that can scroll."""

    # A region of its own scrolls sideways on a phone (and with the keyboard), as the site's
    # other wide tables do, instead of widening the page.
    def _wrap(match: re.Match[str]) -> str:
        caption = _CAPTION.search(match.group(0))
        label = unescape(re.sub(r"<[^>]+>", "", caption.group(1))).strip() if caption else ""
        return (
            f'<div class="tempcheck-table-wrap" role="region" '
            f'aria-label="{escape(label or "Table")}" tabindex="0">{match.group(0)}</div>'
        )

    # The renderer's own output (trusted, escaped there); only wrappers are added here.
    return Markup(_TABLE.sub(_wrap, report_html(report, standalone=False)))


def _subject(round_: models.Round) -> str:
    return f"round {round_.id} ({round_.period_label})"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# Staff: the list of rounds with answers ------------------------------------------------------


@bp.get("/<provider_slug>/reports", endpoint="reports")
@staff_required
def reports_list(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's rounds that have answers, each with its report, newest first."""
    with reading() as session:
        answered = completed_counts(session, provider.id)
        found = session.scalars(
            select(models.Round)
            .where(models.Round.provider_id == provider.id, models.Round.id.in_(answered))
            .order_by(models.Round.opens_at.desc(), models.Round.id.desc())
        ).all()
        titles = {r.id: r.survey.title for r in found}
        published: dict[int, models.ReportSnapshot] = {}
        for snapshot in snapshots_of(session, provider.id):
            published.setdefault(snapshot.round_id, snapshot)
        page = render(
            "console/reports.html",
            section="reports",
            rounds=found,
            titles=titles,
            answered=answered,
            published=published,
        )
    return page


# Staff: one round's draft report, its narratives, publishing ---------------------------------


@dataclass
class Draft:
    """A round's live report in one framework, and what the page needs around it."""

    round: models.Round
    framework: Framework | None
    choices: list[Framework]
    completed: int
    report: KpiReport | None
    narratives: dict[str, str]


def draft(session: Session, provider: ProviderRef, round_id: int, asked: str | None) -> Draft:
    """Build a round's report now, with the narratives saved so far (none without answers)."""
    round_ = owned(session, models.Round, round_id, provider.id)
    framework = chosen_framework(round_, asked)
    completed = completed_counts(session, provider.id).get(round_.id, 0)
    narratives: dict[str, str] = {}
    report = None
    if framework is not None and completed:
        narratives = dict(reports.narratives(session, round_.id, framework.id))
        report = build_report(session, round_, framework.id, narratives)
    return Draft(round_, framework, frameworks_for(round_), completed, report, narratives)


def _draft_page(
    session: Session, provider: ProviderRef, found: Draft, form: Form | None = None
) -> ResponseReturnValue:
    published = [s for s in snapshots_of(session, provider.id) if s.round_id == found.round.id]
    framework_id = found.framework.id if found.framework is not None else None
    return render(
        "console/report.html",
        section="reports",
        round=found.round,
        framework=found.framework,
        choices=found.choices,
        completed=found.completed,
        report=found.report,
        fragment=site_fragment(found.report) if found.report else None,
        form=form or Form(values=dict(found.narratives)),
        narratives=found.narratives,
        just_saved=request.args.get("saved") if request.method == "GET" else None,
        fields={r.kpi.id: field_id(r.kpi.id) for r in found.report.results}
        | {OVERVIEW: field_id(OVERVIEW)}
        if found.report
        else {},
        overview=OVERVIEW,
        headlines={r.kpi.id: headline(r) for r in found.report.results} if found.report else {},
        published=published,
        this_published=[s for s in published if s.framework == framework_id],
        # Records added to a published period since: the funders' figures are not these.
        changes=published_changes(session.connection(), [found.report]) if found.report else [],
        limit=NARRATIVE_LENGTH,
    )


@bp.get("/<provider_slug>/reports/<int:round_id>", endpoint="report")
@staff_required
def report_page(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Show a round's report as it stands now, a narrative form per KPI, and what was published."""
    with reading() as session:
        found = draft(session, provider, round_id, request.args.get("framework"))
        return _draft_page(session, provider, found)


def narrative_text() -> str:
    """Give the posted narrative, trimmed, with the browser's line breaks counted as one."""
    return request.form.get("narrative", "").replace("\r\n", "\n").strip()


@bp.post("/<provider_slug>/reports/<int:round_id>/narrative", endpoint="report_narrative")
@staff_required
def narrative_save(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Save, change or (when emptied) delete one KPI's narrative; audited."""
    framework_id = request.form.get("framework", "")
    kpi_id = request.form.get("kpi", "")
    text = narrative_text()
    with reading() as session:
        found = draft(session, provider, round_id, framework_id or None)
        form = Form(values={**found.narratives, kpi_id: text})
        kpis = {r.kpi.id: r.kpi.title for r in found.report.results} if found.report else {}
        if kpis:
            kpis[OVERVIEW] = "Strategic overview"
        field = field_id(kpi_id)
        if found.report is None:
            form.error("narratives", "There is no report to explain yet: it needs answers first")
        elif kpi_id not in kpis:
            form.error("narratives", "Choose a KPI of this report to explain")
        elif len(text) > NARRATIVE_LENGTH:
            form.error(
                field,
                f"The narrative must be {NARRATIVE_LENGTH:,} characters or fewer "
                f"(it has {len(text):,})",
            )
        if form.errors:
            return _draft_page(session, provider, found, form)
    assert found.framework is not None
    try:
        with writing() as session:
            round_ = owned(session, models.Round, round_id, provider.id)
            reports.set_narrative(
                session, round_, found.framework.id, kpi_id, text, user=current_user.user
            )
            audit.record(
                session,
                "report.narrative",
                user=current_user.user,
                provider_id=provider.id,
                subject=_subject(round_),
                details={
                    "framework": found.framework.id,
                    "kpi": kpi_id,
                    "characters": len(text),
                    **({"deleted": True} if not text else {}),
                },
            )
    except CollectorError as error:
        # Rolled back; the text typed is shown again with the reason.
        form.error(field, error.message)
        with reading() as session:
            return _draft_page(session, provider, draft(session, provider, round_id, None), form)
    # Back to the form just saved, which says so (a banner at the top would be out of view).
    return redirect(
        _report_url(provider, round_id, found.framework, anchor=field, saved=kpi_id), 303
    )


def _report_url(
    provider: ProviderRef,
    round_id: int,
    framework: Framework | None,
    anchor: str | None = None,
    saved: str | None = None,
) -> str:
    return url_for(
        "console.report",
        provider_slug=provider.slug,
        round_id=round_id,
        framework=framework.id if framework is not None else None,
        saved=saved,
        _anchor=anchor,
    )


@bp.route(
    "/<provider_slug>/reports/<int:round_id>/publish",
    methods=["GET", "POST"],
    endpoint="report_publish",
)
@staff_required
def publish_page(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Publish a round's report in one framework: a confirmation page, then freeze and email it."""
    asked = request.values.get("framework") or None
    if request.method == "GET":
        with reading() as session:
            return _publish_page(session, provider, draft(session, provider, round_id, asked))
    # Built (seconds of rendering) in a transaction that only reads, then kept in a short one:
    # on SQLite, no respondent waits for the write lock while the PDF renders.
    with reading() as session:
        found = draft(session, provider, round_id, asked)
        if (
            found.report is None
            or found.round.status != "closed"
            or found.round.reports_due_at is not None
        ):
            return _publish_page(session, provider, found)  # it says why not
        framework = found.framework
        assert framework is not None
        try:
            built = build(session, found.round, framework=framework.id)
        except CollectorError as error:
            return _publish_page(session, provider, found, error.message)
    try:
        with writing() as session:
            round_ = owned(session, models.Round, round_id, provider.id)
            made = reports.store_built(session, round_, built, current_user.user.email)
            emailed = sum(reports.emails_queued(session, s.id) for s in made)
            audit.record(
                session,
                "report.publish",
                user=current_user.user,
                provider_id=provider.id,
                subject=_subject(round_),
                details={
                    "framework": framework.id,
                    "snapshots": [s.id for s in made],
                    "emailed": emailed,
                },
            )
            titles = [s.title for s in made]
    except CollectorError as error:
        with reading() as session:
            found = draft(session, provider, round_id, asked)
            return _publish_page(session, provider, found, error.message)
    flash(
        f"Published: {'; '.join(titles)}. "
        + (
            f"{_plural(emailed, 'funder')} will be emailed the PDF and the workbook."
            if emailed
            else "Nobody was emailed: the provider has no funder accounts."
        )
    )
    return redirect(_report_url(provider, round_id, framework, anchor="published"), 303)


def _publish_page(
    session: Session, provider: ProviderRef, found: Draft, problem: str | None = None
) -> ResponseReturnValue:
    if problem is None and found.report is None:
        problem = "There are no answers to report yet"
    elif problem is None and found.round.status != "closed":
        problem = "The round is still open: its report is published when the round closes"
    elif problem is None and found.round.reports_due_at is not None:
        # Publishing by hand now would send funders the same report twice.
        problem = (
            "The round's reports are being published in the background, since "
            f"{localtime.date_time(found.round.reports_due_at)}: once they are, publish "
            "again here to correct one"
        )
    earlier = [
        s
        for s in snapshots_of(session, provider.id)
        if s.round_id == found.round.id
        and found.framework is not None
        and s.framework == found.framework.id
    ]
    return render(
        "console/report_publish.html",
        status=409 if problem else 200,
        section="reports",
        round=found.round,
        framework=found.framework,
        report=found.report,
        funders=len(reports.funders(session, provider.id)),
        earlier=earlier,
        explained=sum(1 for text in found.narratives.values() if text),
        problem=problem,
        error=bool(problem),
    )


# Published reports: funders, admins and the provider's own staff ------------------------------


def published(session: Session, provider: ProviderRef, snapshot_id: int) -> models.ReportSnapshot:
    """Give the provider's snapshot with this id, or "not found" (another provider's too)."""
    found = session.get(models.ReportSnapshot, snapshot_id)
    if found is None or found.provider_id != provider.id:
        abort(404)
    return found


@funder_bp.get("/<provider_slug>/reports/<int:snapshot_id>", endpoint="report")
@reader_required
def snapshot_page(provider: ProviderRef, snapshot_id: int) -> ResponseReturnValue:
    """Show a published report as it was sent, with its PDF and workbook to download."""
    with reading() as session:
        snapshot = published(session, provider, snapshot_id)
        try:
            fragment: Markup | None = site_fragment(KpiReport.from_json(snapshot.data))
        except ReportDataError:
            # The files kept beside it still open; the page says so rather than failing.
            log.exception("published report %d cannot be shown", snapshot.id)
            fragment = None
        newer = [  # newest first
            s
            for s in snapshots_of(session, provider.id)
            if s.round_id == snapshot.round_id
            and s.framework == snapshot.framework
            and s.id > snapshot.id
        ]
        staff = g.account.role == "staff"
        page = render(
            "funder/report.html",
            area=None if staff else "funder",
            section="reports" if staff else None,
            snapshot=snapshot,
            fragment=fragment,
            newer=newer[0] if newer else None,
            sizes={
                kind: len(data)
                for kind, data in (("pdf", snapshot.pdf), ("xlsx", snapshot.xlsx))
                if data
            },
        )
    return page


def _download(provider: ProviderRef, snapshot_id: int, kind: str) -> Response:
    with reading() as session:
        snapshot = published(session, provider, snapshot_id)
        data = snapshot.pdf if kind == "pdf" else snapshot.xlsx
        name = f"{reports.file_stem(snapshot)}.{kind}"
    if not data:
        abort(404)
    response = Response(data, mimetype=MIME[kind])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@funder_bp.get("/<provider_slug>/reports/<int:snapshot_id>.pdf", endpoint="report_pdf")
@reader_required
def snapshot_pdf(provider: ProviderRef, snapshot_id: int) -> ResponseReturnValue:
    """Download a published report's PDF, as it was sent."""
    return _download(provider, snapshot_id, "pdf")


@funder_bp.get("/<provider_slug>/reports/<int:snapshot_id>.xlsx", endpoint="report_xlsx")
@reader_required
def snapshot_xlsx(provider: ProviderRef, snapshot_id: int) -> ResponseReturnValue:
    """Download a published report's workbook, as it was sent."""
    return _download(provider, snapshot_id, "xlsx")
