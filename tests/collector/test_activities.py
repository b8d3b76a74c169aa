"""Activity records, evidence and milestones stored, and read back into a report (issue 17).

Every test runs on SQLite and on PostgreSQL (the `session` fixture).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.build import build_reports
from analysis.kpis.targets import Status
from collector import activities, models
from collector.survey.loader import library_survey
from tests.factories import make_organisation, make_provider, make_round

TODAY = date(2026, 6, 1)
HEADER = "external_ref,kind,date,organisation_ref,description,amount_applied,amount_obtained"


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count(models.ActivityRecord.id))) or 0)


def test_a_bad_activity_file_saves_nothing_and_lists_every_problem(session: Session) -> None:
    provider = make_provider(session)
    make_organisation(session, provider, external_ref="GRP1")
    activities.import_activities(
        session, provider, f"{HEADER}\nKEEP,event,2026-01-05,,Forum,,\n", today=TODAY
    )
    text = "\n".join(
        [
            HEADER,
            "A1,event,2026-01-10,,Network lunch,,",
            "A2,funding_application,2026-02-01,NOPE,Lottery bid,1000,-50",  # two problems
            "A3,guidance,2019-05-01,GRP1,Finance,,",  # before any period of the provider
            "A4,event,2026-01-10,,Network lunch,,",  # the same as A1
            "A5,health_check,2026-02-02,GRP1,,£1 200,",  # an amount on a health check
        ]
    )
    with pytest.raises(activities.CsvImportError) as caught:
        activities.import_activities(session, provider, text, today=TODAY)
    problems = [str(p) for p in caught.value.problems]
    assert problems == [
        "line 3, column amount_obtained: -50 is negative: an amount is 0 or more pounds",
        "line 3, column organisation_ref: 'NOPE' is not an organisation on the provider's "
        "list (add it first, or leave the cell empty)",
        "line 4, column date: 2019-05-01 is outside any reporting period of this provider "
        "(the earliest is the period starting 1 Apr 2025): check the year",
        "line 5: the same activity as line 2 (kind, date, organisation, description and "
        "amounts): a duplicate row",
        "line 6, column amount_applied: is only for a funding application: leave it empty",
    ]
    assert str(caught.value) == "Nothing was imported: 5 problems in the file"
    assert _count(session) == 1  # only what was there before


def test_an_activity_file_is_imported_whole_and_updated_by_reference(session: Session) -> None:
    provider = make_provider(session)
    group = make_organisation(session, provider, external_ref="GRP1")
    text = "\n".join(
        [
            HEADER + ",beneficiaries",
            'F1,Funding application supported,01/02/2026,GRP1,Lottery,"£1,234.50",1000,40',
            "E1,event,2026-02-03,,Forum,,,120",
        ]
    )
    plan = activities.import_activities(session, provider, text, today=TODAY)
    assert (len(plan.new), len(plan.updated)) == (2, 0)
    funding = session.scalars(
        select(models.ActivityRecord).where(models.ActivityRecord.external_ref == "F1")
    ).one()
    assert (funding.kind, funding.occurred_on, funding.organisation_id) == (
        "funding_application",
        date(2026, 2, 1),
        group.id,
    )
    assert (funding.amount_applied_pence, funding.amount_obtained_pence) == (123_450, 100_000)
    again = activities.import_activities(
        session, provider, text.replace(",1000,40", ",1500,40"), today=TODAY
    )
    assert (len(again.new), len(again.updated)) == (0, 2)
    session.refresh(funding)
    assert funding.amount_obtained_pence == 150_000 and _count(session) == 2


def test_one_activity_is_checked_as_a_row_is(session: Session) -> None:
    provider = make_provider(session)
    with pytest.raises(activities.ActivityError) as caught:
        activities.add_activity(
            session,
            provider,
            {"kind": "funding_application", "date": "2026-13-01", "amount_obtained": "-5"},
            today=TODAY,
        )
    assert {p.column for p in caught.value.problems} == {"date", "amount_obtained"}
    record = activities.add_activity(
        session, provider, {"kind": "event", "date": "2026-05-01"}, today=TODAY
    )
    assert record.id and _count(session) == 1


def test_the_report_reads_activities_evidence_and_milestones(session: Session) -> None:
    """A provider's 2025/26 H2 report (1 Oct 2025 to 31 Mar 2026, 182 days) from the database.

    Guidance to three groups (two charities, a faith group), one of them twice; 10 events
    (green: 20 a year is 10 for the half year); a funding application that obtained £2,500; a
    case study for c with staff's "met"; milestone vi achieved late. Health checks: none.
    """
    provider = make_provider(session, slug="brentwood-cvs", name="Brentwood CVS")
    charities = [
        make_organisation(session, provider, org_type="registered_charity", district="Shenfield")
        for _ in range(2)
    ]
    faith = make_organisation(session, provider, org_type="faith_group", district="Brentwood")
    trained = [make_organisation(session, provider) for _ in range(2)]
    round_ = make_round(
        session,
        provider,
        library_survey("cvs-support"),
        open_now=False,
        period_label="2025/26 H2",
        opens_at=datetime(2026, 4, 1, tzinfo=UTC),
        closes_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    round_.status = "closed"
    rows = [
        {"kind": "guidance", "date": "2025-10-06", "organisation_ref": charities[0].external_ref},
        {"kind": "guidance", "date": "2025-12-06", "organisation_ref": charities[0].external_ref},
        {"kind": "guidance", "date": "2026-01-06", "organisation_ref": charities[1].external_ref},
        {"kind": "guidance", "date": "2026-03-31", "organisation_ref": faith.external_ref},
        {"kind": "guidance", "date": "2026-04-01", "organisation_ref": faith.external_ref},
        *({"kind": "event", "date": f"2025-11-{n + 1:02d}"} for n in range(10)),
        *(
            {"kind": "training", "date": "2025-06-01", "organisation_ref": org.external_ref}
            for org in trained
        ),
        {
            "kind": "funding_application",
            "date": "2026-02-01",
            "organisation_ref": faith.external_ref,
            "amount_applied": "4000",
            "amount_obtained": "2500",
        },
    ]
    for cells in rows:
        activities.add_activity(session, provider, cells, today=TODAY)
    activities.add_evidence(
        session,
        provider,
        period="2025/26 H2",
        title="Warm spaces",
        text="Four halls opened as warm spaces.",
        indicators=[("essex-2017", "c"), ("essex-2017", "o")],
        is_case_study=True,
    )
    activities.set_assessment(
        session,
        provider,
        framework="essex-2017",
        kpi_id="c",
        period="2025/26 H2",
        status="met",
        reason="Two examples in the year",
    )
    activities.set_milestone(
        session,
        provider,
        framework="essex-2017",
        kpi_id="vi",
        title="Business plan adopted",
        due_on=date(2026, 1, 31),
        achieved_on=date(2026, 2, 20),
    )
    session.flush()
    (report,) = build_reports(session.connection(), framework="essex-2017", provider=provider.slug)
    guidance = report.result("g")
    assert guidance.overall.count == 3 and guidance.status is Status.RED  # 3 of 20 groups
    by_type = {c.key: c.count for c in guidance.breakdowns["org_type"]}
    assert by_type == {"registered_charity": 2, "faith_group": 1}
    by_district = {c.key: c.count for c in guidance.breakdowns["district"]}
    assert by_district == {"Shenfield": 2, "Brentwood": 1}
    assert (report.result("a").overall.count, report.result("a").status) == (10, Status.GREEN)
    assert report.result("i").overall.text == "£2,500"
    assert report.result("c").status is Status.GREEN
    assert [e.title for e in report.result("c").evidence] == ["Warm spaces"]
    # o has the case study but no status set: not reported, with the evidence shown.
    assert report.result("o").status is Status.NOT_REPORTED and report.result("o").evidence
    assert report.result("vi").overall.text == "late"
    assert report.result("e").status is Status.NOT_REPORTED
    # x: no survey answers, but the records name 5 groups in the 12 months to the round's
    # close (the two trained in June 2025 too, before the half year).
    x = report.result("x")
    assert x.overall.count == 5 and "0 from the surveys and 5 more" in x.overall.note
    verdicts = {c.kpi_id: c.verdict for c in report.result("ii").components}
    assert (verdicts["a"], verdicts["c"], verdicts["vi"], verdicts["e"]) == (
        "met",
        "met",
        "not met",
        "not reported",
    )
