"""`tempcheck selfeval`: the two-way self-evaluation (issue 16). Create a two-sided round
(opened and closed with `tempcheck rounds`), hand a reviewed one over to its second side,
enter a side's agreed ratings after a facilitated meeting, read and publish the perception-gap
report, and keep the action plan."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.orm import Session

from collector import audit, db, models, selfeval
from collector.cli.base import Context, local_time, pass_context, provider_by_slug, stop, table
from collector.cli.rounds import _uk_moment
from collector.errors import CollectorError
from collector.localtime import day_ends, day_starts
from collector.selfeval import ACTION_STATUSES, CHOICES, MODES, QUESTIONS, SIDES, ActionInput


@click.group("selfeval")
def group() -> None:
    """Run a two-way self-evaluation: rounds, agreed ratings, the report and the action plan."""


def _round(session: Session, round_id: int) -> models.Round:
    round_ = session.get(models.Round, round_id)
    if round_ is None or selfeval.evaluation_for(session, round_id) is None:
        stop(f"Round {round_id} is not a self-evaluation (see `tempcheck selfeval list`)")
    return round_


def _refused(error: selfeval.SelfEvaluationError) -> None:
    stop("Nothing was saved:", [message for message in error.errors.values()])


@group.command("create")
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@click.option("--period", required=True, help='The period it covers, e.g. "2026/27".')
@click.option("--opens", required=True, metavar="YYYY-MM-DD", help="First day (from 00:00 UK).")
@click.option("--closes", required=True, metavar="YYYY-MM-DD", help="Last day (to 23:59 UK).")
@click.option(
    "--mode",
    type=click.Choice(list(MODES)),
    default="separate",
    show_default=True,
    help="separate: both sides at once. reviewed: one side first, then the other reviews.",
)
@click.option(
    "--first-side",
    type=click.Choice(list(SIDES)),
    help="With --mode reviewed: la (the local authority) or vcs rates first.",
)
@click.option(
    "--channel", "channels", multiple=True, metavar="CHANNEL", help="email (default), telegram."
)
@pass_context
def selfeval_create(
    context: Context,
    provider_slug: str,
    period: str,
    opens: str,
    closes: str,
    mode: str,
    first_side: str | None,
    channels: tuple[str, ...],
) -> None:
    """Create a draft two-sided round of the self-evaluation (open it with `rounds open`)."""
    opens_at = _uk_moment(opens, day_starts, "--opens")
    closes_at = _uk_moment(closes, day_ends, "--closes")
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        try:
            round_ = selfeval.create(
                session,
                provider=provider,
                period_label=period,
                opens_at=opens_at,
                closes_at=closes_at,
                mode=mode,
                first_side=first_side,
                channels=channels or ("email",),
            )
        except selfeval.SelfEvaluationError as error:
            _refused(error)
        except CollectorError as error:
            stop(error.message)
        audit.record(
            session,
            "selfeval.create",
            actor=audit.command_line_actor(),
            provider_id=provider.id,
            subject=f"round {round_.id} ({round_.period_label})",
            details={"mode": mode, "first_side": first_side},
        )
        round_id = round_.id
        previous = selfeval.require(session, round_id).previous_round_id
    click.secho(f"Created self-evaluation round {round_id} (draft): {MODES[mode]}", fg="green")
    click.echo(f"  opens {local_time(opens_at)}, closes {local_time(closes_at)} (UK time)")
    if previous:
        click.echo(f"  compared with the previous self-evaluation, round {previous}")
    click.echo(f"  open it with: tempcheck rounds open {round_id}")


@group.command("list")
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@pass_context
def selfeval_list(context: Context, provider_slug: str) -> None:
    """List a provider's self-evaluations, newest first."""
    with context.sessions() as session:
        provider = provider_by_slug(session, provider_slug)
        rows = [
            (
                e.round_id,
                e.round.period_label,
                MODES[e.mode],
                e.round.status,
                local_time(e.published_at) if e.published_at else "not published",
            )
            for e in selfeval.evaluations_of(session, provider.id)
        ]
    table(("round", "period", "run as", "status", "published"), rows)


@group.command("hand-over")
@click.argument("round_id", type=int)
@pass_context
def selfeval_hand_over(context: Context, round_id: int) -> None:
    """Invite the reviewing side of a round run one side first."""
    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id)
        try:
            invited = selfeval.hand_over(session, round_)
        except selfeval.SelfEvaluationError as error:
            _refused(error)
        audit.record(
            session,
            "selfeval.hand_over",
            actor=audit.command_line_actor(),
            provider_id=round_.provider_id,
            subject=f"round {round_.id} ({round_.period_label})",
            details={"invited": invited},
        )
    click.secho(f"Handed over: {invited} invitations queued.", fg="green")


@group.command("agreed")
@click.argument("round_id", type=int)
@click.option("--side", required=True, help="la (the local authority) or vcs.")
@click.option("--question", "question_id", required=True, help="A question id, e.g. gov_board.")
@click.option("--level", required=True, help=f"One of: {', '.join(CHOICES)}.")
@click.option("--evidence", help="The evidence the side relied on.")
@click.option("--comment", help="A comment.")
@click.option("--prioritise", is_flag=True, help="The side prioritised it for follow-up.")
@pass_context
def selfeval_agreed(
    context: Context,
    round_id: int,
    side: str,
    question_id: str,
    level: str,
    evidence: str | None,
    comment: str | None,
    prioritise: bool,
) -> None:
    """Enter one side's agreed rating of a question after a facilitated meeting."""
    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id)
        try:
            selfeval.record_agreed(
                session,
                round_,
                side=side,
                question_id=question_id,
                level=level,
                evidence=evidence,
                comment=comment,
                prioritise=prioritise,
                by=audit.command_line_actor(),
            )
        except selfeval.SelfEvaluationError as error:
            _refused(error)
        audit.record(
            session,
            "selfeval.agreed",
            actor=audit.command_line_actor(),
            provider_id=round_.provider_id,
            subject=f"round {round_.id} ({round_.period_label})",
            details={"side": side, "question": question_id},
        )
    click.secho(
        f"Saved the {SIDES[side].lower()}'s agreed rating of "
        f"{selfeval.question_title(question_id)}: {CHOICES[level]}.",
        fg="green",
    )


@group.command("report")
@click.argument("round_id", type=int)
@click.option("--pdf", type=click.Path(dir_okay=False, path_type=Path), help="Write the PDF.")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), help="Write a workbook.")
@pass_context
def selfeval_report(context: Context, round_id: int, pdf: Path | None, xlsx: Path | None) -> None:
    """Show the perception-gap report: each side's level, the gap, don't knows, priorities."""
    from analysis.render.selfeval import dont_know_text, gap_pdf, gap_xlsx, level_text, number
    from analysis.selfeval import build_gap_report

    with context.sessions() as session:
        report = build_gap_report(session, _round(session, round_id))
    click.secho(report.title, bold=True)
    click.echo(
        f"Answered by {report.respondents['la']} on the local authority's side and "
        f"{report.respondents['vcs']} on the sector's."
    )
    for side in report.empty_sides:
        click.secho(f"Nobody on the {SIDES[side].lower()} side has answered.", fg="yellow")
    table(
        ("question", "local authority", "sector", "gap", "don't know (la / vcs)", "prioritised"),
        [
            (
                q.title,
                level_text(q.sides["la"]),
                level_text(q.sides["vcs"]),
                number(q.gap, True),
                f"{dont_know_text(q.sides['la'])} / {dont_know_text(q.sides['vcs'])}",
                ", ".join(q.prioritised_by) or "-",
            )
            for q in report.questions
        ],
    )
    if report.previous_period:
        click.echo()
        click.secho(f"Change since {report.previous_period}", bold=True)
        table(
            ("question", "la change", "vcs change", "actions then"),
            [
                (
                    q.title,
                    number(q.change("la"), True),
                    number(q.change("vcs"), True),
                    "; ".join(f"{a.text} ({a.status_label.lower()})" for a in q.previous_actions)
                    or "-",
                )
                for q in report.questions
            ],
        )
    if report.overdue:
        click.secho(f"{len(report.overdue)} action(s) of the plan are overdue.", fg="red")
    if pdf is not None:
        pdf.write_bytes(gap_pdf(report))
        click.echo(f"Wrote {pdf}")
    if xlsx is not None:
        xlsx.write_bytes(gap_xlsx(report))
        click.echo(f"Wrote {xlsx}")


@group.command("publish")
@click.argument("round_id", type=int)
@pass_context
def selfeval_publish(context: Context, round_id: int) -> None:
    """Publish a closed self-evaluation's report to the provider's funders, with its PDF."""
    from analysis.render.selfeval import gap_pdf
    from analysis.selfeval import build_gap_report

    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id)
        if round_.status != "closed":
            stop(f"Round {round_id} is {round_.status}: close it before publishing its report")
        pdf = gap_pdf(build_gap_report(session, round_, for_funder=True))
        try:
            selfeval.publish(session, round_, by=audit.command_line_actor(), pdf=pdf)
        except selfeval.SelfEvaluationError as error:
            _refused(error)
        audit.record(
            session,
            "selfeval.publish",
            actor=audit.command_line_actor(),
            provider_id=round_.provider_id,
            subject=f"round {round_.id} ({round_.period_label})",
        )
    click.secho(f"Published the perception-gap report of round {round_id}.", fg="green")


@group.command("action")
@click.argument("round_id", type=int)
@click.option("--question", "question_id", required=True, help="A question id, e.g. gov_board.")
@click.option("--text", required=True, help="What will be done.")
@click.option("--owner", default="", help="Who will see it done.")
@click.option("--due", default="", metavar="YYYY-MM-DD", help="When it is due.")
@click.option(
    "--status", default="planned", show_default=True, help=", ".join(ACTION_STATUSES) + "."
)
@click.option("--review", default="", metavar="YYYY-MM-DD", help="When it is reviewed.")
@click.option("--id", "action_id", type=int, help="Change this action instead of adding one.")
@pass_context
def selfeval_action(
    context: Context,
    round_id: int,
    question_id: str,
    text: str,
    owner: str,
    due: str,
    status: str,
    review: str,
    action_id: int | None,
) -> None:
    """Add an action to the plan (or change one with --id)."""
    given = ActionInput(question_id, text, owner, due, status, review or None)
    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id)
        try:
            if action_id is None:
                action = selfeval.add_action(session, round_, given, by=audit.command_line_actor())
            else:
                found = session.get(models.EvaluationAction, action_id)
                if found is None or found.round_id != round_id:
                    stop(f"Round {round_id} has no action {action_id}")
                action = selfeval.update_action(
                    session, found, given, by=audit.command_line_actor()
                )
        except selfeval.SelfEvaluationError as error:
            _refused(error)
        audit.record(
            session,
            "selfeval.action_add" if action_id is None else "selfeval.action_edit",
            actor=audit.command_line_actor(),
            provider_id=round_.provider_id,
            subject=f"action {action.id} of round {round_.id} ({round_.period_label})",
        )
        saved = action.id
    click.secho(f"Saved action {saved}.", fg="green")


@group.command("actions")
@click.argument("round_id", type=int)
@pass_context
def selfeval_actions(context: Context, round_id: int) -> None:
    """List the action plan, overdue actions flagged."""
    from analysis.selfeval import build_gap_report

    with context.sessions() as session:
        report = build_gap_report(session, _round(session, round_id))
    titles = {qid: selfeval.question_title(qid) for qid in QUESTIONS}
    table(
        ("id", "question", "action", "owner", "due", "status", "review", ""),
        [
            (
                a.id,
                titles[a.question_id],
                a.text,
                a.owner,
                a.due_on.isoformat(),
                a.status_label,
                a.review_on.isoformat() if a.review_on else "-",
                "OVERDUE" if a.overdue else "",
            )
            for a in report.actions
        ],
    )
