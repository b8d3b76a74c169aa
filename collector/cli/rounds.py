"""`tempcheck rounds`: create, open, remind, close and follow survey rounds.

Dates are UK dates, as staff say them: a round opens at 00:00 on its first day and closes at
23:59 on its last, London time (stored in UTC). Every change is one transaction with its
audit event; nothing is sent from here: messages go to the outbox for `tempcheck dispatch`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from collector import audit, db, i18n, models, rounds, schedules
from collector.cli.base import (
    Context,
    local_time,
    pass_context,
    provider_by_slug,
    stop,
    table,
)
from collector.delivery import chats
from collector.errors import CollectorError
from collector.localtime import day_ends, day_starts
from collector.models import utcnow
from collector.segments import CONTACT_AUDIENCES, INCOME_BANDS, ORGANISATION_TYPES, OUTCOMES
from collector.spreadsheets import csv_cell
from collector.volunteering import followups

MESSAGE_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
YES = ("yes", "y", "true", "1")
NO = ("no", "n", "false", "0")


@click.group("rounds")
def group() -> None:
    """Create, open, remind, close and follow survey rounds."""


# Listing and creating ---------------------------------------------------------------------


@group.command("list")
@click.option("--provider", "provider_slug", help="Only this provider's rounds.")
@pass_context
def rounds_list(context: Context, provider_slug: str | None) -> None:
    """List rounds with their dates, status and response rate."""
    inv, resp = models.Invitation, models.Response
    invited = select(inv.round_id, func.count(inv.id).label("n")).group_by(inv.round_id).subquery()
    completed = (
        select(resp.round_id, func.count(resp.id).label("n"))
        .where(resp.status == "completed", resp.invitation_id.is_not(None))
        .group_by(resp.round_id)
        .subquery()
    )
    with context.sessions() as session:
        query = (
            select(models.Round, models.Provider.slug, models.Survey, invited.c.n, completed.c.n)
            .join(models.Provider, models.Provider.id == models.Round.provider_id)
            .join(models.Survey, models.Survey.id == models.Round.survey_id)
            .outerjoin(invited, invited.c.round_id == models.Round.id)
            .outerjoin(completed, completed.c.round_id == models.Round.id)
            .order_by(models.Round.id)
        )
        if provider_slug:
            provider = provider_by_slug(session, provider_slug)
            query = query.where(models.Round.provider_id == provider.id)
        rows = [
            (
                str(round_.id),
                slug,
                f"{survey.slug} v{survey.version}",
                round_.period_label,
                round_.status,
                local_time(round_.opens_at)[:10],
                local_time(round_.ends_at)[:10] + (" (early)" if round_.closed_early else ""),
                str(n_invited or 0),
                str(n_completed or 0),
                _rate(n_completed or 0, n_invited or 0),
            )
            for round_, slug, survey, n_invited, n_completed in session.execute(query)
        ]
    table(
        (
            "id",
            "provider",
            "survey",
            "period",
            "status",
            "opens",
            "closes",
            "invited",
            "completed",
            "rate",
        ),
        rows,
    )


@group.command("create")
@click.option("--provider", "provider_slug", required=True, help="The provider's slug.")
@click.option(
    "--survey",
    "survey_spec",
    required=True,
    metavar="SLUG[:VERSION]",
    help="A survey (see `tempcheck surveys list`), optionally a stored version of it.",
)
@click.option("--period", required=True, help='The period the round covers, e.g. "2026/27 H1".')
@click.option("--opens", required=True, metavar="YYYY-MM-DD", help="First day (from 00:00 UK).")
@click.option("--closes", required=True, metavar="YYYY-MM-DD", help="Last day (to 23:59 UK).")
@click.option(
    "--audience",
    multiple=True,
    metavar="KEY=V1,V2",
    help="Only organisations matching: org_type, income_band, district, outcomes or "
    "is_member (yes/no). Repeat for several keys; every key must match.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="CHANNEL",
    help="How invitations go out (repeatable): email (the default), telegram. A recipient "
    "both reach gets one message, on the channel it prefers.",
)
@click.option(
    "--remind-days",
    metavar="N,N",
    help="Remind non-responders this many days after opening, e.g. 7,14.",
)
@click.option("--open-link", is_flag=True, help="Also answer at an anonymous open link.")
@click.option(
    "--force",
    is_flag=True,
    help="Create it even though an open round of the same survey already invited some of "
    "the same organisations.",
)
@pass_context
def rounds_create(
    context: Context,
    provider_slug: str,
    survey_spec: str,
    period: str,
    opens: str,
    closes: str,
    audience: tuple[str, ...],
    channels: tuple[str, ...],
    remind_days: str | None,
    open_link: bool,
    force: bool,
) -> None:
    """Create a draft round: nothing is sent until it is opened."""
    opens_at = _uk_moment(opens, day_starts, "--opens")
    closes_at = _uk_moment(closes, day_ends, "--closes")
    if closes_at <= utcnow():
        stop(f"The close date {closes} has passed: give a date from today on")
    days = _reminder_days(remind_days)
    with db.transaction(context.sessions) as session:
        provider = provider_by_slug(session, provider_slug)
        survey = _survey(session, survey_spec)
        filters = _audience(session, provider, audience)
        overlaps = rounds.overlapping_rounds(
            session,
            provider_id=provider.id,
            survey_slug=survey.slug,
            audience=filters,
            opens_at=opens_at,
        )
        if overlaps and not force:
            stop(
                f"{survey.slug} is already running for some of these organisations:",
                [o.describe() for o in overlaps] + ["Add --force to create the round anyway."],
            )
        try:
            round_ = rounds.create_round(
                session,
                provider=provider,
                survey=survey,
                period_label=period,
                opens_at=opens_at,
                closes_at=closes_at,
                audience=filters,
                open_link=open_link,
                channels=channels or ("email",),
                reminder_days=days,
            )
        except CollectorError as error:
            stop(error.message)
        recipients = session.scalar(
            select(func.count()).select_from(rounds.audience_query(round_).subquery())
        )
        audit.record(
            session,
            "round.create",
            actor=audit.command_line_actor(),
            provider_id=provider.id,
            subject=_subject(round_),
            details={
                "survey": f"{survey.slug} v{survey.version}",
                "opens": opens,
                "closes": closes,
                "audience": filters,
                "channels": round_.channels,
                "reminder_days": list(days),
                "open_link": open_link,
            },
        )
        round_id, slug = round_.id, round_.slug
        reminders = [local_time(r.due_at) for r in round_.reminders]
    click.secho(
        f"Created round {round_id} (draft): {provider.name}, {survey.slug} v{survey.version}, "
        f"{period.strip()}",
        fg="green",
    )
    click.echo(f"  opens {local_time(opens_at)}, closes {local_time(closes_at)} (UK time)")
    whom = "contacts" if rounds.CONTACTS in filters else "organisations"
    click.echo(f"  audience: {_describe_audience(filters)}; {recipients} {whom} today")
    click.echo(f"  channels: {', '.join(channels or ('email',))}")
    if reminders:
        click.echo(f"  reminders to non-responders: {', '.join(reminders)}")
    if open_link:
        click.echo(f"  open link: {_base(context)}/s/{slug} (answers once the round is open)")
    click.echo(f"Open it with `tempcheck rounds open {round_id}`.")


# Opening, reminding, closing ----------------------------------------------------------------


@group.command("open")
@click.argument("round_id", type=int)
@pass_context
def rounds_open(context: Context, round_id: int) -> None:
    """Open a draft round: one invitation per organisation, and their messages queued."""
    now = utcnow()
    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id, lock=True)
        try:
            invited = rounds.open_round(session, round_, now=now)
        except CollectorError as error:
            stop(error.message)
        queued = _queued(session, round_.id, "invite")
        audit.record(
            session,
            "round.open",
            actor=audit.command_line_actor(),
            provider_id=round_.provider_id,
            subject=_subject(round_),
            details={"invitations": invited, "queued": queued},
        )
        unreachable = invited - _invitations_with_messages(session, round_.id)
        opens_at, open_link, slug = round_.opens_at, round_.open_link, round_.slug
    click.secho(
        f"Opened round {round_id}: {invited} invitations, {_messages(queued)} queued"
        + ("; run `tempcheck dispatch` to send them" if sum(queued.values()) else ""),
        fg="green",
    )
    if opens_at > now:
        click.echo(f"  They go out from {local_time(opens_at)}, when the round opens.")
    if unreachable:
        click.echo(
            f"  {unreachable} organisations have no address they agreed to be reached at: "
            f"send them their links with `tempcheck rounds links {round_id}`."
        )
    if open_link:
        click.echo(f"  Open link: {_base(context)}/s/{slug}")


@group.command("remind")
@click.argument("round_id", type=int)
@click.option(
    "--force",
    is_flag=True,
    help="Send it even if the last invitation or reminder to them went out less than "
    "REMINDER_MIN_HOURS ago.",
)
@pass_context
def rounds_remind(context: Context, round_id: int, force: bool) -> None:
    """Remind, now, every invited organisation that has not completed."""
    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id, lock=True)
        if round_.status != "open":
            stop(f"Round {round_id} is {round_.status}: only an open round can be reminded")
        waiting = _count(session, rounds.non_responders_query(round_))
        if not waiting:
            click.echo(
                f"Every organisation invited to round {round_id} has completed: no reminder."
            )
            return
        interval = None if force else context.settings.reminder_min_interval
        try:
            rounds.remind(session, round_, min_interval=interval)
        except rounds.TooSoon as error:
            stop(f"{error.message} Add --force to send it anyway.")
        except CollectorError as error:
            stop(error.message)
        queued = _queued(session, round_.id, "reminder", newest_reminder=True)
        audit.record(
            session,
            "round.remind",
            actor=audit.command_line_actor(),
            provider_id=round_.provider_id,
            subject=_subject(round_),
            details={"non_responders": waiting, "queued": queued},
        )
    click.secho(
        f"Reminded round {round_id}: {_messages(queued)} queued to the {waiting} organisations "
        "that have not completed"
        + ("; run `tempcheck dispatch` to send them" if sum(queued.values()) else ""),
        fg="green",
    )


@group.command("close")
@click.argument("round_id", type=int)
@pass_context
def rounds_close(context: Context, round_id: int) -> None:
    """Close an open round: no more answers, unsent messages cancelled, its report published."""
    from analysis.publish import publisher

    actor = audit.command_line_actor()
    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id, lock=True)
        try:
            cancelled = rounds.close_round(session, round_, by=actor)
        except CollectorError as error:
            stop(error.message)
        total = rounds.round_status(session, round_).total
        audit.record(
            session,
            "round.close",
            actor=actor,
            provider_id=round_.provider_id,
            subject=_subject(round_),
            details={
                "invited": total.invited,
                "completed": total.completed,
                "cancelled_messages": cancelled,
            },
        )
    # The close commits first (its reports are due); they are built in a session that only
    # reads, then kept in a short transaction, so that no respondent waits while a PDF renders.
    click.echo(f"Closing round {round_id} and publishing its report...")
    hook = publisher(actor, progress=lambda line: click.echo(f"  {line}"))
    with db.transaction(context.read_sessions) as session:
        due = schedules.build_round_reports(session, _round(session, round_id), hook)
    with db.transaction(context.sessions) as session:
        outcome = schedules.store_due_reports(session, due, actor=actor)
    click.secho(
        f"Closed round {round_id}: {total.completed} of {total.invited} invited completed "
        f"({_rate(total.completed, total.invited)}); "
        f"{cancelled} unsent message{'s' if cancelled != 1 else ''} cancelled.",
        fg="green",
    )
    if outcome is None:
        click.echo("A dispatcher is publishing its reports.")
    elif outcome.error is not None:
        click.secho(
            f"Closed, but the report could not be published: {outcome.error}. When that is "
            f"fixed, publish it with `tempcheck report publish --round {round_id}`.",
            fg="yellow",
        )
    else:
        click.echo(outcome.describe())
        for snapshot_id, path in outcome.links:
            click.echo(f"  report {snapshot_id}: {_base(context)}{path}")
    if outcome is not None and outcome.emails:
        click.echo("Run `tempcheck dispatch` to send the report emails.")


# Following a round ----------------------------------------------------------------------------


@group.command("status")
@click.argument("round_id", type=int)
@click.option("--non-responders", is_flag=True, help="Also list who has not completed.")
@pass_context
def rounds_status(context: Context, round_id: int, non_responders: bool) -> None:
    """Show a round's response rate, by segment and channel, its messages and who to chase."""
    with context.sessions() as session:
        round_ = _round(session, round_id)
        status = rounds.round_status(session, round_)
        heading = (
            f"Round {round_.id}: {round_.provider.name}, {round_.survey.slug} "
            f"v{round_.survey.version}, {round_.period_label} ({round_.status})"
        )
        when = (
            f"opens {local_time(round_.opens_at)}, "
            + (
                f"closed early {local_time(round_.ends_at)} (due to close "
                f"{local_time(round_.closes_at)}) "
                if round_.closed_early
                else f"closes {local_time(round_.closes_at)} "
            )
            + f"(UK time); channels {', '.join(round_.channels)}"
            + ("; open link on" if round_.open_link else "")
        )
        reminders = [
            (
                local_time(r.due_at),
                r.kind,
                f"{r.queued} queued"
                if r.queued_at is not None
                else ("not yet due" if round_.status == "open" else "not sent"),
            )
            for r in round_.reminders
        ]
    total = status.total
    click.secho(heading, bold=True)
    click.echo(when)
    click.echo()
    table(
        ("invited", "started", "completed", "response rate"),
        [(total.invited, total.started, total.completed, _rate(total.completed, total.invited))],
    )
    if status.anonymous_completed:
        click.echo(
            f"Also {status.anonymous_completed} completed through the open link "
            "(anonymous: not in the rate)."
        )
    for key, cells in status.by_segment.items():
        click.echo()
        table(
            (key, "invited", "started", "completed", "rate"),
            [
                (label, c.invited, c.started, c.completed, _rate(c.completed, c.invited))
                for label, c in sorted(cells.items())
            ],
        )
    click.echo()
    table(
        ("completed, by the channel finished in", "responses"),
        [(channel, n) for channel, n in sorted(status.by_channel.items())],
    )
    if status.by_language:
        click.echo()
        table(
            ("completed in language", "responses"),
            [
                (f"{i18n.english_name(code)} ({code})", n)
                for code, n in sorted(status.by_language.items())
            ],
        )
    if status.switches:
        click.echo("Switched channel on the way:")
        for (started_in, finished_in), n in sorted(status.switches.items()):
            click.echo(f"  {rounds.describe_switch(started_in, finished_in, n)}")
    click.echo()
    order = {s: n for n, s in enumerate(MESSAGE_STATUSES)}
    table(
        ("messages", "count"),
        [
            (s, n)
            for s, n in sorted(status.messages.items(), key=lambda item: order.get(item[0], 99))
        ],
    )
    if reminders:
        click.echo()
        table(("reminder due", "kind", "sent"), reminders)
    click.echo()
    waiting = status.non_responders
    started = sum(1 for n in waiting if n.started)
    click.echo(
        f"Not yet completed: {len(waiting)} organisations ({started} started)"
        + ("" if non_responders or not waiting else "; list them with --non-responders")
    )
    if non_responders and waiting:
        table(
            ("organisation", "email", "started", "last message sent"),
            [
                (
                    n.name,
                    n.contact_email or "",
                    "yes" if n.started else "no",
                    local_time(n.last_message_at) if n.last_message_at else "none",
                )
                for n in waiting
            ],
        )


@group.command("links")
@click.argument("round_id", type=int)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CSV to this file (UTF-8, opens in Excel) instead of printing it.",
)
@click.option("--force", is_flag=True, help="Overwrite the --output file if it exists.")
@pass_context
def rounds_links(context: Context, round_id: int, output: Path | None, force: bool) -> None:
    """Export each invitation's link as CSV, for a mail merge."""
    if output is not None and output.exists() and not force:
        stop(f"{output} already exists: choose another file, or add --force to overwrite it")
    base = _base(context)
    with db.transaction(context.sessions) as session:
        round_ = _round(session, round_id)
        if round_.status == "draft":
            stop(
                f"Round {round_id} is a draft: its invitations are made when it opens "
                f"(`tempcheck rounds open {round_id}`)"
            )
        if round_.status == "closed":
            stop(f"Round {round_id} is closed: its links no longer take answers")
        # A volunteers' follow-up round invites volunteers, not organisations.
        who = "volunteer" if followups.asks_volunteers(round_) else "organisation"
        if rounds.asks_contacts(round_):
            who = "contact"
        inv, org, vol = models.Invitation, models.Organisation, models.Volunteer
        con = models.Contact
        reference = func.coalesce(org.external_ref, vol.external_ref, con.external_ref)
        rows = session.execute(
            select(
                reference,
                func.coalesce(org.name, vol.name, con.name),
                func.coalesce(org.contact_email, vol.contact_email, con.contact_email),
                inv.token,
            )
            .outerjoin(org, org.id == inv.organisation_id)
            .outerjoin(vol, vol.id == inv.volunteer_id)
            .outerjoin(con, con.id == inv.contact_id)
            .where(
                inv.round_id == round_.id,
                or_(org.id.is_not(None), vol.id.is_not(None), con.id.is_not(None)),
            )
            .where(org.opted_out_at.is_(None), vol.opted_out_at.is_(None))
            .where(con.opted_out_at.is_(None))
            .where(vol.erased_at.is_(None), con.erased_at.is_(None))
            .order_by(reference, inv.id)
        ).all()
        audit.record(
            session,
            "round.export_links",
            actor=audit.command_line_actor(),
            provider_id=round_.provider_id,
            subject=_subject(round_),
            details={"links": len(rows), "to": "file" if output else "screen"},
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # The deep link beside the web link, where the bot is configured: the same invitation,
    # answered in Telegram instead (empty where it is not).
    writer.writerow(("external_ref", who, "contact_email", "link", "telegram_link"))
    for ref, name, email, token in rows:
        telegram = chats.telegram_link(context.settings, token) or ""
        cells = (ref, name, email or "", f"{base}/r/{token}", telegram)
        writer.writerow([csv_cell(cell) for cell in cells])
    if output is None:
        click.echo(buffer.getvalue(), nl=False)
        return
    try:
        # With a byte order mark, so that Excel reads the names' accents right.
        output.write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
    except OSError as error:
        stop(f"Could not write {output}: {error.strerror}")
    click.secho(f"Wrote {len(rows)} links for round {round_id} to {output}.", fg="green")


# Helpers --------------------------------------------------------------------------------------


def _round(session: Session, round_id: int, *, lock: bool = False) -> models.Round:
    round_ = session.get(models.Round, round_id, with_for_update=lock)
    if round_ is None:
        stop(f"No round {round_id} (see `tempcheck rounds list`)")
    return round_


def _subject(round_: models.Round) -> str:
    return f"round {round_.id} ({round_.period_label})"


def _base(context: Context) -> str:
    return context.settings.base_url.rstrip("/")


def _uk_moment(text: str, at: Callable[[date], datetime], option: str) -> datetime:
    """Turn a UK date into the UTC moment it opens or closes at."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        stop(f"{option} {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-05-01")
    return at(day)


def _reminder_days(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        stop(f"--remind-days {text!r}: give whole numbers of days separated by commas, e.g. 7,14")


def _survey(session: Session, spec: str) -> models.Survey:
    """Find a survey version, registering the built-in definition when it is the one asked for."""
    from collector.survey.loader import library_surveys
    from collector.survey.store import register

    slug, _, version_text = spec.strip().partition(":")
    version: int | None = None
    if version_text:
        if not version_text.isdigit():
            stop(f"--survey {spec!r}: the version after ':' is a whole number, e.g. {slug}:1")
        version = int(version_text)
    library = library_surveys()
    builtin = library.get(slug)
    if builtin is not None and version in (None, builtin.version):
        try:
            return register(session, builtin)
        except CollectorError as error:
            stop(error.message)
    query = select(models.Survey).where(models.Survey.slug == slug)
    if version is not None:
        query = query.where(models.Survey.version == version)
    row = session.scalar(query.order_by(models.Survey.version.desc()).limit(1))
    if row is None:
        if builtin is not None:
            stop(f"No version {version} of {slug}: the built-in one is version {builtin.version}")
        stop(
            f"No survey called {slug!r}: the built-in ones are {', '.join(sorted(library))} "
            "(see `tempcheck surveys list`)"
        )
    return row


def _audience(
    session: Session, provider: models.Provider, items: Sequence[str]
) -> dict[str, list[Any]]:
    """Parse `KEY=V1,V2` filters, checking every key and value against what exists."""
    audience: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not sep or not values:
            stop(
                f"--audience {item!r}: write it as KEY=VALUE[,VALUE...], "
                "e.g. org_type=faith_group,community_group"
            )
        if key not in rounds.AUDIENCE_KEYS:
            stop(f"Unknown audience filter {key!r}: use one of {', '.join(rounds.AUDIENCE_KEYS)}")
        if key == "is_member":
            flags = {v.lower() in YES for v in values if v.lower() in YES + NO}
            if len(flags) != 1 or len(values) != 1:
                stop("is_member takes one value: yes (members only) or no (non-members only)")
            audience[key] = [flags.pop()]
            continue
        known = _known_values(session, provider, key)
        chosen = audience.setdefault(key, [])
        for value in values:
            match = known.get(value.lower())
            if match is None:
                choices = sorted(set(known.values()))
                stop(
                    f"Unknown {key} {value!r} for the audience: "
                    + (
                        f"use one of {', '.join(choices)}"
                        if choices
                        else f"{provider.slug} has no organisations with one recorded"
                    )
                )
            if match not in chosen:
                chosen.append(match)
    return audience


def _known_values(session: Session, provider: models.Provider, key: str) -> dict[str, str]:
    """Give the values a filter may take, by lower-case key or label."""
    vocabularies: Mapping[str, Mapping[str, str]] = {
        "org_type": ORGANISATION_TYPES,
        "income_band": INCOME_BANDS,
        "outcomes": OUTCOMES,
        "contacts": CONTACT_AUDIENCES,
    }
    if key in vocabularies:
        known = {}
        for value, label in vocabularies[key].items():
            known[value.lower()] = value
            known[label.lower()] = value
        return known
    # Districts are free text: those of the provider's organisations.
    districts = session.scalars(
        select(models.Organisation.district)
        .where(
            models.Organisation.provider_id == provider.id,
            models.Organisation.district.is_not(None),
        )
        .distinct()
    ).all()
    return {d.lower(): d for d in districts if d}


def _describe_audience(audience: Mapping[str, Sequence[Any]]) -> str:
    if not audience:
        return "every organisation of the provider that has not opted out"
    parts = []
    for key, values in audience.items():
        if key == rounds.CONTACTS:
            parts.append(f"contacts who are {' or '.join(str(v) for v in values)}")
        elif key == "is_member":
            parts.append("members only" if values[0] else "non-members only")
        else:
            parts.append(f"{key} is {' or '.join(str(v) for v in values)}")
    return ", and ".join(parts)


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _queued(
    session: Session, round_id: int, template: str, *, newest_reminder: bool = False
) -> dict[str, int]:
    """Count a round's queued messages of one kind, by channel."""
    message = models.OutboxMessage
    query = select(message.channel, func.count(message.id)).where(
        message.round_id == round_id, message.template == template
    )
    if newest_reminder:
        newest = session.scalar(
            select(func.max(models.RoundReminder.id)).where(
                models.RoundReminder.round_id == round_id
            )
        )
        query = query.where(message.dedupe_key.startswith(f"remind:{newest}:"))
    return {
        channel: int(n) for channel, n in session.execute(query.group_by(message.channel)).all()
    }


def _invitations_with_messages(session: Session, round_id: int) -> int:
    message = models.OutboxMessage
    return int(
        session.scalar(
            select(func.count(func.distinct(message.invitation_id))).where(
                message.round_id == round_id, message.template == "invite"
            )
        )
        or 0
    )


def _messages(queued: Mapping[str, int]) -> str:
    """Say how many messages were queued: "45 emails", "45 emails and 3 Telegram messages"."""
    parts = []
    for channel, n in sorted(queued.items()):
        if channel == "email":
            parts.append(f"{n} email{'s' if n != 1 else ''}")
        else:
            parts.append(f"{n} {channel.capitalize()} message{'s' if n != 1 else ''}")
    return " and ".join(parts) if parts else "no messages"


def _rate(completed: int, invited: int) -> str:
    return f"{completed / invited:.0%}" if invited else "-"
