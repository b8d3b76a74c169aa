"""Rounds: the list, creating one (details, then a check of who it reaches), its status page
with live numbers, and opening, reminding and closing it (each after a confirmation page).

Dates are whole UK days, as in `tempcheck rounds create`: a round opens at 00:00 on its open
date and closes at 23:59 on its close date, London time (stored in UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, defer

from analysis.publish import frameworks_for
from collector import audit, i18n, models, organisations, reports, rounds
from collector.localtime import LONDON, day_ends, day_starts
from collector.models import utcnow
from collector.rounds import Reach, RoundError
from collector.segments import (
    CONTACT_AUDIENCES,
    INCOME_BANDS,
    ORGANISATION_TYPES,
    OUTCOMES,
    status_label,
    status_order,
)
from collector.survey.loader import library_surveys
from collector.survey.model import language_names
from collector.survey.store import SurveyChanged, register
from collector.volunteering.followups import asks_volunteers
from forms import services
from forms.console import bp
from forms.console.access import ProviderRef, staff_required
from forms.console.pages import Form, owned, reading, render, text_field, writing

LABEL_LENGTH = 40  # the column's size
MOST_REMINDERS = 5
SHOWN_NON_RESPONDERS = 200
POLL_SECONDS = 5
SEGMENT_NAMES = {
    "org_type": "Type of group",
    "district": "District",
    "income_band": "Income",
    "is_member": "Member",
    "audience": "Audience",
    "contact_org": "Organisation",
}
CHANNEL_NAMES = {
    "web": "Web form",
    "telegram": "Telegram",
    "terminal": "Command line",
    "open_link": "Open link",
}
# The status a round must have for each action.
NEEDS = {"open": "draft", "remind": "open", "close": "open"}


# Surveys a round can use ----------------------------------------------------------------


@dataclass(frozen=True)
class SurveyChoice:
    """A survey that a new round can use: a built-in one, or one stored in the database."""

    slug: str
    title: str
    version: int
    minutes: int | None = None
    languages: tuple[str, ...] = ("en",)  # codes, machine-drafted ones marked "(draft)"


def survey_choices(session: Session) -> list[SurveyChoice]:
    """List the surveys a round can use: the library's, then others stored (newest version)."""
    found: dict[str, SurveyChoice] = {
        slug: SurveyChoice(
            slug,
            survey.title.get("en"),
            survey.version,
            survey.minutes,
            tuple(survey.language_names()),
        )
        for slug, survey in library_surveys().items()
    }
    for row in session.scalars(select(models.Survey).order_by(models.Survey.version)):
        if row.slug not in found or found[row.slug].minutes is None:
            definition = row.definition or {}
            languages = language_names(
                definition.get("languages", ["en"]), definition.get("drafts", [])
            )
            found[row.slug] = SurveyChoice(row.slug, row.title, row.version, None, tuple(languages))
    return sorted(found.values(), key=lambda s: s.title.lower())


def survey_row(session: Session, slug: str) -> models.Survey | None:
    """Give the stored survey for a slug: the library's version (stored now if new), or the
    newest stored version of a survey that is not in the library."""
    library = library_surveys()
    if slug in library:
        return register(session, library[slug])
    return session.scalars(
        select(models.Survey)
        .where(models.Survey.slug == slug)
        .order_by(models.Survey.version.desc())
        .limit(1)
    ).first()


# The new round form ---------------------------------------------------------------------


@dataclass
class RoundForm(Form):
    """The new round form: what was sent, its errors, and the values it stands for."""

    survey: str = ""
    label: str = ""
    opens: date | None = None
    closes: date | None = None
    audience: dict[str, list[Any]] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)
    reminder_days: list[int] = field(default_factory=list)
    open_link: bool = False

    def summary(self) -> list[dict[str, str]]:
        """Give the errors for the summary; a date's links to its day field."""
        return [
            {"text": text, "href": f"#{name}-day" if name in ("opens", "closes") else f"#{name}"}
            for name, text in self.errors.items()
        ]

    @property
    def opens_at(self) -> datetime | None:
        """Give when the round opens: the start of the open date (UK time)."""
        return day_starts(self.opens) if self.opens else None

    @property
    def closes_at(self) -> datetime | None:
        """Give when the round closes: the end of the close date (UK time)."""
        return day_ends(self.closes) if self.closes else None


def _date_field(form: RoundForm, name: str, what: str) -> date | None:
    parts = {p: text_field(f"{name}-{p}", 10) for p in ("day", "month", "year")}
    form.values[name] = parts
    if not any(parts.values()):
        form.error(name, f"Enter the {what} date")
        return None
    for part in ("day", "month", "year"):
        if not parts[part]:
            form.error(name, f"The {what} date must include a {part}")
            return None
    if not all(v.isdigit() for v in parts.values()):
        form.error(name, f"The {what} date must be a real date, like 1 4 2026")
        return None
    if len(parts["year"]) != 4:
        form.error(name, "The year must include 4 numbers")
        return None
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        form.error(name, f"The {what} date must be a real date, like 1 4 2026")
        return None


def _reminders(form: RoundForm) -> list[int]:
    raw = text_field("reminders", 100)
    form.values["reminders"] = raw
    parts = [p for p in re.split(r"[,;\s]+", raw) if p]
    if not all(p.isdigit() and len(p) <= 4 for p in parts):
        form.error(
            "reminders",
            "Enter reminder days as whole numbers separated by commas, like 7, 14",
        )
        return []
    days = sorted({int(p) for p in parts})
    if any(d < 1 for d in days):
        form.error("reminders", "A reminder must be at least 1 day after the round opens")
    elif len(days) > MOST_REMINDERS:
        form.error("reminders", f"Give at most {MOST_REMINDERS} reminder days")
    return days


def _audience(form: RoundForm, districts: list[str]) -> dict[str, list[Any]]:
    chosen: dict[str, list[Any]] = {}
    for key, allowed in (
        ("org_type", list(ORGANISATION_TYPES)),
        ("district", districts),
        ("income_band", list(INCOME_BANDS)),
        ("outcomes", list(OUTCOMES)),
    ):
        sent = set(request.values.getlist(key))
        values = [v for v in allowed if v in sent]
        form.values[key] = values
        if values:
            chosen[key] = values
    member = request.values.get("member", "any")
    form.values["member"] = member if member in ("yes", "no") else "any"
    if member in ("yes", "no"):
        chosen["is_member"] = [member == "yes"]
    return chosen


def read_round_form(session: Session, provider: ProviderRef) -> RoundForm:
    """Read and check the new round form as sent; errors are on the form."""
    form = RoundForm()
    form.survey = text_field("survey", 64)
    form.values["survey"] = form.survey
    if not form.survey:
        form.error("survey", "Choose a survey")
    elif form.survey not in {s.slug for s in survey_choices(session)}:
        form.error("survey", "Choose a survey from the list")
    form.label = text_field("period_label", 200)
    form.values["period_label"] = form.label
    if not form.label:
        form.error("period_label", "Enter a period label, like 2026/27 H1")
    elif len(form.label) > LABEL_LENGTH:
        form.error("period_label", f"The period label must be {LABEL_LENGTH} characters or fewer")
    form.opens = _date_field(form, "opens", "open")
    form.closes = _date_field(form, "closes", "close")
    today = utcnow().astimezone(LONDON).date()
    if form.opens is not None and form.opens < today:
        form.error("opens", "The open date must be today or in the future")
    # Stricter than `rounds.create_round`, which takes a round of one day: the form asks for
    # a close date after the open date. Its other checks stay here for their own words (a
    # form field's message), on the collector's rules where one is shared (reminder days).
    if form.opens is not None and form.closes is not None and form.closes <= form.opens:
        form.error("closes", "The close date must be after the open date")
    form.audience = _audience(form, organisations.districts(session, provider.id))
    sent_channels = request.values.getlist("channels")
    form.values["channels"] = sent_channels
    form.channels = [c for c in ("email", "telegram") if c in sent_channels]
    form.values["open_link"] = request.values.get("open_link", "no")
    form.open_link = form.values["open_link"] == "yes"
    if not form.channels and not form.open_link and "channels" not in form.errors:
        form.error("channels", "Choose email or Telegram, or give the round an open link")
    form.reminder_days = _reminders(form)
    if form.reminder_days and not form.channels:
        form.error(
            "reminders",
            "Reminders go by email or Telegram: choose one, or give no reminder days",
        )
    opens_at, closes_at = form.opens_at, form.closes_at
    if opens_at and closes_at and "reminders" not in form.errors and "closes" not in form.errors:
        late = [
            d for d in form.reminder_days if not rounds.reminder_in_round(opens_at, closes_at, d)
        ]
        if late:
            form.error(
                "reminders",
                f"A reminder {late[0]} days after opening would be after the round closes: "
                "give fewer days, or a later close date",
            )
    return form


def matching(session: Session, provider_id: int, audience: dict[str, list[Any]]) -> Reach:
    """Count the organisations an audience filter reaches, and how many can be emailed or
    messaged in Telegram (a linked, reachable chat and consent)."""
    # A round that is never added to the session: only its filter is used.
    return rounds.reach(session, models.Round(provider_id=provider_id, audience=audience))


def _form_page(form: RoundForm, session: Session, provider: ProviderRef) -> ResponseReturnValue:
    return render(
        "console/round_new.html",
        section="rounds",
        form=form,
        surveys=survey_choices(session),
        districts=organisations.districts(session, provider.id),
        types=ORGANISATION_TYPES,
        bands=INCOME_BANDS,
        outcomes=OUTCOMES,
        count=matching(session, provider.id, form.audience),
    )


@bp.route("/<provider_slug>/rounds/new", methods=["GET", "POST"])
@staff_required
def round_new(provider: ProviderRef) -> ResponseReturnValue:
    """Create a round: its details, then a check of whom it reaches, then create it (a draft)."""
    step = request.form.get("step", "details")
    if request.method == "GET":
        form = RoundForm(values={"channels": ["email"], "open_link": "no", "member": "any"})
        with reading() as session:
            return _form_page(form, session, provider)
    with reading() as session:
        form = read_round_form(session, provider)
        if step == "change" or form.errors:
            form.errors = {} if step == "change" else form.errors
            return _form_page(form, session, provider)
        assert form.opens_at is not None
        overlaps = rounds.overlapping_rounds(
            session,
            provider_id=provider.id,
            survey_slug=form.survey,
            audience=form.audience,
            opens_at=form.opens_at,
        )
        if step != "create":
            return _check_page(form, session, provider, overlaps)
        if overlaps and request.form.get("overlap") != "yes":
            # A second invitation to the same groups is made deliberately, or not at all.
            form.error("overlap", "Tick the box to create the round although it overlaps")
            return _check_page(form, session, provider, overlaps)
    try:
        with writing() as session:
            survey_version = survey_row(session, form.survey)
            provider_row = session.get(models.Provider, provider.id)
            assert survey_version is not None and provider_row is not None
            assert form.opens_at is not None and form.closes_at is not None
            created = rounds.create_round(
                session,
                provider=provider_row,
                survey=survey_version,
                period_label=form.label,
                opens_at=form.opens_at,
                closes_at=form.closes_at,
                audience=form.audience,
                open_link=form.open_link,
                channels=form.channels,
                reminder_days=form.reminder_days,
            )
            audit.record(
                session,
                "round.create",
                user=current_user.user,
                provider_id=provider.id,
                subject=_subject(created),
                details={"survey": survey_version.slug, "version": survey_version.version},
            )
            round_id = created.id
    except (RoundError, SurveyChanged) as error:
        # Rolled back: the form's own checks should have caught it; say what the rules said,
        # beside the field it is about.
        form.error(_field_of(error), error.message)
        with reading() as session:
            return _form_page(form, session, provider)
    flash("The round was created as a draft. Open it to send the invitations.")
    return redirect(url_for("console.round", provider_slug=provider.slug, round_id=round_id), 303)


def _field_of(error: RoundError | SurveyChanged) -> str:
    """Give the new round form's field that an error from `rounds.create_round` is about."""
    if isinstance(error, SurveyChanged):
        return "survey"
    # The form has no one field for the audience: its first filter stands for it.
    return {"audience": "org_type"}.get(error.field or "", error.field or "period_label")


def _check_page(
    form: RoundForm,
    session: Session,
    provider: ProviderRef,
    overlaps: list[rounds.Overlap],
) -> ResponseReturnValue:
    """Show the new round's details and whom it reaches, before it is created."""
    survey = next(s for s in survey_choices(session) if s.slug == form.survey)
    return render(
        "console/round_check.html",
        status=400 if form.errors else 200,
        section="rounds",
        form=form,
        survey=survey,
        count=matching(session, provider.id, form.audience),
        hidden=[
            (k, v)
            for k, v in request.form.items(multi=True)
            if k not in ("csrf_token", "step", "overlap")
        ],
        audience=_describe(form.audience),
        overlaps=overlaps,
        error=bool(form.errors),
    )


@bp.get("/<provider_slug>/rounds/audience.json")
@staff_required
def round_audience(provider: ProviderRef) -> ResponseReturnValue:
    """Count the organisations an audience filter reaches (asked as the new round form changes)."""
    form = RoundForm()
    with reading() as session:
        audience = _audience(form, organisations.districts(session, provider.id))
        reach = matching(session, provider.id, audience)
    response = jsonify(
        {
            "matching": reach.total,
            "emailable": reach.email,
            "telegram": reach.telegram,
            "text": _reach_text(reach),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _reach_text(reach: Reach) -> str:
    groups = f"{reach.total} organisation{'s' if reach.total != 1 else ''}"
    if reach.telegram:
        return (
            f"{groups} match, {reach.email} of them can be invited by email and "
            f"{reach.telegram} in Telegram."
        )
    return f"{groups} match, {reach.email} of them can be invited by email."


def _describe(audience: dict[str, list[Any]]) -> list[tuple[str, str]]:
    """Say in words whom an audience filter takes (every group, when it has no filter)."""
    names = {
        "org_type": ("Type of group", ORGANISATION_TYPES),
        "district": ("District", {}),
        "income_band": ("Income", INCOME_BANDS),
        "outcomes": ("Outcome areas (any of)", OUTCOMES),
        "contacts": ("Contacts", CONTACT_AUDIENCES),
    }
    described = []
    for key, (label, vocabulary) in names.items():
        if audience.get(key):
            described.append((label, ", ".join(vocabulary.get(v, v) for v in audience[key])))
    if "is_member" in audience:
        described.append(("Member", "Members only" if audience["is_member"][0] else "Not members"))
    return described


# The list and one round ---------------------------------------------------------------------


def _subject(round_: models.Round) -> str:
    return f"round {round_.id} ({round_.period_label})"


def response_counts(session: Session, provider_id: int) -> dict[int, tuple[int, int]]:
    """Give each of the provider's rounds' (invited, completed)."""
    inv, resp = models.Invitation, models.Response
    rows = session.execute(
        select(
            inv.round_id,
            func.count(inv.id),
            func.sum(case((resp.status == "completed", 1), else_=0)),
        )
        .join(models.Round, models.Round.id == inv.round_id)
        .outerjoin(resp, resp.invitation_id == inv.id)
        .where(models.Round.provider_id == provider_id)
        .group_by(inv.round_id)
    ).all()
    return {round_id: (int(invited), int(done or 0)) for round_id, invited, done in rows}


@bp.get("/<provider_slug>/rounds", endpoint="rounds")
@staff_required
def rounds_list(provider: ProviderRef) -> ResponseReturnValue:
    """List the provider's rounds, newest first, with their response rates."""
    with reading() as session:
        found = session.scalars(
            select(models.Round)
            .where(models.Round.provider_id == provider.id)
            .order_by(models.Round.opens_at.desc(), models.Round.id.desc())
        ).all()
        titles = {r.id: r.survey.title for r in found}
        rates = response_counts(session, provider.id)
    return render("console/rounds.html", section="rounds", rounds=found, titles=titles, rates=rates)


def open_link_url(round_: models.Round) -> str:
    """Give the absolute address of a round's open link."""
    base = services(current_app).settings.base_url.rstrip("/")
    return base + url_for("respond.s_start", key=round_.slug)


def invitation_url(token: str) -> str:
    """Give the absolute address of an invitation's link."""
    base = services(current_app).settings.base_url.rstrip("/")
    return base + url_for("respond.r_start", key=token)


def _language_name(code: str) -> tuple[str, str]:
    """Name a language for staff: in English, and in itself (Urdu, اردو)."""
    return i18n.english_name(code), i18n.name(code)


def segment_tables(status: rounds.RoundStatus) -> list[tuple[str, str, list[tuple[str, Any]]]]:
    """Give the status breakdowns as (key, heading, [(label, counts)]), rows in a sensible order:
    the vocabulary's for types and bands, members first, districts alphabetically, and the
    unrecorded last (collector.segments, as the bot's /round names them)."""
    tables = []
    for key, heading in SEGMENT_NAMES.items():
        cells = status.by_segment.get(key, {})
        rows = [(status_label(key, value), cells[value]) for value in status_order(key, cells)]
        if rows:
            tables.append((key, heading, rows))
    return tables


def _numbers(status: rounds.RoundStatus, round_: models.Round) -> dict[str, Any]:
    """Give the numbers the status page shows and polls."""
    messages = {
        s: status.messages.get(s, 0) for s in ("pending", "sending", "sent", "failed", "cancelled")
    }
    return {
        "status": round_.status,
        "invited": status.total.invited,
        "started": status.total.started,
        "completed": status.total.completed,
        "rate": "–" if status.total.rate is None else f"{status.total.rate:.0%}",
        "open_link_completed": status.anonymous_completed,
        "not_answered": len(status.non_responders),
        **{f"messages.{k}": v for k, v in messages.items()},
    }


@bp.get("/<provider_slug>/rounds/<int:round_id>", endpoint="round")
@staff_required
def round_page(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Show a round: its settings, live numbers, breakdowns, and who has not answered."""
    with reading() as session:
        found = owned(session, models.Round, round_id, provider.id)
        status = rounds.round_status(session, found)
        reach = (
            matching(session, provider.id, found.audience or {})
            if found.status == "draft"
            else None
        )
        page = render(
            "console/round.html",
            section="rounds",
            round=found,
            progress=status,
            numbers=_numbers(status, found),
            reach=reach,
            audience=_describe(found.audience or {}),
            open_link=open_link_url(found) if found.open_link else None,
            segments=segment_tables(status),
            who=_who(found),
            snapshots=_published_reports(session, found),
            channel_names=CHANNEL_NAMES,
            language_name=_language_name,
            describe_switch=rounds.describe_switch,
            shown=SHOWN_NON_RESPONDERS,
            poll_seconds=POLL_SECONDS,
        )
    return page


def _published_reports(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
    """List a round's published reports, newest first (none before it closes)."""
    if round_.status != "closed":
        return []
    snapshot = models.ReportSnapshot
    return list(
        session.scalars(
            select(snapshot)
            .options(defer(snapshot.pdf), defer(snapshot.xlsx))
            .where(snapshot.round_id == round_.id)
            .order_by(snapshot.id.desc())
        )
    )


def _who(round_: models.Round) -> str:
    """Give what a round's pages call those it invites: volunteers (a volunteers' follow-up
    round), contacts (a round of contacts) or groups."""
    if rounds.asks_contacts(round_):
        return "contact"
    return "volunteer" if asks_volunteers(round_) else "group"


@bp.get("/<provider_slug>/rounds/<int:round_id>/status.json")
@staff_required
def round_status_json(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Give a round's numbers as JSON, for the status page to poll."""
    with reading() as session:
        found = owned(session, models.Round, round_id, provider.id)
        numbers = _numbers(rounds.round_status(session, found), found)
    response = jsonify(numbers)
    response.headers["Cache-Control"] = "no-store"
    return response


# Open, remind, close: a confirmation page (GET), then the action (POST) ---------------------


def _pending(session: Session, round_id: int) -> int:
    message = models.OutboxMessage
    return int(
        session.scalar(
            select(func.count(message.id)).where(
                message.round_id == round_id, message.status == "pending"
            )
        )
        or 0
    )


def _confirm_page(
    provider: ProviderRef,
    round_: models.Round,
    action: str,
    session: Session,
    problem: str | None = None,
) -> ResponseReturnValue:
    facts: dict[str, Any] = {}
    if action == "open":
        facts["matching"], facts["emailable"], facts["telegram"] = matching(
            session, provider.id, round_.audience or {}
        )
        facts["now"] = round_.opens_at <= utcnow()
    elif action == "remind":
        status = rounds.round_status(session, round_)
        facts["waiting"] = len(status.non_responders)
        facts.update(_last_contact(session, round_))
    else:
        facts["pending"] = _pending(session, round_.id)
        facts["waiting"] = len(rounds.round_status(session, round_).non_responders)
        facts["early"] = round_.closes_at > utcnow()
        facts["reports"] = len(frameworks_for(round_))
        facts["funders"] = len(reports.funders(session, provider.id))
    return render(
        "console/round_action.html",
        status=409 if problem else 200,
        section="rounds",
        round=round_,
        action=action,
        facts=facts,
        who=_who(round_),
        problem=problem,
        error=bool(problem),
        # A reminder refused as too soon can still be sent, deliberately: the form stays.
        can_confirm=not problem or (action == "remind" and facts.get("too_soon")),
    )


def _last_contact(session: Session, round_: models.Round) -> dict[str, Any]:
    """Say when those a reminder would reach last heard from the round, and whether that is
    sooner than REMINDER_MIN_HOURS ago."""
    last = rounds.last_contact(session, round_)
    interval = services(current_app).settings.reminder_min_interval
    return {
        "last_sent": last,
        "min_hours": services(current_app).settings.reminder_min_hours,
        "too_soon": bool(last is not None and interval and utcnow() - last < interval),
    }


def _act(provider: ProviderRef, round_id: int, action: str) -> ResponseReturnValue:
    """Show the confirmation page, or do the action and go back to the round."""
    if request.method == "GET":
        with reading() as session:
            found = owned(session, models.Round, round_id, provider.id)
            if found.status != NEEDS[action]:
                # Nothing to confirm (an old link, another tab): the round page shows its state.
                return redirect(
                    url_for("console.round", provider_slug=provider.slug, round_id=round_id), 303
                )
            return _confirm_page(provider, found, action, session)
    keys = {"open": "invited", "remind": "queued", "close": "cancelled"}
    closing_note = ""
    try:
        with writing() as session:
            found = owned(session, models.Round, round_id, provider.id)
            if action == "open":
                done = rounds.open_round(session, found)
            elif action == "remind":
                # Too soon after the last message is refused unless staff ticked the box.
                anyway = request.form.get("anyway") == "yes"
                interval = services(current_app).settings.reminder_min_interval
                done = rounds.remind(session, found, min_interval=None if anyway else interval)
            else:
                # Its reports (if a framework reads its survey) are published in the
                # background, in the closer's name: building them takes seconds, not a request.
                done = rounds.close_round(
                    session,
                    found,
                    by=current_user.user.email,
                    reports=bool(frameworks_for(found)),
                )
                if found.reports_due_at is not None:
                    closing_note = (
                        " Its KPI reports are being prepared: this page links them once they "
                        "are published."
                    )
            audit.record(
                session,
                f"round.{action}",
                user=current_user.user,
                provider_id=provider.id,
                subject=_subject(found),
                details={keys[action]: done},
            )
    except RoundError as error:
        # Rolled back. The round changed since the page was shown (another tab, the schedule).
        with reading() as session:
            found = owned(session, models.Round, round_id, provider.id)
            return _confirm_page(provider, found, action, session, error.message)
    messages = {
        "open": f"The round is open: {done} organisation{'s were' if done != 1 else ' was'} "
        "invited.",
        "remind": f"{done} reminder{'s were' if done != 1 else ' was'} queued.",
        "close": "The round is closed."
        + (f" {done} unsent message{'s were' if done != 1 else ' was'} cancelled." if done else "")
        + closing_note,
    }
    flash(messages[action])
    return redirect(url_for("console.round", provider_slug=provider.slug, round_id=round_id), 303)


@bp.route("/<provider_slug>/rounds/<int:round_id>/open", methods=["GET", "POST"])
@staff_required
def round_open(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Open a draft round: invite every matching organisation (after a confirmation page)."""
    return _act(provider, round_id, "open")


@bp.route("/<provider_slug>/rounds/<int:round_id>/remind", methods=["GET", "POST"])
@staff_required
def round_remind(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Remind an open round's non-responders now (after a confirmation page)."""
    return _act(provider, round_id, "remind")


@bp.route("/<provider_slug>/rounds/<int:round_id>/close", methods=["GET", "POST"])
@staff_required
def round_close(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Close an open round now (after a confirmation page)."""
    return _act(provider, round_id, "close")
