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

Two of the providers run a volunteer centre (Uttlesford does not, so its VAL report says "no
data" for volunteering): volunteers, enquiries and placements over the same three periods, each
period with its rolling follow-up rounds (`volunteer-placement` and `volunteer-host`, labelled
like the provider's other rounds so that one report pairs them). Placements were followed up on
their follow-up day and many of the volunteers and hosts answered; the past periods' rolling
rounds are closed, so the published leicestershire-val report shows VAL 24 to 28. A few
placements reach their follow-up day in the days after the demo is built, for the dispatcher
of `make demo` to follow up live.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from collector import activities, audit, flow, localtime, models, reports, rounds, users
from collector.models import utcnow
from collector.segments import INCOME_BANDS, ORGANISATION_TYPES, OUTCOMES
from collector.survey.loader import library_survey
from collector.survey.model import QuestionType
from collector.survey.store import register
from collector.volunteering import followups

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
# One demo group in this many sends its answers from the other channel than it started in.
SWITCH_EVERY = 7
# Who signs in: one staff member per provider (by slug), and which providers the funder funds.
STAFF = {
    "brentwood-cvs": "Priya Shah",
    "harlow-cvs": "Tom Walker",
    "uttlesford-cvs": "Grace Okafor",
}
FUNDER = ("funder@example.org", "Essex County Council", ("brentwood-cvs", "harlow-cvs"))
ADMIN = ("admin@example.org", "Demo Admin")
# Kent's alliance (the kent-2017 framework's `alliance`): slug, name, district, localities, and
# how well its organisations rate it. A funder at the county council funds all three.
KENT_PROVIDERS = (
    ("west-kent-cvs", "West Kent CVS", "Tonbridge", ("Tonbridge", "Sevenoaks", "Maidstone"), 0.7),
    ("east-kent-cvs", "East Kent CVS", "Canterbury", ("Canterbury", "Thanet", "Dover"), 0.6),
    ("north-kent-vc", "North Kent Volunteer Centre", "Dartford", ("Dartford", "Gravesend"), 0.64),
)
KENT_FUNDER = ("kent-funder@example.org", "Kent County Council")
# Voluntary Action LeicesterShire: the county's infrastructure organisation (the VAL review's
# provider), its districts, its partners' agencies, and the county council funding it.
LEICESTERSHIRE = (
    "val-leicestershire",
    "Voluntary Action LeicesterShire",
    "Leicestershire",
    ("Charnwood", "Hinckley and Bosworth", "Melton", "North West Leicestershire", "Harborough"),
)
LEICESTERSHIRE_AGENCIES = {
    "partner": (
        "Leicestershire County Council, Children and Family Services",
        "Leicestershire County Council, Adults and Communities",
        "{district} Borough Council",
        "Leicestershire Police",
    ),
    "commissioner": (
        "Leicestershire County Council, Commissioning",
        "NHS Leicester, Leicestershire and Rutland",
    ),
    "representative": (
        "Leicestershire Together",
        "Safer Communities Board",
        "Health and Wellbeing Board",
    ),
}
LEICESTERSHIRE_FUNDER = ("leicestershire-funder@example.org", "Leicestershire County Council")
# NI7: how often a Kent organisation says local statutory bodies are a positive, negative or
# no influence (the national figure was 16.3% positive, Thurrock's 8.8%).
KENT_INFLUENCE = {"positive": 24, "negative": 14, "no_influence": 44, "dont_know": 18}
# Volunteer centres (by provider slug): enquiries per period, the share placed, and how happy
# their volunteers are (a leaning, 0..1).
VOLUNTEERING = {"brentwood-cvs": (160, 0.36, 0.8), "harlow-cvs": (130, 0.32, 0.62)}
# How each period's rolling rounds sit around the provider's rounds of the same label: days
# before now that each opened, and closed (None: still open, closing with the open round).
ROLLING = (("2025/26 H1", 560, 378), ("2025/26 H2", 378, 198), ("2026/27 H1", 198, None))
FIRST_NAMES = (
    "Amira",
    "Ben",
    "Chloe",
    "Daniel",
    "Ella",
    "Femi",
    "Grace",
    "Harvey",
    "Isla",
    "Jack",
    "Kiran",
    "Lily",
    "Mohammed",
    "Niamh",
    "Oliver",
    "Priya",
    "Rosa",
    "Sam",
    "Tom",
    "Zara",
)
LAST_NAMES = (
    "Ahmed",
    "Baker",
    "Clarke",
    "Davies",
    "Evans",
    "Fraser",
    "Green",
    "Hughes",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Morris",
    "Nowak",
    "Okafor",
    "Patel",
    "Reid",
    "Smith",
    "Turner",
    "Walsh",
)
ROLES = (
    "Befriender",
    "Charity shop assistant",
    "Driver",
    "Gardener",
    "Event steward",
    "Food bank packer",
    "Youth club helper",
    "Trustee",
    "Lunch club helper",
    "Admin volunteer",
)
ENQUIRY_SOURCES = ("web", "phone", "walk_in", "event", "referral")
VOLUNTEER_COMMENTS = (
    "The volunteer centre found me something that fits around work.",
    "It took a while to hear back after I enquired.",
    "I feel part of the team already.",
    "More training at the start would have helped.",
)
# Each provider's contacts (issue 15): how many of each audience, and the public agencies its
# partners and commissioners work at ({district}: the provider's own district council).
CONTACT_AUDIENCES = (("partner", 12), ("commissioner", 8), ("representative", 16))
AGENCIES = {
    "partner": (
        "Essex County Council, Children and Families",
        "Essex County Council, Adult Social Care",
        "{district} District Council",
        "Essex Police",
    ),
    "commissioner": ("Essex County Council, Commissioning", "NHS Mid and South Essex"),
    "representative": (
        "Health and Wellbeing Board",
        "Community Safety Partnership",
        "Children's Partnership",
    ),
}
# The surveys of VAL 7, 9, 10 and 12, each period: whom each asks (a round's audience).
PARTNERSHIP_SURVEYS: tuple[tuple[str, dict[str, list[str]]], ...] = (
    ("sector-voice", {}),
    ("funder-satisfaction", {"contacts": ["partner", "commissioner"]}),
    ("representative-views", {"contacts": ["representative"]}),
)

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
    volunteers: int = 0
    enquiries: int = 0
    placements: int = 0
    followups_answered: int = 0  # completed follow-up responses, volunteers' and hosts'
    followups_coming: int = 0  # placements the dispatcher follows up in the next days
    contacts: int = 0  # partners, commissioners and representatives


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
            rounds.close_round(session, round_, now=opens + timedelta(days=days), reports=False)
            _audit(session, staff, "round.close", round_, opens + timedelta(days=days))
            summary.rounds += 1
            summary.completed += done
            progress(f"{name}: {label} closed with {done} responses")
        _partnership(rng, session, provider, localities, leaning, now, summary, staff)
        progress(f"{name}: partners, commissioners and representatives answered (VAL 7-12)")
        centre = None
        if slug in VOLUNTEERING:
            centre = _Centre(provider, rng.sample(organisations, k=30), localities)
            # Before publishing: the past periods' follow-up rounds are in the report.
            for window in ROLLING[:-1]:
                _volunteering(rng, session, centre, window, now, summary)
            progress(f"{name}: volunteers, placements and their follow-ups")
        recorded = _activities(rng, session, provider, organisations, round_, staff, now)
        progress(
            f"{name}: {recorded} activities, evidence and milestones for {round_.period_label}"
        )
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
        if centre is not None:
            # After the open round, whose invitations come first in the demo's lists.
            _volunteering(rng, session, centre, ROLLING[-1], now, summary)
            progress(f"{name}: {ROLLING[-1][0]} follow-ups open")
    logins.append(funder_login)
    _kent(rng, session, now, summary, logins, published, open_tokens, publish, progress)
    _leicestershire(rng, session, summary, logins)
    _community_hubs(random.Random(seed + 17), session, now)
    progress(f"{LEICESTERSHIRE[1]}: groups, partners, commissioners and representatives")
    summary.report_emails = sum(reports.emails_queued(session, s.id) for s in published)
    summary.reports = tuple(
        DemoReport(
            provider=snapshot.provider.name,
            title=snapshot.title,
            path=reports.report_path(snapshot.provider.slug, snapshot.id),
            funded=snapshot.provider.slug in funds
            or snapshot.provider.slug in {k[0] for k in KENT_PROVIDERS}
            or snapshot.provider.slug == LEICESTERSHIRE[0],
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


def _partnership(
    rng: random.Random,
    session: Session,
    provider: models.Provider,
    localities: tuple[str, ...],
    leaning: float,
    now: datetime,
    summary: DemoSummary,
    staff: models.User,
) -> None:
    """Add a provider's contacts, and for each past period a round of sector-voice to its
    groups, of funder-satisfaction to its partners and commissioners and of
    representative-views to its representatives, answered and closed (VAL 7, 9, 10, 12)."""
    _contacts(rng, session, provider, AGENCIES, summary)
    session.flush()
    for label, months_ago, days, improvement in ROUNDS:
        opens = now - timedelta(days=30 * months_ago)
        # A day shorter than the period's cvs-support round, which stays the reports' anchor.
        days -= 1
        for survey_id, asked in PARTNERSHIP_SURVEYS:
            round_ = rounds.create_round(
                session,
                provider=provider,
                survey=register(session, library_survey(survey_id)),
                period_label=label,
                opens_at=opens,
                closes_at=opens + timedelta(days=days),
                audience=asked,
            )
            rounds.open_round(session, round_, now=opens)
            _audit(session, staff, "round.open", round_, opens)
            _mark_sent(session, round_, opens + timedelta(minutes=5))
            # Partners rate the sector's voice lower than groups do, and it improves.
            shift = 0.0 if not asked else -0.12
            done, _ = _answer_round(
                rng, session, round_, leaning + shift + 2 * improvement, opens, days, rate=0.75
            )
            rounds.close_round(session, round_, now=opens + timedelta(days=days), reports=False)
            _audit(session, staff, "round.close", round_, opens + timedelta(days=days))
            summary.rounds += 1
            summary.completed += done


def _contacts(
    rng: random.Random,
    session: Session,
    provider: models.Provider,
    agencies: dict[str, tuple[str, ...]],
    summary: DemoSummary,
) -> None:
    """Add a provider's partners, commissioners and representatives (CONTACT_AUDIENCES), each
    at one of the agencies of its audience ({district}: the provider's district)."""
    for audience, count in CONTACT_AUDIENCES:
        for n in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            agency = rng.choice(agencies[audience]).format(district=provider.district)
            session.add(
                models.Contact(
                    provider=provider,
                    external_ref=f"{audience[:3].upper()}{n + 1:03d}",
                    audience=audience,
                    name=f"{first} {last}",
                    organisation=agency,
                    contact_email=f"{first}.{last}.{audience[:3]}{n + 1}@example.org".lower(),
                    consent_email=True,
                )
            )
            summary.contacts += 1


def _leicestershire(
    rng: random.Random, session: Session, summary: DemoSummary, logins: list[DemoLogin]
) -> None:
    """Add Voluntary Action LeicesterShire: its groups across the county's districts, its
    partners, commissioners and representatives, its staff member and the county council
    as its funder, and its two-way self-evaluations."""
    slug, name, district, localities = LEICESTERSHIRE
    provider = models.Provider(slug=slug, name=name, kind="cvs", district=district)
    session.add(provider)
    session.flush()
    organisations = _organisations(rng, provider, localities, count=rng.randint(44, 52))
    session.add_all(organisations)
    _contacts(rng, session, provider, LEICESTERSHIRE_AGENCIES, summary)
    session.flush()
    logins.append(
        _login(session, "staff", f"staff@{slug}.example.org", "Hannah Patel", provider=provider)
    )
    email, funder_name = LEICESTERSHIRE_FUNDER
    logins.append(_login(session, "funder", email, funder_name, funded=[provider]))
    summary.providers += 1
    summary.organisations += len(organisations)
    # Issue 16: two self-evaluations a year apart (the first closed, published and with an
    # action plan; the second closed, showing change per question).
    _self_evaluations(rng, session, provider, summary)


# The two-way self-evaluation (issue 16): how likely each side is to choose each level (good,
# minimum, improve, don't know), as the VCS Engage pilots found: the authority rates the
# partnership higher than the sector, and the sector answers "don't know" where information
# does not reach it (communication, workforce development).
SELF_EVALUATION_LEANINGS = {
    "la": (0.4, 0.42, 0.12, 0.06),
    "vcs": (0.12, 0.38, 0.35, 0.15),
}
SELF_EVALUATION_UNKNOWN = ("str_communication", "del_workforce", "gov_safeguarding")
SELF_EVALUATION_EVIDENCE = (
    "Partnership board minutes",
    "The children and young people's plan",
    "Our network's survey of members",
    "Commissioning workshop notes",
    "What we have seen at meetings",
)
SELF_EVALUATION_ACTIONS = (
    # question, action, owner, days after the round opened it is due, status
    (
        "str_communication",
        "Agree a communication strategy with the VCS network: one bulletin, "
        "plain language, no acronyms",
        "Head of Partnerships",
        120,
        "done",
    ),
    (
        "gov_safeguarding",
        "Offer the Safeguarding Children Board's training to VCS groups and "
        "report its decisions to the network",
        "LSCB business manager",
        90,
        "in_progress",
    ),
    (
        "pro_assets",
        "Publish a register of rooms and buildings the sector can share",
        "Property services",
        180,
        "planned",
    ),
    (
        "del_workforce",
        "Open the joint workforce development calendar to VCS staff and volunteers",
        "Workforce development lead",
        150,
        "done",
    ),
)


def _self_evaluations(
    rng: random.Random, session: Session, provider: models.Provider, summary: DemoSummary
) -> None:
    """Run the provider's two self-evaluations a year apart: the first one side first (the
    local authority, then the sector reviewing), closed, with agreed ratings from a
    facilitated meeting, published and with an action plan; the second both sides
    separately, closed, a year on. Answers are written as rows (not walked through the
    flow, to keep the demo quick): tens of respondents."""
    from collector import selfeval

    staff = session.scalar(select(models.User).where(models.User.provider_id == provider.id))
    now = utcnow()
    first_opens = now - timedelta(days=400)
    first = selfeval.create(
        session,
        provider=provider,
        period_label="2025/26",
        opens_at=first_opens,
        closes_at=first_opens + timedelta(days=35),
        mode="reviewed",
        first_side="la",
    )
    rounds.open_round(session, first, now=first_opens)
    _mark_sent(session, first, first_opens + timedelta(minutes=5))
    summary.completed += _rate_partnership(rng, session, first, first_opens, 14, improved=())
    handed = first_opens + timedelta(days=15)
    selfeval.hand_over(session, first, now=handed)
    _mark_sent(session, first, handed + timedelta(minutes=5))
    summary.completed += _rate_partnership(rng, session, first, handed, 14, improved=())
    rounds.close_round(session, first, now=first_opens + timedelta(days=35), reports=False)
    by = staff.email if staff is not None else "demo"
    for question, level in (
        ("str_communication", "improve"),
        ("gov_safeguarding", "improve"),
        ("pro_assets", "improve"),
    ):
        selfeval.record_agreed(
            session,
            first,
            side="vcs",
            question_id=question,
            level=level,
            evidence="Agreed at the network's facilitated meeting",
            prioritise=True,
            by=by,
        )
    selfeval.publish(session, first, by=by, now=first_opens + timedelta(days=40))
    for question, text, owner, days, status in SELF_EVALUATION_ACTIONS:
        due = (first_opens + timedelta(days=days)).date()
        selfeval.add_action(
            session,
            first,
            selfeval.ActionInput(question, text, owner, due, status, due + timedelta(days=28)),
            by=by,
        )
    second_opens = now - timedelta(days=35)
    second = selfeval.create(
        session,
        provider=provider,
        period_label="2026/27",
        opens_at=second_opens,
        closes_at=second_opens + timedelta(days=28),
    )
    rounds.open_round(session, second, now=second_opens)
    _mark_sent(session, second, second_opens + timedelta(minutes=5))
    done = tuple(q for q, *_, status in SELF_EVALUATION_ACTIONS if status == "done")
    summary.completed += _rate_partnership(rng, session, second, second_opens, 24, improved=done)
    rounds.close_round(session, second, now=second_opens + timedelta(days=28), reports=False)
    summary.rounds += 2


def _rate_partnership(
    rng: random.Random,
    session: Session,
    round_: models.Round,
    opens: datetime,
    days: int,
    *,
    improved: tuple[str, ...],
) -> int:
    """Complete about two thirds of a self-evaluation's unanswered invitations as rows: each
    question rated by the respondent's side's leaning (better on `improved` questions), with
    evidence now and then and a few questions prioritised. Give how many answered."""
    from collector import selfeval

    answered = set(
        session.scalars(
            select(models.Response.invitation_id).where(models.Response.round_id == round_.id)
        )
    )
    levels = ("good", "minimum", "improve", "dont_know")
    count = 0
    for invitation in round_.invitations:
        contact = invitation.contact
        if contact is None or invitation.id in answered or rng.random() > 0.65:
            continue
        side = selfeval.side_of(contact.audience) or "la"
        when = opens + timedelta(days=rng.uniform(0, days * 0.9))
        response = models.Response(
            round_id=round_.id,
            invitation_id=invitation.id,
            status="completed",
            started_at=when,
            updated_at=when + timedelta(minutes=25),
            completed_at=when + timedelta(minutes=25),
            channel=rng.choices(["web", "telegram"], weights=[80, 20])[0],
            cursor=None,
            reached_review=True,
            audience=contact.audience,
            contact_org=contact.organisation,
        )
        answers = []
        for question in selfeval.QUESTIONS:
            weights = list(SELF_EVALUATION_LEANINGS[side])
            if side == "vcs" and question in SELF_EVALUATION_UNKNOWN and question not in improved:
                weights[3] += 0.3
            if question in improved:
                weights[0] += 0.25
                weights[2] = max(weights[2] - 0.2, 0.02)
            level = rng.choices(levels, weights=weights)[0]
            answers.append(models.Answer(question_id=question, value=level, answered_at=when))
            if level != "dont_know" and rng.random() < 0.25:
                answers.append(
                    models.Answer(
                        question_id=question + selfeval.EVIDENCE,
                        value=rng.choice(SELF_EVALUATION_EVIDENCE),
                        answered_at=when,
                    )
                )
            prioritise = (
                "yes" if level in ("improve", "dont_know") and rng.random() < 0.25 else "no"
            )
            answers.append(
                models.Answer(
                    question_id=question + selfeval.PRIORITY, value=prioritise, answered_at=when
                )
            )
        response.answers = answers
        session.add(response)
        count += 1
    session.flush()
    return count


# Leicestershire's Community Hubs and Local Resource Centres (the VAL review's Table Three):
# reference, name, kind and locality. Demo names in the demo's districts, not the real ones.
LEICESTERSHIRE_HUBS = (
    ("SYSLRC", "Syston Local Resource Centre", "centre", "Charnwood"),
    ("LUTLRC", "Lutterworth Local Resource Centre", "centre", "Harborough"),
    ("CDLRC", "Castle Donington Volunteer Centre and LRC", "centre", "North West Leicestershire"),
    ("VAC", "Voluntary Action Charnwood", "hub", "Charnwood"),
    ("VAHB", "Voluntary Action Hinckley and Bosworth", "hub", "Hinckley and Bosworth"),
    ("VAM", "Voluntary Action Melton", "hub", "Melton"),
    ("CANWL", "Community Action North West Leicestershire", "hub", "North West Leicestershire"),
    ("VASL", "Voluntary Action South Leicestershire", "hub", "Harborough"),
)
# In the latest quarter: (hub, variable) -> a share of the target (amber, red), or None for a
# return that says it does not apply; "gone": no row at all. Earlier quarters have a few more.
LATEST_QUARTER = {
    ("VAM", "volunteer_enquiries"): 0.85,
    ("CANWL", "groups_supported"): 0.7,
    ("CDLRC", "groups_supported"): None,
    ("VAHB", "opportunities_developed"): "gone",
    ("VASL", "volunteers_placed"): "gone",
}


def _community_hubs(rng: random.Random, session: Session, now: datetime) -> None:
    """Add VAL's Community Hubs and Local Resource Centres and a year of their quarterly
    returns (the last four quarters), with some cells amber, red and not reported."""
    from analysis.hubs import check
    from collector import hubs

    provider = session.scalars(
        select(models.Provider).where(models.Provider.slug == LEICESTERSHIRE[0])
    ).one()
    hub_check = check()
    latest = hubs.previous_quarter(hubs.quarter_of(localtime.uk(now).date()))
    quarters = [latest]
    for _ in range(3):
        quarters.insert(0, hubs.previous_quarter(quarters[0]))
    for ref, name, kind, locality in LEICESTERSHIRE_HUBS:
        hub = models.Hub(
            provider_id=provider.id, external_ref=ref, name=name, kind=kind, locality=locality
        )
        session.add(hub)
        session.flush()
        for number, quarter in enumerate(quarters):
            for variable in hub_check.variables_for(kind):
                target = variable.targets[kind]
                own = 12 if target is None and ref == "VAC" else None
                aim = target if target is not None else (own or 10)
                # Most hubs meet their targets, a little better each quarter.
                share: float | str | None = rng.uniform(0.95, 1.3) + 0.03 * number
                if quarter == latest:
                    share = LATEST_QUARTER.get((ref, variable.id), share)
                elif rng.random() < 0.1:
                    share = "gone"
                if share == "gone":
                    continue
                note = "not applicable this quarter" if share is None else None
                value = None if not isinstance(share, float) else round(aim * share)
                session.add(
                    models.HubReturn(
                        hub_id=hub.id,
                        quarter=quarter,
                        variable=variable.id,
                        value=value,
                        target=own,
                        note=note,
                    )
                )
    session.flush()


def _kent(
    rng: random.Random,
    session: Session,
    now: datetime,
    summary: DemoSummary,
    logins: list[DemoLogin],
    published: list[models.ReportSnapshot],
    open_tokens: list[str],
    publish: reports.PublishHook | None,
    progress: Callable[[str], None],
) -> None:
    """Add Kent's alliance: three providers asking the kent-support survey, their last rounds
    published (each with the alliance's report), and one round open to answer."""
    survey_row = register(session, library_survey("kent-support"))
    providers = [
        models.Provider(slug=slug, name=name, kind="cvs", district=district)
        for slug, name, district, _, _ in KENT_PROVIDERS
    ]
    session.add_all(providers)
    session.flush()
    last: list[tuple[models.Round, models.User]] = []
    for provider, (slug, name, _, localities, leaning) in zip(
        providers, KENT_PROVIDERS, strict=True
    ):
        organisations = _organisations(rng, provider, localities, count=rng.randint(44, 52))
        for organisation in organisations:
            # Kent's sector: mostly small, but enough larger ones to set the focus beside.
            if rng.random() < 0.2:
                organisation.income_band = "over_500k"
        session.add_all(organisations)
        session.flush()
        staff_login = _login(
            session, "staff", f"staff@{slug}.example.org", f"{name} staff", provider=provider
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
            _mark_sent(session, round_, opens + timedelta(minutes=5))
            done = _answer_kent(rng, session, round_, leaning + improvement, opens, days)
            rounds.close_round(session, round_, now=opens + timedelta(days=days), reports=False)
            summary.rounds += 1
            summary.completed += done
            progress(f"{name}: {label} closed with {done} responses")
        last.append((round_, staff))
    email, funder_name = KENT_FUNDER
    logins.append(_login(session, "funder", email, funder_name, funded=providers))
    if publish is not None:
        # Every provider's round has closed: the last one's alliance report is the whole.
        for round_, staff in last:
            published.extend(_publish(session, publish, round_, staff, progress))
    # Each provider's next round is open: West's first invitation is among the demo's links.
    opens = now - timedelta(days=5)
    for provider in providers:
        round_ = rounds.create_round(
            session,
            provider=provider,
            survey=survey_row,
            period_label="2026/27 H1",
            opens_at=opens,
            closes_at=now + timedelta(days=37),
        )
        rounds.open_round(session, round_, now=opens)
        summary.rounds += 1
        summary.invitations_open += len(round_.invitations)
        if provider is providers[0]:
            open_tokens.append(round_.invitations[0].token)
        progress(f"{provider.name}: 2026/27 H1 open")


def _answer_kent(
    rng: random.Random,
    session: Session,
    round_: models.Round,
    leaning: float,
    opens: datetime,
    days: int,
) -> int:
    """Answer a kent-support round as simulated organisations; give how many completed."""
    completed = 0
    for invitation in round_.invitations:
        if rng.random() >= RESPONSE_RATE:
            continue
        organisation = invitation.organisation
        assert organisation is not None
        p = leaning + BAND_SHIFT[organisation.income_band or ""]
        when = opens + timedelta(days=rng.uniform(0, days * 0.9), minutes=rng.randint(0, 600))
        channel = rng.choices(["web", "telegram"], weights=[85, 15])[0]
        response = flow.start(session, invitation, channel=channel, now=when)
        for _ in range(200):
            view = flow.view(session, response)
            if not isinstance(view, flow.QuestionView):
                break
            if view.question_id == "statutory_influence":
                answer: str | list[str] | None = rng.choices(
                    list(KENT_INFLUENCE), weights=list(KENT_INFLUENCE.values())
                )[0]
            else:
                answer = _pick(rng, view, min(max(p, 0.05), 0.97))
            flow.answer(session, response, view.question_id, answer, now=when)
        view = flow.complete(session, response, now=when + timedelta(minutes=3))
        if not isinstance(view, flow.DoneView):
            raise RuntimeError(f"demo respondent could not submit: {view}")
        completed += 1
    return completed


@dataclass
class _Centre:
    """A provider's volunteer centre, as the demo builds it period by period."""

    provider: models.Provider
    hosts: list[models.Organisation]  # the groups that take its volunteers
    localities: tuple[str, ...]
    names: set[str] = field(default_factory=set)


def _volunteering(
    rng: random.Random,
    session: Session,
    centre: _Centre,
    window: tuple[str, int, int | None],
    now: datetime,
    summary: DemoSummary,
) -> None:
    """Add a volunteer centre's enquiries, volunteers and placements for one period, and their
    follow-ups: sent on each placement's follow-up day, many answered."""
    provider, hosts, localities, names = (
        centre.provider,
        centre.hosts,
        centre.localities,
        centre.names,
    )
    per_period, placed_share, leaning = VOLUNTEERING[provider.slug]
    volunteer_survey = followups.survey_row(session, followups.VOLUNTEER_SURVEY)
    host_survey = followups.survey_row(session, followups.HOST_SURVEY)
    for label, opened_days_ago, closed_days_ago in (window,):
        opens = now - timedelta(days=opened_days_ago)
        closes = (
            now - timedelta(days=closed_days_ago)
            if closed_days_ago is not None
            else now + timedelta(days=32)
        )
        pair = []
        for survey in (volunteer_survey, host_survey):
            round_ = rounds.create_round(
                session,
                provider=provider,
                survey=survey,
                period_label=label,
                opens_at=opens,
                closes_at=closes,
                channels=followups.CHANNELS,
            )
            round_.kind, round_.status, round_.opened_at = "rolling", "open", opens
            survey.frozen_at = survey.frozen_at or opens
            pair.append(round_)
        into = (pair[0], pair[1])
        # Records dated up to now: the open period's run up to today.
        last = min(closes, now)
        span = (last - opens).total_seconds()
        for _ in range(per_period):
            enquired = opens + timedelta(seconds=rng.uniform(0, span))
            volunteer = None
            outcome = rng.choices(
                ["placed", "referred", "not_placed", "pending"], weights=[0, 20, 25, 10]
            )[0]
            if rng.random() < placed_share:
                outcome = "placed"
                volunteer = _volunteer(rng, session, provider, localities, names, enquired)
                summary.volunteers += 1
            session.add(
                models.Enquiry(
                    provider=provider,
                    external_ref=f"E{provider.id}{summary.enquiries + 1:05d}",
                    enquired_on=localtime.uk(enquired).date(),
                    source=rng.choice(ENQUIRY_SOURCES),
                    district=volunteer.district if volunteer else rng.choice(localities),
                    outcome=outcome,
                    volunteer=volunteer,
                )
            )
            summary.enquiries += 1
            if volunteer is None:
                continue
            starts = enquired + timedelta(days=rng.uniform(3, 20))
            if starts >= last:
                starts = last - timedelta(days=1)
            _placement(rng, session, provider, volunteer, hosts, starts, now, into, summary)
            summary.placements += 1
        session.flush()
        for round_ in pair:
            summary.followups_answered += _answer_followups(rng, session, round_, leaning, now)
            _mark_sent(session, round_, None)
            if closed_days_ago is not None:
                rounds.close_round(session, round_, now=closes, reports=False)
        session.flush()


def _volunteer(
    rng: random.Random,
    session: Session,
    provider: models.Provider,
    localities: tuple[str, ...],
    names: set[str],
    when: datetime,
) -> models.Volunteer:
    """Add a (made-up) volunteer who consented to be asked by email."""
    while True:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in names or len(names) > 350:
            break
    names.add(name)
    number = len(names)
    volunteer = models.Volunteer(
        provider=provider,
        external_ref=f"V{provider.id}{number:04d}-{rng.randrange(10**6):06d}",
        name=name,
        contact_email=f"{name.lower().replace(' ', '.')}.{number}@example.org",
        district=rng.choice(localities),
        consent=True,
        consent_at=when,
        consent_email=True,
        created_at=when,
    )
    session.add(volunteer)
    return volunteer


def _placement(
    rng: random.Random,
    session: Session,
    provider: models.Provider,
    volunteer: models.Volunteer,
    hosts: list[models.Organisation],
    starts: datetime,
    now: datetime,
    into: tuple[models.Round, models.Round],
    summary: DemoSummary,
) -> None:
    """Add a placement, and follow it up on its follow-up day if that has come (and fell in the
    period of `into`)."""
    starts_on = localtime.uk(starts).date()
    did_not_start = rng.random() < 0.05
    due = localtime.day_starts(starts_on + timedelta(days=provider.followup_days))
    ended = not did_not_start and due < now - timedelta(days=60) and rng.random() < 0.6
    placement = models.Placement(
        provider=provider,
        external_ref=f"P{provider.id}{summary.placements + 1:05d}",
        volunteer=volunteer,
        organisation=rng.choice(hosts),
        role=rng.choice(ROLES),
        starts_on=starts_on,
        status="did_not_start" if did_not_start else ("ended" if ended else "active"),
        ended_on=(
            min(starts_on + timedelta(days=rng.randint(40, 120)), localtime.uk(now).date())
            if ended
            else None
        ),
        created_at=starts,
    )
    session.add(placement)
    session.flush()
    if did_not_start:
        return
    if due > now:
        summary.followups_coming += 1
        return  # the dispatcher follows it up on the day
    if due >= into[0].closes_at or due < into[0].opens_at:
        return  # its day fell after its period's rounds closed: never followed up
    followups.follow_up(
        session, placement, now=due + timedelta(hours=rng.randint(7, 10)), into=into
    )


def _answer_followups(
    rng: random.Random, session: Session, round_: models.Round, leaning: float, now: datetime
) -> int:
    """Answer a rolling round's follow-ups as volunteers or hosts would; give how many."""
    done = 0
    for invitation in round_.invitations:
        sent = invitation.created_at
        when = sent + timedelta(days=rng.uniform(0.2, 12), minutes=rng.randint(0, 600))
        # Hosts answer more often than volunteers: it is about their own group.
        rate = 0.8 if invitation.organisation is not None else 0.68
        if when >= min(round_.closes_at, now) or rng.random() > rate:
            continue
        p = leaning + (0.05 if invitation.organisation is not None else 0.0)
        channel = rng.choices(["web", "telegram"], weights=[85, 15])[0]
        response = flow.start(session, invitation, channel=channel, now=when)
        _answer(
            rng,
            session,
            response,
            min(p, 0.97),
            when,
            stop_early=False,
            comments=VOLUNTEER_COMMENTS,
        )
        view = flow.complete(session, response, now=when + timedelta(minutes=2))
        if not isinstance(view, flow.DoneView):
            raise RuntimeError(f"demo follow-up could not be submitted: {view}")
        done += 1
    return done


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


def _mark_sent(session: Session, round_: models.Round, when: datetime | None) -> None:
    """Record a past round's invitations as delivered when it opened (as a dispatcher would);
    with no `when`, each as soon as it was due (a rolling round's follow-ups)."""
    message = models.OutboxMessage
    session.execute(
        update(message)
        .where(message.round_id == round_.id, message.status == "pending")
        .values(
            status="sent", attempts=1, sent_at=message.next_attempt_at if when is None else when
        )
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
        p = leaning
        if organisation is not None:
            p += TYPE_SHIFT[organisation.org_type] + BAND_SHIFT[organisation.income_band or ""]
        when = opens + timedelta(days=rng.uniform(0, days * 0.9), minutes=rng.randint(0, 600))
        channel = rng.choices(["web", "telegram"], weights=[85, 15])[0]
        response = flow.start(session, invitation, channel=channel, now=when)
        finish = draw < rate
        _answer(rng, session, response, min(max(p, 0.05), 0.97), when, stop_early=not finish)
        if finish:
            view = flow.complete(
                session,
                response,
                now=when + timedelta(minutes=3),
                channel=_finished_in(invitation, channel),
            )
            if not isinstance(view, flow.DoneView):
                raise RuntimeError(f"demo respondent could not submit: {view}")
            completed += 1
        else:
            started += 1
    return completed, started


def _finished_in(invitation: models.Invitation, started_in: str) -> str:
    """Give the channel a demo group sends its answers from: one in seven switches (by its
    invitation, so the demo's random draws, and so its numbers, stay as they were)."""
    if invitation.id % SWITCH_EVERY:
        return started_in
    return "web" if started_in == "telegram" else "telegram"


def _answer(
    rng: random.Random,
    session: Session,
    response: models.Response,
    p: float,
    when: datetime,
    *,
    stop_early: bool,
    comments: tuple[str, ...] = COMMENTS,
) -> None:
    """Walk the survey like a person leaning positive with probability `p`."""
    stop_after = rng.randint(1, 4) if stop_early else 10_000
    for step in range(200):
        view = flow.view(session, response)
        if not isinstance(view, flow.QuestionView) or step >= stop_after:
            return
        answer = _pick(rng, view, p, comments)
        flow.answer(session, response, view.question_id, answer, now=when)
    raise RuntimeError("demo respondent went round in circles")


def _pick(
    rng: random.Random, view: flow.QuestionView, p: float, comments: tuple[str, ...] = COMMENTS
) -> str | list[str] | None:
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
        exclusive = [c.value for c in view.choices if c.exclusive]
        options = [v for v in values if v not in exclusive]
        picked = [v for v in options if rng.random() < p * 0.5]
        if picked or view.required:
            return picked or ([exclusive[0]] if exclusive else [rng.choice(options)])
        return exclusive[:1] if exclusive else None
    if kind in (QuestionType.INTEGER, QuestionType.DECIMAL):
        return None if not view.required and rng.random() < 0.5 else str(rng.randint(1, 20))
    if kind == QuestionType.TEXT:
        return rng.choice(comments) if rng.random() < 0.3 else None
    raise RuntimeError(f"demo respondent cannot answer a {kind} question")


# What staff record besides surveys (issue 17): a half-year of activities, evidence, milestones.

# Per Essex provider: events, health checks, groups given guidance, funding applications and
# how many of them succeeded (a share), so the providers differ against their targets.
ACTIVITY_PLAN = {
    "brentwood-cvs": (13, 12, 24, 12, 0.7),
    "harlow-cvs": (8, 9, 17, 11, 0.5),
    "uttlesford-cvs": (11, 6, 21, 7, 0.6),
}
# Evidence KPIs of each framework the demo records for, with the provider's assessment; a KPI
# missing from a provider's list has nothing recorded (not reported).
EVIDENCE_KPIS = {
    "essex-2017": ("c", "d", "f", "j", "k", "m", "n", "o", "iii", "v", "vii", "viii", "xii"),
    "leicestershire-val": ("VAL 4", "VAL 8", "VAL 13", "VAL 16", "VAL 18", "VAL 21"),
}
UNREPORTED = {"harlow-cvs": ("m", "viii", "VAL 21"), "uttlesford-cvs": ("xii", "VAL 18")}
CASE_STUDIES = (
    (
        "Warm spaces in the winter",
        "Three church halls and a community centre opened as warm spaces from December, with "
        "flu vaccination sessions run by the surgery. 140 visits a week at the peak.",
    ),
    (
        "A walking group becomes a charity",
        "A walking group for people with diabetes, started at our spring network meeting, "
        "registered as a charity with our help and now runs four walks a week.",
    ),
    (
        "Food bank and the Lifestyles Service",
        "The food bank now refers visitors to the Essex Lifestyles Service: 37 referrals in "
        "the half-year, after a joint session we arranged.",
    ),
    (
        "Commissioners' visit",
        "The CCG's commissioners visited two groups supporting discharge from hospital; the "
        "step-down pilot is now funded for another year.",
    ),
)


def _half_year(period_label: str, now: datetime) -> tuple[date, date]:
    """Give the days of a financial half year ('2025/26 H2') inside the demo's records."""
    first_year = int(period_label[:4])
    if period_label.endswith("H2"):
        start, end = date(first_year, 10, 1), date(first_year + 1, 3, 31)
    else:
        start, end = date(first_year, 4, 1), date(first_year, 9, 30)
    # The volunteer centres' period is their rolling round's dates: keep inside both.
    opened, closed = ROLLING[1][1], ROLLING[1][2]
    assert closed is not None
    low = max(start, (now - timedelta(days=opened - 1)).date())
    high = min(end, (now - timedelta(days=closed + 1)).date())
    return (low, high) if low <= high else (start, end)


def _activities(
    rng: random.Random,
    session: Session,
    provider: models.Provider,
    organisations: list[models.Organisation],
    round_: models.Round,
    staff: models.User,
    now: datetime,
) -> int:
    """Record a provider's half-year of activities, evidence and milestones, and the report's
    strategic overview and variance explanations, before its report is published."""
    start, end = _half_year(round_.period_label, now)
    days = (end - start).days

    def day() -> date:
        return start + timedelta(days=rng.randint(0, days))

    events, checks, guided, applications, success = ACTIVITY_PLAN[provider.slug]
    rows: list[dict[str, object]] = []

    def add(kind: str, org: models.Organisation | None, **more: object) -> None:
        rows.append(
            {
                "provider_id": provider.id,
                "external_ref": f"ACT{len(rows) + 1:05d}",
                "kind": kind,
                "occurred_on": day(),
                "organisation_id": None if org is None else org.id,
                "description": more.pop("description", ""),
                "beneficiaries": rng.choice((None, rng.randint(10, 400))),
                **more,
            }
        )

    for n in range(events):
        add("event", None, description=f"Network meeting {n + 1}")
    for org in rng.sample(organisations, k=checks):
        add("health_check", org, description="Health check with an action plan agreed")
    for org in rng.sample(organisations, k=guided):
        for _ in range(rng.choice((1, 1, 2))):
            add("guidance", org, description=rng.choice(("Governance", "Finance", "Safeguarding")))
    for org in rng.choices(organisations, k=applications):
        applied = rng.randint(5, 200) * 10_000  # £500 to £20,000, in pence
        obtained = applied if rng.random() < success else 0
        add(
            "funding_application",
            org,
            description="Grant application",
            amount_applied_pence=applied,
            amount_obtained_pence=obtained,
        )
    for org in rng.sample(organisations, k=4):
        add("training", org, description="Trustee training")
        if rng.random() < 0.5:
            add("compact_signup", org)
    if provider.slug in VOLUNTEERING:
        for _ in range(rng.randint(70, 90)):
            add("volunteer_opportunity", rng.choice(organisations), description="New role")
    for row in rows:
        row.setdefault("amount_applied_pence", None)
        row.setdefault("amount_obtained_pence", None)
    session.execute(insert(models.ActivityRecord), rows)
    label = round_.period_label
    skipped = UNREPORTED.get(provider.slug, ())
    statuses = ("met", "met", "met", "partly_met", "not_met")
    for framework, kpi_ids in EVIDENCE_KPIS.items():
        for n, kpi_id in enumerate(k for k in kpi_ids if k not in skipped):
            title, text = CASE_STUDIES[(n + len(provider.slug)) % len(CASE_STUDIES)]
            activities.add_evidence(
                session,
                provider,
                period=label,
                title=title,
                text=text,
                indicators=[(framework, kpi_id)],
                is_case_study=True,
                user=staff,
            )
            if kpi_id in ("c", "vii") and provider.slug == "brentwood-cvs":
                activities.add_evidence(
                    session,
                    provider,
                    period=label,
                    title="Good practice from the youth network",
                    text="Peer mentoring between youth groups, now copied in Ingatestone.",
                    indicators=[(framework, kpi_id)],
                    is_case_study=True,
                    user=staff,
                )
            status = statuses[(n + len(provider.slug)) % len(statuses)]
            activities.set_assessment(
                session,
                provider,
                framework=framework,
                kpi_id=kpi_id,
                period=label,
                status=status,
                reason={
                    "met": "The evidence attached shows the target met for the half-year.",
                    "partly_met": "Some of the evidence the target asks for; the rest is due "
                    "in the next half-year.",
                    "not_met": "Staff shortage over the winter: this work was paused.",
                }[status],
                user=staff,
            )
    # Milestones: Essex I.i, iv and vi; VAL 1, 3 and 29, with dates around the period's end.
    late = provider.slug == "harlow-cvs"
    for framework, kpi_id, title, progress_due, due, progress_on, achieved in (
        (
            "essex-2017",
            "I.i",
            "Quality mark (PQASSO) achieved",
            end - timedelta(days=30),
            end + timedelta(days=365),
            None if late else end - timedelta(days=60),
            None,
        ),
        (
            "essex-2017",
            "iv",
            "Governance review with peer support",
            None,
            end - timedelta(days=60),
            None,
            None if late else end - timedelta(days=70),
        ),
        (
            "essex-2017",
            "vi",
            "Three-year business plan adopted",
            start,
            end - timedelta(days=10),
            start,
            end - timedelta(days=5 if late else 20),
        ),
        (
            "leicestershire-val",
            "VAL 1",
            "Single communication plan implemented",
            None,
            end - timedelta(days=30),
            None,
            end - timedelta(days=40),
        ),
        (
            "leicestershire-val",
            "VAL 3",
            "Integrated database established",
            None,
            end + timedelta(days=90),
            None,
            None,
        ),
        (
            "leicestershire-val",
            "VAL 29",
            "Volunteering strategy developed",
            None,
            end - timedelta(days=15),
            None,
            None if late else end - timedelta(days=25),
        ),
    ):
        activities.set_milestone(
            session,
            provider,
            framework=framework,
            kpi_id=kpi_id,
            title=title,
            due_on=due,
            progress_due=progress_due,
            progress_on=progress_on,
            achieved_on=achieved,
        )
    reports.set_narrative(
        session,
        round_,
        "essex-2017",
        "overview",
        f"{provider.name} reports on the whole scope for {label}: the surveys of its groups, "
        "the activities it recorded, the evidence and case studies attached to each "
        "indicator, and its milestones.\n\nWinter pressures shaped the half-year: warm "
        "spaces, flu vaccination sessions and discharge support took staff time from "
        "health checks, which are behind their target.",
        staff,
    )
    reports.set_narrative(
        session,
        round_,
        "essex-2017",
        "l",
        "Our list counts only paid-up members; about 40 more groups are affiliated through "
        "the district forums. A membership drive starts in April.",
        staff,
    )
    return len(rows)
