"""`tempcheck activities`, `tempcheck evidence` and `tempcheck milestones`: what a provider did,
recorded for the framework's indicators that are not surveys (issue 17)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from collector import activities as acts
from collector import audit, db
from collector.cli.base import (
    Context,
    import_csv_file,
    pass_context,
    provider_by_slug,
    stop,
    table,
)
from collector.errors import CollectorError
from collector.volunteering.volunteers import parse_date

provider_option = click.option(
    "--provider", "provider_slug", required=True, help="The provider's slug."
)


@click.group("activities")
def activities_group() -> None:
    """Import, add and list activity records (events, health checks, guidance, funding)."""


@click.group("evidence")
def evidence_group() -> None:
    """Attach evidence and case studies to indicators, and set their status for a period."""


@click.group("milestones")
def milestones_group() -> None:
    """Record the one-off milestones an indicator asks for, with their dates."""


def _known_kpis(framework_id: str, kpi_ids: tuple[str, ...]) -> None:
    """Stop unless the framework has these KPIs (the CLI is the composition root)."""
    from analysis.kpis.definitions import framework

    try:
        chosen = framework(framework_id)
    except CollectorError as error:
        stop(str(error))
    known = {k.id for k in chosen.kpis}
    unknown = [k for k in kpi_ids if k not in known]
    if unknown:
        stop(
            f"The framework {framework_id} has no KPI {', '.join(map(repr, unknown))}",
            [f"its KPIs: {', '.join(k.id for k in chosen.kpis)}"],
        )


@activities_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@provider_option
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change.")
@pass_context
def activities_import(context: Context, file: Path, provider_slug: str, dry_run: bool) -> None:
    """Import activity records from CSV (a known reference is updated): all rows or none.

    Columns: external_ref, kind, date; optionally organisation_ref, description,
    amount_applied, amount_obtained (pounds) and beneficiaries.
    """
    import_csv_file(
        context,
        file,
        provider_slug,
        plan=acts.plan_activities,
        apply=acts.import_activities,
        dry_run=dry_run,
        action="activities.import",
        noun="activities",
    )


@activities_group.command("add")
@provider_option
@click.option("--kind", required=True, type=click.Choice(list(acts.ACTIVITY_KINDS)))
@click.option("--date", "when", required=True, help="When it happened, e.g. 2026-05-12.")
@click.option("--organisation", "organisation_ref", default="", help="The group's reference.")
@click.option("--description", default="", help="What it was.")
@click.option("--applied", default="", help="A funding application's amount applied for (£).")
@click.option("--obtained", default="", help="A funding application's amount obtained (£).")
@click.option("--beneficiaries", default="", help="The beneficiaries reached, estimated.")
@click.option("--ref", "external_ref", default="", help="Your reference for the record.")
@pass_context
def activities_add(
    context: Context,
    provider_slug: str,
    kind: str,
    when: str,
    organisation_ref: str,
    description: str,
    applied: str,
    obtained: str,
    beneficiaries: str,
    external_ref: str,
) -> None:
    """Add one activity record, checked as an imported row is."""
    cells = {
        "external_ref": external_ref,
        "kind": kind,
        "date": when,
        "organisation_ref": organisation_ref,
        "description": description,
        "amount_applied": applied,
        "amount_obtained": obtained,
        "beneficiaries": beneficiaries,
    }
    options = {
        "external_ref": "--ref",
        "date": "--date",
        "organisation_ref": "--organisation",
        "amount_applied": "--applied",
        "amount_obtained": "--obtained",
    }
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            record = acts.add_activity(session, provider, cells)
        except acts.ActivityError as error:
            stop(
                str(error),
                [f"{options.get(p.column, '--' + p.column)}: {p.message}" for p in error.problems],
            )
        audit.record(
            session,
            "activity.add",
            actor=audit.command_line_actor(),
            provider_id=provider.id,
            subject=f"activity #{record.id}",
        )
        message = f"Added {kind} #{record.id} on {record.occurred_on.isoformat()}."
    click.secho(message, fg="green")


@activities_group.command("list")
@provider_option
@click.option("--limit", default=50, show_default=True)
@pass_context
def activities_list(context: Context, provider_slug: str, limit: int) -> None:
    """List the provider's latest activity records."""
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        rows = [
            [
                r.occurred_on.isoformat(),
                r.kind,
                r.organisation.external_ref if r.organisation else "",
                r.description,
                "" if r.amount_obtained_pence is None else f"£{r.amount_obtained_pence / 100:,.2f}",
                "" if r.beneficiaries is None else str(r.beneficiaries),
            ]
            for r in acts.activities(session, provider.id, limit=limit)
        ]
    table(["Date", "Kind", "Group", "Description", "Obtained", "Beneficiaries"], rows)


@evidence_group.command("add")
@provider_option
@click.option("--framework", "framework_id", required=True, help="e.g. essex-2017")
@click.option("--kpi", "kpi_ids", multiple=True, required=True, help="An indicator it supports.")
@click.option("--period", required=True, help="The report's period, e.g. '2025/26 H2'.")
@click.option("--title", required=True)
@click.option("--text", default="", help="The case study or evidence itself.")
@click.option("--case-study", is_flag=True, help="It is a case study (targets count these).")
@click.option(
    "--attach",
    "attachment",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file to attach (5 MB at most).",
)
@pass_context
def evidence_add(
    context: Context,
    provider_slug: str,
    framework_id: str,
    kpi_ids: tuple[str, ...],
    period: str,
    title: str,
    text: str,
    case_study: bool,
    attachment: Path | None,
) -> None:
    """Attach a case study or other evidence to indicators for a period."""
    _known_kpis(framework_id, kpi_ids)
    attached = None
    if attachment is not None:
        attached = (attachment.name, "application/octet-stream", attachment.read_bytes())
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            item = acts.add_evidence(
                session,
                provider,
                period=period,
                title=title,
                text=text,
                indicators=[(framework_id, k) for k in kpi_ids],
                is_case_study=case_study,
                attachment=attached,
            )
        except CollectorError as error:
            stop(str(error))
        audit.record(
            session,
            "evidence.add",
            actor=audit.command_line_actor(),
            provider_id=provider.id,
            subject=f"evidence #{item.id}",
        )
        message = f"Added evidence #{item.id} for {', '.join(kpi_ids)} ({period})."
    click.secho(message, fg="green")


@evidence_group.command("status")
@provider_option
@click.option("--framework", "framework_id", required=True)
@click.option("--kpi", "kpi_id", required=True)
@click.option("--period", required=True)
@click.option("--status", required=True, type=click.Choice(list(acts.ASSESSMENTS)))
@click.option("--reason", required=True, help="Why: what the evidence shows, or lacks.")
@pass_context
def evidence_status(
    context: Context,
    provider_slug: str,
    framework_id: str,
    kpi_id: str,
    period: str,
    status: str,
    reason: str,
) -> None:
    """Set an evidence indicator's status for a period, with the reason."""
    _known_kpis(framework_id, (kpi_id,))
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            acts.set_assessment(
                session,
                provider,
                framework=framework_id,
                kpi_id=kpi_id,
                period=period,
                status=status,
                reason=reason,
            )
        except CollectorError as error:
            stop(str(error))
    click.secho(f"{kpi_id} for {period}: {acts.ASSESSMENTS[status]}.", fg="green")


def _day(value: str, option: str, *, required: bool = False) -> date | None:
    if not value.strip():
        if required:
            stop(f"{option} is required (a date like 2026-03-31)")
        return None
    day = parse_date(value)
    if day is None:
        stop(f"{option}: {value!r} is not a date (use YYYY-MM-DD, like 2026-03-31)")
    return day


@milestones_group.command("set")
@provider_option
@click.option("--framework", "framework_id", required=True)
@click.option("--kpi", "kpi_id", required=True)
@click.option("--title", required=True)
@click.option("--due", required=True, help="The date it is due to be achieved by.")
@click.option("--progress-due", default="", help="The date progress is due by, if any.")
@click.option("--progress", "progress_on", default="", help="When progress was made.")
@click.option("--achieved", default="", help="When it was achieved.")
@click.option("--note", default="")
@pass_context
def milestones_set(
    context: Context,
    provider_slug: str,
    framework_id: str,
    kpi_id: str,
    title: str,
    due: str,
    progress_due: str,
    progress_on: str,
    achieved: str,
    note: str,
) -> None:
    """Record (or update) a milestone and its dates."""
    _known_kpis(framework_id, (kpi_id,))
    due_on = _day(due, "--due", required=True)
    assert due_on is not None
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            acts.set_milestone(
                session,
                provider,
                framework=framework_id,
                kpi_id=kpi_id,
                title=title,
                due_on=due_on,
                progress_due=_day(progress_due, "--progress-due"),
                progress_on=_day(progress_on, "--progress"),
                achieved_on=_day(achieved, "--achieved"),
                note=note,
            )
        except CollectorError as error:
            stop(str(error))
    click.secho(f"Milestone {kpi_id} saved: due by {due_on.isoformat()}.", fg="green")
