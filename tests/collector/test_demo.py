"""The demo data set is realistic: varied segments, varied results, skip logic obeyed."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import models, users
from collector.cli import demo
from collector.models import utcnow
from collector.segments import INCOME_BANDS, ORGANISATION_TYPES
from collector.volunteering import followups


@pytest.mark.demo_data("plain")
def test_demo_data_varies_by_segment_and_obeys_skip_logic(
    session: Session, demo_summary: demo.DemoSummary
) -> None:
    summary = demo_summary
    # The Essex providers' cvs-support rounds (Kent's alliance asks kent-support: test_kent).
    essex = [
        p.id
        for p in session.scalars(select(models.Provider))
        if p.slug in {slug for slug, *_ in demo.PROVIDERS}
    ]
    organisations = session.scalars(
        select(models.Organisation).where(models.Organisation.provider_id.in_(essex))
    ).all()
    assert 140 <= len(organisations) <= 165
    assert {o.org_type for o in organisations} == set(ORGANISATION_TYPES)
    assert {o.income_band for o in organisations} == set(INCOME_BANDS)
    surveys = select(models.Round).where(
        models.Round.kind == "survey", models.Round.provider_id.in_(essex)
    )
    statuses = Counter((r.provider_id, r.status) for r in session.scalars(surveys))
    # Per provider: one open round; two closed of cvs-support, and two periods of the three
    # partnership surveys (sector-voice, funder-satisfaction, representative-views).
    assert sorted(statuses.values()) == [1, 1, 1, 8, 8, 8]
    contacts = Counter(
        c.audience
        for c in session.scalars(
            select(models.Contact).where(models.Contact.provider_id.in_(essex))
        )
    )
    assert contacts == {"partner": 36, "commissioner": 24, "representative": 48}
    asked = session.scalars(
        select(models.Invitation).where(models.Invitation.contact_id.is_not(None))
    )
    # Leicestershire's contacts also answer its two-way self-evaluations (issue 16).
    assert {i.round.survey.slug for i in asked if i.round.provider_id in essex} == {
        "funder-satisfaction",
        "representative-views",
    }

    rows = session.execute(
        select(models.Response, models.Round)
        .join(models.Round)
        .where(models.Response.status == "completed", models.Round.kind == "survey")
    ).all()
    assert len(rows) == summary.completed
    rows = [(response, round_) for response, round_ in rows if round_.provider_id in essex]
    positive: dict[tuple[int, str], list[bool]] = defaultdict(list)
    for response, round_ in rows:
        answers = {a.question_id: a.value for a in response.answers}
        if round_.survey.slug != "cvs-support":
            continue  # the partnership surveys (VAL 7-12): tests/analysis/test_demo_kpis.py
        if answers["used_support"] == "no":
            assert "ease_of_access" not in answers and "satisfaction" not in answers
            continue
        both = answers["ease_of_access"] in ("very_easy", "easy") and answers["satisfaction"] in (
            "very_satisfied",
            "satisfied",
        )
        positive[(round_.provider_id, round_.period_label)].append(both)
    shares = {key: sum(v) / len(v) for key, v in positive.items()}
    by_provider = defaultdict(list)
    for (provider_id, _), share in shares.items():
        by_provider[provider_id].append(share)
    means = sorted(sum(v) / len(v) for v in by_provider.values())
    # Some providers near the 75% target, some well below: a KPI report with colour in it.
    assert means[-1] - means[0] > 0.15, shares
    assert any(r.status == "in_progress" for r in session.scalars(select(models.Response)))


@pytest.mark.demo_data("plain")
def test_demo_accounts_and_outbox(session: Session, demo_summary: demo.DemoSummary) -> None:
    summary = demo_summary
    providers = {p.slug: p.id for p in session.scalars(select(models.Provider))}

    logins = {login.email: login for login in summary.logins}
    # Essex's three providers and their funder, Kent's alliance and its funder, then
    # Leicestershire's provider and its funder.
    assert [login.role for login in summary.logins] == [
        "admin",
        "staff",
        "staff",
        "staff",
        "funder",
        "staff",
        "staff",
        "staff",
        "funder",
        "staff",
        "funder",
    ]
    assert len({login.password for login in summary.logins}) == 11
    for login in summary.logins:
        assert len(login.password) >= users.MIN_PASSWORD_LENGTH
        user = users.authenticate(session, login.email, login.password)
        assert user is not None and user.role == login.role
        assert users.authenticate(session, login.email, login.password + "x") is None
        assert login.password not in user.password_hash
    for slug, provider_id in providers.items():
        staff = users.user_by_email(session, f"staff@{slug}.example.org")
        assert staff.provider_id == provider_id and logins[staff.email].sees == slug
    funder = users.user_by_email(session, "funder@example.org")
    assert sorted(p.slug for p in funder.funded) == ["brentwood-cvs", "harlow-cvs"]
    assert logins["funder@example.org"].sees == "funds brentwood-cvs, harlow-cvs"

    # Past rounds' invitations went out when they opened; the open rounds' wait for the
    # dispatcher, one per invited group that agreed to email.
    rows = session.execute(
        select(models.Round.status, models.OutboxMessage.status, func.count())
        .join(models.Round, models.Round.id == models.OutboxMessage.round_id)
        .where(models.Round.kind == "survey")
        .group_by(models.Round.status, models.OutboxMessage.status)
    ).all()
    counts = {(round_status, status): n for round_status, status, n in rows}
    emailable = session.scalar(
        select(func.count(models.Invitation.id))
        .join(models.Round)
        .join(models.Organisation)
        .where(models.Round.status == "open", models.Organisation.consent_email.is_(True))
        .where(models.Round.kind == "survey")
    )
    assert set(counts) == {("closed", "sent"), ("open", "pending")}
    assert counts[("open", "pending")] == emailable == summary.emails_queued
    sent = session.scalars(
        select(models.OutboxMessage).where(models.OutboxMessage.status == "sent")
    ).all()
    assert all(m.sent_at is not None and m.template == "invite" for m in sent)
    # Follow-ups went out on their placement's follow-up day: none wait.
    followup_messages = session.scalars(
        select(models.OutboxMessage)
        .join(models.Round, models.Round.id == models.OutboxMessage.round_id)
        .where(models.Round.kind == "rolling")
    ).all()
    assert followup_messages and {m.status for m in followup_messages} == {"sent"}
    assert all(m.sent_at == m.next_attempt_at for m in followup_messages)

    [reminder] = session.scalars(select(models.RoundReminder)).all()
    assert reminder.round.status == "open" and reminder.queued_at is None
    assert reminder.due_at > utcnow()
    actions = Counter(e.action for e in session.scalars(select(models.AuditEvent)))
    assert actions == {"round.open": 27, "round.close": 24}


@pytest.mark.demo_data("published")
def test_demo_volunteering_has_followups_and_a_published_val_report(
    session: Session, demo_summary: demo.DemoSummary
) -> None:
    from analysis.model import KpiReport

    summary = demo_summary
    providers = {p.slug: p for p in session.scalars(select(models.Provider))}
    by_slug = {
        slug: [
            session.scalar(select(func.count(table.id)).where(table.provider_id == provider.id))
            for table in (models.Volunteer, models.Enquiry, models.Placement)
        ]
        for slug, provider in providers.items()
    }
    volunteers, enquiries, placements = (
        sum(column) for column in zip(*by_slug.values(), strict=True)
    )
    assert (summary.volunteers, summary.enquiries, summary.placements) == (
        volunteers,
        enquiries,
        placements,
    )
    assert by_slug["uttlesford-cvs"] == [0, 0, 0]  # no volunteer centre: "no data"
    assert all(min(by_slug[s]) > 50 for s in ("brentwood-cvs", "harlow-cvs"))

    # Rolling rounds: two surveys for each of three periods, the past two closed.
    rolling = session.scalars(select(models.Round).where(models.Round.kind == "rolling")).all()
    assert Counter((r.provider.slug, r.period_label, r.status) for r in rolling) == {
        (slug, label, status): 2
        for slug in ("brentwood-cvs", "harlow-cvs")
        for label, status in (
            ("2025/26 H1", "closed"),
            ("2025/26 H2", "closed"),
            ("2026/27 H1", "open"),
        )
    }
    # Each followed-up placement has its volunteer's invitation; hosts once per round.
    for round_ in rolling:
        hosts = [i.organisation_id for i in round_.invitations if i.organisation_id is not None]
        assert len(hosts) == len(set(hosts))
    followed = session.scalars(
        select(models.Placement).where(models.Placement.followed_up_at.is_not(None))
    ).all()
    assert followed and all(p.status != "did_not_start" for p in followed)
    assert summary.followups_answered == session.scalar(
        select(func.count(models.Response.id))
        .join(models.Round)
        .where(models.Round.kind == "rolling", models.Response.status == "completed")
    )
    assert summary.followups_answered > 100

    # The published VAL report shows the volunteering KPIs for the funded centres.
    for slug in ("brentwood-cvs", "harlow-cvs", "uttlesford-cvs"):
        snapshot = session.scalars(
            select(models.ReportSnapshot)
            .join(models.Round)
            .where(
                models.Round.provider_id == providers[slug].id,
                models.ReportSnapshot.framework == "leicestershire-val",
            )
        ).one()
        report = KpiReport.from_json(snapshot.data)
        assert report.round.period == "2025/26 H2"
        for kpi in ("VAL 24", "VAL 26", "VAL 27", "VAL 28"):
            cell = report.result(kpi).overall
            if slug == "uttlesford-cvs":
                assert cell.n is None
            else:
                assert cell.n is not None and cell.n >= 10 and cell.proportion is not None
        count = report.result("VAL 25").overall.count
        assert (count is None) if slug == "uttlesford-cvs" else (count and count > 50)

    # Later, the dispatcher follows up the placements reaching their day after the demo.
    assert summary.followups_coming > 0
    later = followups.run(session, now=utcnow() + timedelta(days=15))
    assert later.placements > 0 and later.invitations > 0
