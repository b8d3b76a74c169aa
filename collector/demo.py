"""A realistic synthetic data set for the demo and the benchmarks.

Three providers in different districts, about 150 organisations across types and income
bands, two closed past rounds of `cvs-support` and one open round. Answers are given through
the answering engine (so they obey skip logic and validation exactly as a person's would),
by simulated respondents whose leaning towards positive answers depends on their provider,
type of group, income band and the round, so results vary by segment and over time.

Accounts to sign in with: an admin, one staff member per provider, and a funder of two of the
three, each with a new random password every time (printed by `tempcheck demo-data`). The past
rounds' invitations are marked sent when they opened; the open rounds' invitations wait in the
outbox for the dispatcher that `tempcheck up` starts.

Given a `publish` hook (analysis.publish.publish, passed in by the command: the collector builds
no reports), each provider's latest closed round has its KPI reports published as it closed,
so the funder has reports to open, and their emails wait in the outbox beside the invitations.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from collector import audit, flow, models, reports, rounds, users
from collector.models import utcnow
from collector.segments import INCOME_BANDS, ORGANISATION_TYPES, OUTCOMES
from collector.survey.loader import library_survey
from collector.survey.model import QuestionType
from collector.survey.store import register

PROVIDERS = (
    # slug, name, district, localities, how well its groups rate it (a leaning, 0..1)
    (
        "brentwood-cvs",
        "Brentwood CVS",
        "Brentwood",
        ("Brentwood", "Ingatestone", "Shenfield"),
        0.78,
    ),
    (
        "harlow-cvs",
        "Harlow Council for Voluntary Service",
        "Harlow",
        ("Harlow", "Old Harlow"),
        0.66,
    ),
    (
        "uttlesford-cvs",
        "Uttlesford CVS",
        "Uttlesford",
        ("Saffron Walden", "Great Dunmow", "Stansted"),
        0.56,
    ),
)

# How much each segment shifts the leaning: small and volunteer-run groups find support
# harder to reach, as the seeds report; larger charities find it easier.
TYPE_SHIFT = {
    "registered_charity": 0.06,
    "voluntary_organisation": 0.03,
    "community_group": -0.02,
    "tenants_residents": -0.08,
    "faith_group": -0.10,
    "social_enterprise": 0.04,
    "sports_arts_heritage": 0.0,
    "other": -0.03,
}
BAND_SHIFT = {"under_10k": -0.07, "10k_100k": 0.0, "100k_500k": 0.05, "over_500k": 0.07}
NAME_PARTS = (
    ("Friends of", "Park", "Library", "Meadow", "Riverside", "Old Church", "Station"),
    (
        "Community Trust",
        "Youth Club",
        "Foodbank",
        "Carers Group",
        "Residents' Association",
        "Arts Collective",
        "Football Club",
        "Heritage Society",
        "Lunch Club",
        "Men's Shed",
        "Parents Forum",
        "Befriending Service",
        "Allotment Society",
        "Faith Partnership",
    ),
)
TYPE_WEIGHTS = {
    "registered_charity": 30,
    "community_group": 25,
    "voluntary_organisation": 12,
    "tenants_residents": 8,
    "faith_group": 9,
    "social_enterprise": 6,
    "sports_arts_heritage": 8,
    "other": 2,
}
BAND_WEIGHTS = {"under_10k": 40, "10k_100k": 35, "100k_500k": 18, "over_500k": 7}
COMMENTS = (
    "The funding bulletin is really useful.",
    "Hard to get hold of anyone by phone.",
    "The governance training helped our new trustees a lot.",
    "More evening sessions please, we all work in the day.",
    "Friendly and quick to reply.",
    "We did not know about the networking events.",
)
ROUNDS = (
    # period label, months before now it opened, length in days, improvement since the first
    ("2025/26 H1", 14, 42, 0.0),
    ("2025/26 H2", 8, 42, 0.05),
)
RESPONSE_RATE = 0.7
# Who signs in: one staff member per provider (by slug), and which providers the funder funds.
STAFF = {
    "brentwood-cvs": "Priya Shah",
    "harlow-cvs": "Tom Walker",
    "uttlesford-cvs": "Grace Okafor",
}
FUNDER = ("funder@example.org", "Essex County Council", ("brentwood-cvs", "harlow-cvs"))
ADMIN = ("admin@example.org", "Demo Admin")
# The first provider's open round also has a reminder scheduled this many days after it opened
# (the round opened 10 days ago, so it is due in 4 days).
SCHEDULED_REMINDER_DAYS = 14


@dataclass(frozen=True)
class DemoLogin:
    """One demo account: its role, email, password (shown once) and what it sees."""

    role: str
    email: str
    password: str
    sees: str


@dataclass
class DemoSummary:
    """What the demo data set holds, for printing."""

    providers: int = 0
    organisations: int = 0
    rounds: int = 0
    completed: int = 0
    in_progress: int = 0
    invitations_open: int = 0
    emails_queued: int = 0
    sample_tokens: tuple[str, ...] = ()
    logins: tuple[DemoLogin, ...] = ()
    reports: tuple[DemoReport, ...] = ()
    report_emails: int = 0


@dataclass(frozen=True)
class DemoReport:
    """A published demo report: whose, which, and the path of its page."""

    provider: str
    title: str
    path: str
    funded: bool  # whether the demo funder funds its provider (and so can open it)


def build(
    session: Session,
    *,
    seed: int = 2026,
    now: datetime | None = None,
    progress: Callable[[str], None] = lambda _: None,
    publish: reports.PublishHook | None = None,
) -> DemoSummary:
    """Fill an empty database with the demo data set; the caller commits.

    With `publish`, each provider's latest closed round has its reports published.
    """
    rng = random.Random(seed)
    now = now or utcnow()
    survey_row = register(session, library_survey("cvs-support"))
    summary = DemoSummary()
    open_tokens: list[str] = []
    logins = [_login(session, "admin", *ADMIN)]
    providers: dict[str, models.Provider] = {}
    published: list[models.ReportSnapshot] = []
    for slug, name, district, _, _ in PROVIDERS:
        providers[slug] = models.Provider(slug=slug, name=name, kind="cvs", district=district)
    session.add_all(providers.values())
    session.flush()
    # The funder exists before any report is published, so its emails are queued then.
    email, funder_name, funds = FUNDER
    funder_login = _login(
        session, "funder", email, funder_name, funded=[providers[s] for s in funds]
    )
    for slug, name, _, localities, leaning in PROVIDERS:
        provider = providers[slug]
        organisations = _organisations(rng, provider, localities, count=rng.randint(46, 54))
        session.add_all(organisations)
        session.flush()
        staff_login = _login(
            session, "staff", f"staff@{slug}.example.org", STAFF[slug], provider=provider
        )
        logins.append(staff_login)
        staff = users.user_by_email(session, staff_login.email)
        summary.providers += 1
        summary.organisations += len(organisations)
        for label, months_ago, days, improvement in ROUNDS:
            opens = now - timedelta(days=30 * months_ago)
            round_ = rounds.create_round(
                session,
                provider=provider,
                survey=survey_row,
                period_label=label,
                opens_at=opens,
                closes_at=opens + timedelta(days=days),
            )
            rounds.open_round(session, round_, now=opens)
            _audit(session, staff, "round.open", round_, opens)
            _mark_sent(session, round_, opens + timedelta(minutes=5))
            done, _ = _answer_round(rng, session, round_, leaning + improvement, opens, days)
            rounds.close_round(session, round_, now=opens + timedelta(days=days))
            _audit(session, staff, "round.close", round_, opens + timedelta(days=days))
            summary.rounds += 1
            summary.completed += done
            progress(f"{name}: {label} closed with {done} responses")
        if publish is not None:
            published.extend(_publish(session, publish, round_, staff, progress))
        opens = now - timedelta(days=10)
        round_ = rounds.create_round(
            session,
            provider=provider,
            survey=survey_row,
            period_label="2026/27 H1",
            opens_at=opens,
            closes_at=now + timedelta(days=32),
            open_link=True,
            reminder_days=(SCHEDULED_REMINDER_DAYS,) if summary.providers == 1 else (),
        )
        rounds.open_round(session, round_, now=opens)
        _audit(session, staff, "round.open", round_, opens)
        done, started = _answer_round(
            rng, session, round_, leaning + 0.08, opens, 10, rate=0.35, partial=0.1
        )
        summary.rounds += 1
        summary.completed += done
        summary.in_progress += started
        unanswered = session.scalars(
            select(models.Invitation.token)
            .outerjoin(models.Response)
            .where(models.Invitation.round_id == round_.id, models.Response.id.is_(None))
            .order_by(models.Invitation.id)
        ).all()
        summary.invitations_open += len(unanswered)
        open_tokens += unanswered[:2]
        progress(f"{name}: 2026/27 H1 open, {done} answered so far")
    logins.append(funder_login)
    summary.report_emails = sum(reports.emails_queued(session, s.id) for s in published)
    summary.reports = tuple(
        DemoReport(
            provider=snapshot.provider.name,
            title=snapshot.title,
            path=reports.report_path(snapshot.provider.slug, snapshot.id),
            funded=snapshot.provider.slug in funds,
        )
        for snapshot in published
    )
    summary.sample_tokens = tuple(open_tokens)
    summary.logins = tuple(logins)
    message = models.OutboxMessage
    summary.emails_queued = int(
        session.scalar(
            select(func.count(message.id)).where(
                message.status == "pending",
                message.channel == "email",
                message.template != reports.TEMPLATE,
            )
        )
        or 0
    )
    return summary


def _publish(
    session: Session,
    publish: reports.PublishHook,
    round_: models.Round,
    staff: models.User,
    progress: Callable[[str], None],
) -> list[models.ReportSnapshot]:
    """Publish a closed round's reports as its staff member did when it closed."""
    published = list(publish(session, round_))
    for snapshot in published:
        snapshot.published_at = round_.closed_at or snapshot.published_at
        snapshot.published_by = staff.email
    event = reports.record_publication(session, round_, published, user=staff, on="close")
    event.at = round_.closed_at or event.at
    session.flush()
    progress(f"{round_.provider.name}: {round_.period_label} reports published ({len(published)})")
    return published


def _login(
    session: Session,
    role: str,
    email: str,
    name: str,
    *,
    provider: models.Provider | None = None,
    funded: list[models.Provider] | None = None,
) -> DemoLogin:
    """Add a demo account with a new random password, and give its login."""
    # Random each time (not from the seed): the demo may be served beyond localhost.
    password = secrets.token_urlsafe(12)
    user = users.create_user(
        session,
        email=email,
        name=name,
        password=password,
        role=role,
        provider=provider,
        funded=funded or [],
    )
    if role == "admin":
        sees = "every provider"
    elif provider is not None:
        sees = provider.slug
    else:
        sees = "funds " + ", ".join(p.slug for p in user.funded)
    return DemoLogin(role=role, email=user.email, password=password, sees=sees)


def _audit(
    session: Session, staff: models.User, action: str, round_: models.Round, when: datetime
) -> None:
    """Log what the provider's staff member did to a round, at the time it happened."""
    event = audit.record(
        session,
        action,
        user=staff,
        provider_id=round_.provider_id,
        subject=f"round {round_.id} ({round_.period_label})",
    )
    event.at = when


def _mark_sent(session: Session, round_: models.Round, when: datetime) -> None:
    """Record a past round's invitations as delivered when it opened (as a dispatcher would)."""
    message = models.OutboxMessage
    session.execute(
        update(message)
        .where(message.round_id == round_.id, message.status == "pending")
        .values(status="sent", attempts=1, sent_at=when)
    )


def _organisations(
    rng: random.Random, provider: models.Provider, localities: tuple[str, ...], count: int
) -> list[models.Organisation]:
    made = []
    names: set[str] = set()
    for n in range(1, count + 1):
        locality = rng.choice(localities)
        while True:
            name = f"{locality} {rng.choice(NAME_PARTS[0])} {rng.choice(NAME_PARTS[1])}"
            name = name.replace(f"{locality} Friends of", f"Friends of {locality}")
            if name not in names:
                names.add(name)
                break
        org_type = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
        band = rng.choices(list(BAND_WEIGHTS), weights=list(BAND_WEIGHTS.values()))[0]
        outcomes = sorted(rng.sample(list(OUTCOMES), k=rng.randint(1, 3)), key=list(OUTCOMES).index)
        slug = name.lower().replace("'", "").replace(" ", "-")[:40]
        made.append(
            models.Organisation(
                provider=provider,
                external_ref=f"{provider.slug[:3].upper()}{n:04d}",
                name=name,
                org_type=org_type,
                income_band=band,
                district=locality,
                outcomes=" ".join(outcomes),
                is_member=rng.random() < 0.6,
                contact_email=f"{slug}@example.org",
                consent_email=True,
                consent_telegram=rng.random() < 0.2,
            )
        )
    assert set(TYPE_WEIGHTS) == set(ORGANISATION_TYPES) and set(BAND_WEIGHTS) == set(INCOME_BANDS)
    return made


def _answer_round(
    rng: random.Random,
    session: Session,
    round_: models.Round,
    leaning: float,
    opens: datetime,
    days: int,
    *,
    rate: float = RESPONSE_RATE,
    partial: float = 0.0,
) -> tuple[int, int]:
    """Answer a round's invitations as simulated respondents; give (completed, in progress)."""
    completed = started = 0
    for invitation in round_.invitations:
        draw = rng.random()
        if draw >= rate + partial:
            continue
        organisation = invitation.organisation
        assert organisation is not None
        p = leaning + TYPE_SHIFT[organisation.org_type] + BAND_SHIFT[organisation.income_band or ""]
        when = opens + timedelta(days=rng.uniform(0, days * 0.9), minutes=rng.randint(0, 600))
        channel = rng.choices(["web", "telegram"], weights=[85, 15])[0]
        response = flow.start(session, invitation, channel=channel, now=when)
        finish = draw < rate
        _answer(rng, session, response, min(max(p, 0.05), 0.97), when, stop_early=not finish)
        if finish:
            view = flow.complete(session, response, now=when + timedelta(minutes=3))
            if not isinstance(view, flow.DoneView):
                raise RuntimeError(f"demo respondent could not submit: {view}")
            completed += 1
        else:
            started += 1
    return completed, started


def _answer(
    rng: random.Random,
    session: Session,
    response: models.Response,
    p: float,
    when: datetime,
    *,
    stop_early: bool,
) -> None:
    """Walk the survey like a person leaning positive with probability `p`."""
    stop_after = rng.randint(1, 4) if stop_early else 10_000
    for step in range(200):
        view = flow.view(session, response)
        if not isinstance(view, flow.QuestionView) or step >= stop_after:
            return
        flow.answer(session, response, view.question_id, _pick(rng, view, p), now=when)
    raise RuntimeError("demo respondent went round in circles")


def _pick(rng: random.Random, view: flow.QuestionView, p: float) -> str | list[str] | None:
    kind = view.type
    values = [c.value for c in view.choices]
    if kind == QuestionType.NOTE:
        return None
    if kind == QuestionType.SCALE:
        # Scales list their best answer first: lean to the top two boxes with probability p.
        return (
            values[rng.randrange(0, 2)]
            if rng.random() < p
            else values[rng.randrange(2, len(values))]
        )
    if kind == QuestionType.SINGLE:
        if set(values) >= {"yes", "no"}:
            return "yes" if rng.random() < max(p, 0.6) else "no"
        return values[0] if rng.random() < p else rng.choice(values)
    if kind == QuestionType.MULTIPLE:
        exclusive = [v for v in values if v.startswith("none")]
        options = [v for v in values if v not in exclusive]
        picked = [v for v in options if rng.random() < p * 0.5]
        if picked or view.required:
            return picked or ([exclusive[0]] if exclusive else [rng.choice(options)])
        return exclusive[:1] if exclusive else None
    if kind in (QuestionType.INTEGER, QuestionType.DECIMAL):
        return None if not view.required and rng.random() < 0.5 else str(rng.randint(1, 20))
    if kind == QuestionType.TEXT:
        return rng.choice(COMMENTS) if rng.random() < 0.3 else None
    raise RuntimeError(f"demo respondent cannot answer a {kind} question")
