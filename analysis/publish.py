"""Publish a round's KPI reports: build, freeze, render, keep, and email the funders.

A published report is a snapshot: the report's plain data (`KpiReport.to_json`) frozen at the
moment of publishing, with the PDF and workbook rendered from that frozen data (not from the
live report), so that every file and the page a funder opens later say the same numbers, and
answers added afterwards change none of them. Publishing a round again makes a new snapshot
(a correction) and emails it again; the old one stays, as it was sent.

Which frameworks a round publishes: those with a KPI that reads the round's survey and can be
measured with the version the round used.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from analysis.alliance import alliance_framework_key, build_alliance_report
from analysis.build import build_reports
from analysis.kpis.definitions import Framework, frameworks, problems_with_survey
from analysis.model import KpiReport
from collector import models, reports
from collector.errors import NotFound
from collector.reports import NothingToPublish, ReportError
from collector.survey.store import definition

__all__ = [
    "build",
    "build_report",
    "frameworks_for",
    "frozen",
    "publish",
    "publisher",
    "report_title",
]

Progress = Callable[[str], None]


def frameworks_for(round_: models.Round) -> list[Framework]:
    """List the frameworks that a round's survey feeds: those it publishes."""
    survey = definition(round_.survey)
    return [
        framework
        for framework in frameworks().values()
        if any(
            reading.survey == survey.id and not problems_with_survey(reading, survey)
            for kpi in framework.kpis
            for reading in kpi.readings
        )
    ]


def completed_responses(session: Session | Connection, round_id: int) -> int:
    """Count a round's completed responses."""
    response = models.Response
    return int(
        session.scalar(
            select(func.count(response.id)).where(
                response.round_id == round_id, response.status == "completed"
            )
        )
        or 0
    )


def _connection(source: Session | Connection) -> Connection:
    # A session's own connection: the report sees what this transaction has done so far (the
    # close), and on SQLite a second connection would wait for this one's write lock.
    return source.connection() if isinstance(source, Session) else source


def build_report(
    source: Session | Connection,
    round_: models.Round,
    framework: str,
    narratives: dict[str, str] | None = None,
) -> KpiReport:
    """Build one framework's report for one provider's round, with staff's narratives."""
    built = build_reports(_connection(source), framework=framework, round_id=round_.id)
    if not built:
        raise NotFound(f"No report of {framework} for round {round_.id}")
    report = built[0]
    return report.with_narratives(narratives or {})


def frozen(report: KpiReport) -> tuple[dict[str, Any], KpiReport]:
    """Freeze a report: give its plain data (as stored) and the report rebuilt from that data."""
    # Through JSON text, so the data is exactly what the database keeps and gives back.
    data = json.loads(json.dumps(report.to_json()))
    return data, KpiReport.from_json(data)


def report_title(report: KpiReport) -> str:
    """Give a report's title: provider (or alliance), framework and period."""
    if report.is_alliance:
        return f"{report.framework.title}: alliance report, {report.round.period}"
    return f"{report.provider_name}: {report.framework.title}, {report.round.period}"


def choose_frameworks(round_: models.Round, framework: str | None = None) -> list[Framework]:
    """Give the frameworks to publish for a round (one, when named); raise when there are none."""
    usable = frameworks_for(round_)
    survey = f"{round_.survey.slug} v{round_.survey.version}"
    if framework is not None:
        known = frameworks()
        if framework not in known:
            raise NotFound(
                f"No KPI framework {framework!r} (there are: {', '.join(sorted(known))})"
            )
        if framework not in {f.id for f in usable}:
            raise ReportError(
                f"The framework {framework} has no KPI that reads the survey {survey} "
                f"of round {round_.id}"
            )
        return [known[framework]]
    if not usable:
        raise NothingToPublish(f"no KPI framework reads the survey {survey}")
    return usable


def publish(
    session: Session,
    round_: models.Round,
    *,
    framework: str | None = None,
    published_by: str,
    progress: Progress | None = None,
) -> list[models.ReportSnapshot]:
    """Publish a closed round's reports (every framework its survey feeds, or the one named).

    Each is built, frozen, rendered to PDF and XLSX, and kept as a snapshot, which queues its
    email to the provider's funders. The caller commits.
    """
    built = build(session, round_, framework=framework, progress=progress)
    return reports.store_built(session, round_, built, published_by)


def publisher(published_by: str, progress: Progress | None = None) -> reports.TwoStepPublish:
    """Give the publish hook that builds reports apart from keeping them, so that the caller
    builds in a session that only reads and keeps them in a short write transaction after."""
    return reports.TwoStepPublish(
        build=functools.partial(build, progress=progress), published_by=published_by
    )


def build(
    session: Session,
    round_: models.Round,
    *,
    framework: str | None = None,
    progress: Progress | None = None,
) -> list[reports.BuiltReport]:
    """Build, freeze and render a closed round's reports (every framework its survey feeds, or
    the one named), keeping nothing: this only reads."""
    from analysis.render.message import report_message
    from analysis.render.pdf import report_pdf
    from analysis.render.xlsx import report_xlsx

    say = progress or (lambda _line: None)
    if round_.status != "closed":
        raise ReportError(
            f"Round {round_.id} is {round_.status}: a report is published once its round has closed"
        )
    chosen = choose_frameworks(round_, framework)
    if not completed_responses(session, round_.id):
        raise NothingToPublish(f"round {round_.id} has no completed responses")
    made = []
    for chosen_framework in chosen:
        say(f"Building the {chosen_framework.id} report for round {round_.id}...")
        report = build_report(
            session,
            round_,
            chosen_framework.id,
            reports.narratives(session, round_.id, chosen_framework.id),
        )
        data, snapshot_report = frozen(report)
        say("  rendering the PDF...")
        pdf = report_pdf(snapshot_report)
        say("  rendering the workbook...")
        xlsx = report_xlsx(snapshot_report)
        made.append(
            reports.BuiltReport(
                framework=chosen_framework.id,
                title=report_title(snapshot_report),
                data=data,
                pdf=pdf,
                xlsx=xlsx,
                message=report_message(snapshot_report, reports.LINK_SLOT),
            )
        )
        alliance = chosen_framework.alliance
        if alliance is not None and round_.provider.slug in alliance.providers:
            # The alliance's report for the period, again with this provider's newest answers:
            # the last provider's round to close publishes it complete.
            say(f"Building the {alliance.name} alliance report for {round_.period_label}...")
            key = alliance_framework_key(chosen_framework.id)
            pooled = build_alliance_report(
                _connection(session), chosen_framework.id, round_id=round_.id
            ).with_narratives(reports.narratives(session, round_.id, key))
            data, snapshot_report = frozen(pooled)
            made.append(
                reports.BuiltReport(
                    framework=key,
                    title=report_title(snapshot_report),
                    data=data,
                    pdf=report_pdf(snapshot_report),
                    xlsx=report_xlsx(snapshot_report),
                    message=report_message(snapshot_report, reports.LINK_SLOT),
                )
            )
    return made
