"""VAL 24-28 from the database: record-based KPIs (enquiries, placements) and rolling rounds.

Leicestershire Volunteer Centre, 2025/26 H1 (1 April to 30 September 2025, 183 days):

- 30 enquiries in the period: 14 linked to volunteers 0-13, of whom 0-11 were placed after
  their enquiry, 12's placement did not start and 13's began before the enquiry; of the 16
  unlinked, 4 have the outcome "placed". Taken up: 12 + 4 = 16 of 30. Districts: Charnwood 16,
  Melton 11, Rutland 3. In 2024/25 H2: 12 enquiries, 3 placed. Two after the period, and
  another provider's 7 in it, do not count.
- The rolling volunteer-placement round of H1 invited volunteers 0-11 (Melton 0-5, Charnwood
  6-11); 0-10 answered: happy 0-7 (8 of 11), easy to access 0-9 (10 of 11). The H2 round
  before: 10 answers, 4 happy.
- The rolling volunteer-host round of H1: 6 host groups answered, 4 confident to recruit and
  manage.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from analysis.build import build_reports
from analysis.drift import published_changes
from analysis.kpis import Status
from analysis.kpis.targets import TargetRule
from analysis.model import KpiReport
from analysis.publish import frozen
from analysis.render import to_csv, to_table
from analysis.render.html import report_html
from analysis.render.message import report_message
from analysis.render.pdf import report_pdf
from analysis.render.xlsx import report_xlsx
from analysis.stats import newcombe, wilson
from collector import models, reports
from collector.cli import main
from collector.localtime import day_ends, day_starts, long_date, uk
from collector.survey.loader import library_survey
from collector.survey.store import register
from tests.analysis.builders import store_response
from tests.analysis.rendered import read_xlsx
from tests.factories import (
    cvs_support,
    make_enquiry,
    make_organisation,
    make_placement,
    make_provider,
    make_round,
    make_volunteer,
)

SCREENSHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
H1_START, H1_END = date(2025, 4, 1), date(2025, 9, 30)
H2_START, H2_END = date(2024, 10, 1), date(2025, 3, 31)
HAPPY = {"placement_happiness": "happy", "ease_of_access": "easy"}


@dataclass
class Centre:
    """The volunteer centre's rows the tests look at."""

    provider: models.Provider
    placement_round: models.Round
    host_round: models.Round
    before_round: models.Round


def rolling_round(
    session: Session,
    provider: models.Provider,
    survey_id: str,
    label: str,
    start: date,
    end: date,
) -> models.Round:
    """Add a closed rolling round covering a period, as the follow-up schedule makes them."""
    round_ = models.Round(
        provider=provider,
        survey=register(session, library_survey(survey_id)),
        period_label=label,
        slug=f"{provider.slug}-{survey_id}-{secrets.token_hex(4)}",
        opens_at=day_starts(start),
        closes_at=day_ends(end),
        status="closed",
        channels=["email", "telegram"],
        kind="rolling",
    )
    session.add(round_)
    session.flush()
    return round_


def follow_up(
    session: Session,
    round_: models.Round,
    placement: models.Placement,
    answers: dict[str, str] | None,
    *,
    host: bool = False,
) -> None:
    """Invite a placement's volunteer (or host) and store their answers, if any."""
    invitation = models.Invitation(
        round=round_,
        placement_id=placement.id,
        volunteer_id=None if host else placement.volunteer_id,
        organisation_id=placement.organisation_id if host else None,
        token=secrets.token_urlsafe(24),
    )
    session.add(invitation)
    session.flush()
    if answers is None:
        return
    when = round_.opens_at + timedelta(days=40)
    response = models.Response(
        round_id=round_.id,
        invitation_id=invitation.id,
        status="completed",
        started_at=when,
        updated_at=when,
        completed_at=when,
        channel="telegram",
        # The flow copies the volunteer's district (a host's segments are its own).
        district=placement.organisation.district if host else placement.volunteer.district,
        org_type=placement.organisation.org_type if host else None,
    )
    session.add(response)
    session.flush()
    for question, value in answers.items():
        session.add(
            models.Answer(
                response_id=response.id, question_id=question, value=value, answered_at=when
            )
        )
    session.flush()


@pytest.fixture
def centre(session: Session) -> Centre:
    """Build the volunteer centre of the module docstring."""
    provider = make_provider(session, slug="leics-vc", name="Leicestershire Volunteer Centre")
    hosts = [make_organisation(session, provider, district="Charnwood") for _ in range(6)]
    placement_round = rolling_round(
        session, provider, "volunteer-placement", "2025/26 H1", H1_START, H1_END
    )
    host_round = rolling_round(session, provider, "volunteer-host", "2025/26 H1", H1_START, H1_END)
    before_round = rolling_round(
        session, provider, "volunteer-placement", "2024/25 H2", H2_START, H2_END
    )
    districts = ["Charnwood"] * 16 + ["Melton"] * 11 + ["Rutland"] * 3
    for i in range(30):
        on = H1_START + timedelta(days=6 * i)
        if i < 14:
            volunteer = make_volunteer(
                session, provider, district="Melton" if i < 6 else "Charnwood"
            )
            make_enquiry(
                session,
                provider,
                enquired_on=on,
                district=districts[i],
                volunteer=volunteer,
                outcome="placed",
            )
            starts = on + timedelta(days=-30 if i == 13 else 10)
            placement = make_placement(
                session,
                provider,
                volunteer,
                hosts[i % 6],
                starts_on=starts,
                status="did_not_start" if i == 12 else "active",
            )
            if i < 12:
                happy = "very_happy" if i < 3 else ("happy" if i < 8 else "unhappy")
                easy = "easy" if i < 10 else "difficult"
                answers = {"placement_happiness": happy, "ease_of_access": easy}
                follow_up(session, placement_round, placement, answers if i < 11 else None)
                if i < 6:
                    confident = "confident" if i < 4 else "not_very_confident"
                    follow_up(
                        session,
                        host_round,
                        placement,
                        {"recruit_confidence": "very_confident", "manage_confidence": confident},
                        host=True,
                    )
        else:
            outcome = "placed" if i < 18 else ("not_placed" if i % 2 else "pending")
            make_enquiry(session, provider, enquired_on=on, district=districts[i], outcome=outcome)
    for i in range(12):
        make_enquiry(
            session,
            provider,
            enquired_on=H2_START + timedelta(days=14 * i),
            district="Melton",
            outcome="placed" if i < 3 else "not_placed",
        )
    for i in range(10):
        placement = make_placement(
            session, provider, organisation=hosts[0], starts_on=H2_START + timedelta(days=7 * i)
        )
        answers = {"placement_happiness": "happy" if i < 4 else "neither", "ease_of_access": "easy"}
        follow_up(session, before_round, placement, answers)
    for days in (5, 20):
        make_enquiry(session, provider, enquired_on=H1_END + timedelta(days=days))
    other = make_provider(session, slug="other-vc", name="Other Volunteer Centre")
    for i in range(7):
        make_enquiry(session, other, enquired_on=H1_START + timedelta(days=i))
    session.commit()
    return Centre(provider, placement_round, host_round, before_round)


def val_report(session: Session, **options: Any) -> KpiReport:
    """Build the leicestershire-val report asked for."""
    (report,) = build_reports(session.connection(), framework="leicestershire-val", **options)
    return report


def test_val_25_counts_the_periods_enquiries_against_the_annual_target_pro_rata(
    session: Session, centre: Centre
) -> None:
    report = val_report(session, provider="leics-vc")
    assert report.round.period == "2025/26 H1"
    val25 = report.result("VAL 25")
    assert val25.period is not None and (val25.period.start, val25.period.end) == (
        H1_START,
        H1_END,
    )
    assert val25.overall.count == 30  # not the 12 before, the 2 after or the other centre's 7
    # 3,327 x 183 / 365 = 1,668.06: at least 1,669 enquiries in the half year.
    assert val25.target.value == Fraction(1669) and val25.target.is_count
    assert str(val25.target) == "≥ 1,669 (3,327 a year, pro rata)"
    assert val25.status is Status.RED
    assert val25.overall.proportion is None and val25.overall.low is None


def test_val_26_is_the_share_of_enquiries_taken_up_with_its_interval(
    session: Session, centre: Centre
) -> None:
    val26 = val_report(session, provider="leics-vc").result("VAL 26")
    cell = val26.overall
    assert (cell.numerator, cell.n) == (16, 30)
    interval = wilson(16, 30)
    assert (cell.low, cell.high) == pytest.approx((interval.low, interval.high))
    assert val26.status is Status.GREEN  # 16 of 30 is more than half
    assert val26.target.rule is TargetRule.MORE_THAN
    # The period before: 2024/25 H2, 3 of 12 placed.
    assert val26.change is not None
    assert val26.change.previous_round.period == "2024/25 H2"
    assert (val26.change.previous.numerator, val26.change.previous.n) == (3, 12)
    expected = newcombe(16, 30, 3, 12)
    assert val26.change.difference == pytest.approx(expected.estimate)
    # By the enquiry's district: Rutland (3) hidden, and Melton with it so that it cannot be
    # worked out from the total.
    by_district = {c.key: c for c in val26.breakdowns["district"]}
    assert by_district["Rutland"].suppressed and by_district["Rutland"].n is None
    assert by_district["Melton"].suppressed
    # Charnwood: enquiries 0-15: 0-11 placed after enquiring, 12 and 13 not, 14 and 15 placed.
    assert (by_district["Charnwood"].numerator, by_district["Charnwood"].n) == (14, 16)


def test_val_24_27_28_are_read_from_the_rolling_follow_up_rounds(
    session: Session, centre: Centre
) -> None:
    report = val_report(session, provider="leics-vc")
    val27 = report.result("VAL 27")
    assert val27.round is not None and val27.round.id == centre.placement_round.id
    assert val27.round.kind == "rolling"
    assert (val27.overall.numerator, val27.overall.n, val27.status) == (8, 11, Status.GREEN)
    assert val27.change is not None and val27.change.previous_round.id == centre.before_round.id
    assert (val27.change.previous.numerator, val27.change.previous.n) == (4, 10)
    val24 = report.result("VAL 24")
    assert (val24.overall.numerator, val24.overall.n) == (10, 11)
    districts = {c.key: (c.numerator, c.n) for c in val24.breakdowns["district"]}
    assert districts == {"Melton": (6, 6), "Charnwood": (4, 5)}
    val28 = report.result("VAL 28")
    assert val28.round is not None and val28.round.id == centre.host_round.id
    assert (val28.overall.numerator, val28.overall.n) == (4, 6)
    assert val28.status is Status.NOT_ENOUGH_DATA  # under the framework's 10
    # Response rates count the volunteers invited, by their district; no organisation types.
    rates = next(r for r in report.response_rates if r.round.id == centre.placement_round.id)
    assert (rates.overall.invited, rates.overall.responded) == (12, 11)
    assert "org_type" not in rates.segments
    assert {c.key: c.invited for c in rates.segments["district"]} == {
        "Melton": 6,
        "Charnwood": 6,
    }


def test_a_centre_without_volunteering_says_no_data_for_val_24_to_28(session: Session) -> None:
    provider = make_provider(session, slug="harlow-cvs", name="Harlow CVS")
    round_ = make_round(
        session,
        provider,
        cvs_support(),
        period_label="2025/26 H1",
        opens_at=day_starts(date(2025, 6, 1)),
        closes_at=day_ends(date(2025, 7, 12)),
    )
    for _ in range(3):
        store_response(
            session, round_, make_organisation(session, provider), {"used_support": "no"}
        )
    session.commit()
    report = val_report(session, provider="harlow-cvs")
    for kpi_id in ("VAL 24", "VAL 25", "VAL 26", "VAL 27", "VAL 28"):
        result = report.result(kpi_id)
        assert result.status is Status.NO_DATA, kpi_id
        assert result.overall.count is None and result.overall.proportion is None
    assert report.result("VAL 25").note == "no volunteer enquiries recorded for Harlow CVS"
    message = report_message(report, "https://example.org/r")
    # Fourteen KPIs do not fit the short message one line each: those with no data share one.
    assert re.search(r"- No data this time: [^\n]*VAL 25, VAL 26", message)
    html = report_html(report, standalone=True)
    assert "no volunteer enquiries recorded for Harlow CVS" in html
    report_xlsx(report)  # renders without a figure to write


def test_the_report_keeps_its_records_kpis_through_json_and_every_renderer(
    session: Session, centre: Centre
) -> None:
    report = val_report(session, provider="leics-vc")
    data = json.loads(json.dumps(report.to_json()))
    again = KpiReport.from_json(data)
    assert again.to_json() == report.to_json()
    val25 = again.result("VAL 25")
    assert str(val25.target) == "≥ 1,669 (3,327 a year, pro rata)"
    assert str(val25.kpi.target) == "≥ 3,327 a year"
    assert val25.period == report.result("VAL 25").period
    message = report_message(again, "https://example.org/r")
    assert (
        # A framework of 30 indicators: the short message names each by its id only.
        "- VAL 25: 30 enquiries, target ≥ 1,669 (3,327 a year, pro rata): Red" in message
    )
    assert re.search(r"VAL 26[^:]*: 53% \(n=30, 95% CI 36–70%\), target > 50% .*: Green", message)
    html = report_html(again, standalone=True)
    assert "<dt>Enquiries</dt>\n<dd>30</dd>" in html
    assert "<dt>Enquiries (n)</dt>\n<dd>30</dd>" in html and "<dt>Taken up</dt>" in html
    assert "2025/26 H1 (1 Apr 2025 to 30 Sep 2025)" in html
    assert "30%" not in html.split('id="kpi-val-25"')[1].split("</section>")[0]
    table = to_table([again])
    line = next(row for row in table.splitlines() if row.startswith("VAL 25"))
    assert " 30 " in line and "%" not in line.split("≥")[0]
    rows = list(csv.DictReader(io.StringIO(to_csv([again]))))
    overall = next(r for r in rows if r["kpi"] == "VAL 25" and r["measure"] == "overall")
    assert (overall["count"], overall["proportion"], overall["n"]) == ("30", "", "")
    assert overall["target"] == "≥ 1,669 (3,327 a year, pro rata)"
    assert len(report_xlsx(again)) > 0


@pytest.mark.slow
def test_the_val_report_pdf_pages_for_looking_at(
    session: Session, centre: Centre, tmp_path: Path
) -> None:
    """Render the centre's report as PDF pages in artifacts/screenshots (on both databases:
    the pictures are the same, the second run's replace the first's)."""
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm is not None, "pdftoppm is missing: `make system-deps` installs poppler-utils"
    report = val_report(session, provider="leics-vc")
    pdf = tmp_path / "val-records.pdf"
    pdf.write_bytes(report_pdf(report))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("report-pdf-val-records-*.png"):
        old.unlink()
    subprocess.run(
        [pdftoppm, "-r", "70", "-png", str(pdf), str(SCREENSHOTS / "report-pdf-val-records")],
        check=True,
        timeout=120,
    )
    pages = sorted(SCREENSHOTS.glob("report-pdf-val-records-*.png"))
    assert len(pages) >= 5
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "Volunteer enquiries" in text and "1,669" in text


def test_providers_side_by_side_show_enquiries_as_counts_against_the_periods_target(
    session: Session, centre: Centre
) -> None:
    other = session.query(models.Provider).filter_by(slug="other-vc").one()
    rolling_round(session, other, "volunteer-placement", "2025/26 H1", H1_START, H1_END)
    session.commit()
    reports = build_reports(session.connection(), framework="leicestershire-val")
    assert [r.provider for r in reports] == ["leics-vc", "other-vc"]
    assert reports[1].result("VAL 25").overall.count == 7
    table = to_table(reports)
    line = next(row for row in table.splitlines() if row.startswith("VAL 25"))
    assert "≥ 1,669 (3,327 a year, pro rata)" in line
    assert "30 RED" in line and "7 RED" in line and "%" not in line


def test_a_report_on_a_survey_round_closing_mid_period_counts_enquiries_so_far(
    session: Session, centre: Centre
) -> None:
    survey_round = make_round(
        session,
        centre.provider,
        cvs_support(),
        period_label="2025/26 H1",
        opens_at=day_starts(date(2025, 6, 1)),
        closes_at=day_ends(date(2025, 7, 12)),
    )
    session.commit()
    report = val_report(session, round_id=survey_round.id)
    val25 = report.result("VAL 25")
    assert val25.period is not None and val25.period.end == date(2025, 7, 12)
    # Enquiries every 6 days from 1 April: 18 up to 12 July (day 102); 103 days of the year's
    # 3,327 is 938.9, so at least 939.
    assert val25.overall.count == 18
    assert str(val25.target) == "≥ 939 (3,327 a year, pro rata)"
    assert "not the whole of 2025/26 H1 (1 Apr 2025 to 30 Sep 2025)" in val25.note
    val26 = report.result("VAL 26")
    assert val26.overall.n == 18 and val26.change is not None
    assert val26.change.previous_round.period == "2024/25 H2"
    # The follow-up answers are read from the period's rolling round, open or not.
    assert report.result("VAL 27").overall.n == 11


def test_consecutive_rolling_periods_share_no_day_so_a_boundary_enquiry_counts_once(
    session: Session,
) -> None:
    """Rolling rounds that close on the day the next opens (as the demo's do, and as any round
    closing and reopening at a moment of the day would): the boundary day is the later
    period's first day, never also the earlier one's last."""
    provider = make_provider(session, slug="rolling-vc", name="Rolling Volunteer Centre")
    # Each round closes at the moment the next opens, in the middle of a UK day.
    boundaries = [
        datetime(2025, 5, 10, 13, 30, tzinfo=UTC),
        datetime(2025, 11, 2, 9, 0, tzinfo=UTC),
        datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
        datetime(2026, 10, 30, 16, 45, tzinfo=UTC),
    ]
    labels = ["2025/26 H1", "2025/26 H2", "2026/27 H1"]
    made = []
    for label, opens, closes in zip(labels, boundaries, boundaries[1:], strict=False):
        round_ = rolling_round(session, provider, "volunteer-placement", label, H1_START, H1_END)
        round_.opens_at, round_.closes_at = opens, closes
        made.append(round_)
    # Five enquiries on each boundary day (so no count is hidden), five in each period's middle.
    days = [uk(moment).date() for moment in boundaries]
    middles = [day + timedelta(days=60) for day in days[:3]]
    for day in days + middles:
        for _ in range(5):
            make_enquiry(session, provider, enquired_on=day)
    session.commit()

    reports = [val_report(session, round_id=round_.id) for round_ in made]
    periods = [r.result("VAL 25").period for r in reports]
    assert [(p.start, p.end) for p in periods if p is not None] == [
        (date(2025, 5, 10), date(2025, 11, 1)),
        (date(2025, 11, 2), date(2026, 4, 30)),
        (date(2026, 5, 1), date(2026, 10, 30)),  # the last period ends on its round's close
    ]
    counts = [r.result("VAL 25").overall.count for r in reports]
    # The first day counts in its own period only; the last period keeps its closing day.
    assert counts == [10, 10, 15]
    assert sum(c or 0 for c in counts) == 35  # every enquiry once, none twice
    assert [r.result("VAL 26").overall.n for r in reports] == [10, 10, 15]
    # The report says the dates it counted, one day apart from the next period's.
    html = report_html(reports[0], standalone=True)
    assert "2025/26 H1 (10 May 2025 to 1 Nov 2025)" in html
    assert "ending the day before its next period starts, so that no day counts twice" in html
    assert "2025/26 H2 (2 Nov 2025 to 30 Apr 2026)" in report_html(reports[1], standalone=True)


def test_records_kpis_on_an_open_round_say_the_period_is_not_over(
    session: Session, centre: Centre
) -> None:
    closed = val_report(session, round_id=centre.placement_round.id)
    assert "interim" not in json.dumps(closed.to_json())
    for round_ in (centre.placement_round, centre.host_round):
        round_.status = "open"
    session.commit()
    report = val_report(session, round_id=centre.placement_round.id)
    assert report.round.status == "open"
    val25, val26 = report.result("VAL 25"), report.result("VAL 26")
    assert val25.overall.count == 30  # the enquiries so far, against the whole half year's
    assert str(val25.target) == "≥ 1,669 (3,327 a year, pro rata)"
    so_far = (
        f"interim: volunteer-placement round {centre.placement_round.id} is still open, so "
        "2025/26 H1 (1 Apr 2025 to 30 Sep 2025) is not over"
    )
    assert val25.note == (
        f"{so_far}: these are the enquiries recorded so far, against the target for the whole "
        "period"
    )
    assert val26.note == f"{so_far}: these are the share of the enquiries recorded so far"
    # Every way the report is read says it: the page and PDF, the terminal, JSON and CSV.
    html = report_html(report, standalone=True)
    section = html.split('id="kpi-val-25"')[1].split("</section>")[0]
    assert so_far in section
    table = to_table([report])
    for kpi_id in ("VAL 25", "VAL 26"):
        line = next(row for row in table.splitlines() if row.startswith(kpi_id))
        assert "interim: volunteer-placement round" in line, line
    val26_line = next(row for row in table.splitlines() if row.startswith("VAL 26"))
    assert "(was 25%)" in val26_line  # the change is still there, after the note
    kpis = {k["id"]: k for k in json.loads(json.dumps(report.to_json()))["kpis"]}
    assert kpis["VAL 25"]["note"] == val25.note and kpis["VAL 26"]["note"] == val26.note
    rows = list(csv.DictReader(io.StringIO(to_csv([report]))))
    overall = next(r for r in rows if r["kpi"] == "VAL 25" and r["measure"] == "overall")
    assert overall["note"].startswith("interim: ")
    book = read_xlsx(report_xlsx(report))
    summary = {row["KPI"]: row for row in book["Summary"]}
    assert summary["VAL 25"]["Note"] == val25.note and summary["VAL 26"]["Note"] == val26.note


def test_records_back_dated_into_a_published_period_show_how_the_figures_changed(
    session: Session, centre: Centre, database_url: str, tmp_path: Path
) -> None:
    round_ = centre.placement_round
    data, _ = frozen(val_report(session, round_id=round_.id))
    sent = reports.save_snapshot(
        session,
        round_=round_,
        framework="leicestershire-val",
        title="Leicestershire Volunteer Centre: VAL, 2025/26 H1",
        data=data,
        pdf=None,
        xlsx=None,
        published_by="test",
    )
    session.commit()
    assert published_changes(session.connection(), [val_report(session, round_id=round_.id)]) == []

    # Two enquiries recorded later, dated in the published half year (both placed), and one
    # dated in the period before, whose own report was never published.
    make_enquiry(session, centre.provider, enquired_on=date(2025, 5, 2), outcome="placed")
    make_enquiry(session, centre.provider, enquired_on=H1_END, outcome="placed")
    make_enquiry(session, centre.provider, enquired_on=H2_END, outcome="placed")
    session.commit()
    live = val_report(session, round_id=round_.id)
    changes = published_changes(session.connection(), [live])
    assert [(c.kpi.id, c.snapshot_id) for c in changes] == [
        ("VAL 25", sent.id),
        ("VAL 26", sent.id),
    ]
    published_on = long_date(sent.published_at)
    assert changes[0].line() == (
        f"VAL 25 Volunteer enquiries, 2025/26 H1: changed since published on {published_on}: "
        "was 30 enquiries, now 32 enquiries, 2 more"
    )
    assert changes[1].describe() == (
        f"changed since published on {published_on}: was 53% (16 of 30 enquiries), "
        "now 56% (18 of 32 enquiries), up 3 points"
    )
    # What the funders were sent stays as it was.
    session.expire_all()
    kept = session.get(models.ReportSnapshot, sent.id)
    assert kept is not None and kept.data == data
    assert KpiReport.from_json(kept.data).result("VAL 25").overall.count == 30
    # Another period's report, and a report counting only part of this period, compare with
    # no published figures of theirs.
    before = val_report(session, round_id=centre.before_round.id)
    assert published_changes(session.connection(), [before]) == []

    # tempcheck kpi says it under the table, and in its JSON.
    round_id = round_.id
    session.commit()  # this test's reads end before the command opens the database
    env = {"DATABASE_URL": database_url, "TEMPCHECK_INSTANCE": str(tmp_path / "instance")}
    table = CliRunner().invoke(main, ["kpi", "--provider", "leics-vc"], env=env)
    assert table.exit_code == 0, table.output
    assert "Changed since published (the funders have the published figures):" in table.output
    assert (
        f"! Leicestershire Volunteer Centre: VAL 25 Volunteer enquiries, 2025/26 H1: changed "
        f"since published on {published_on}: was 30 enquiries, now 32 enquiries, 2 more"
    ) in table.output
    as_json = CliRunner().invoke(
        main,
        ["kpi", "--round", str(round_id), "--framework", "leicestershire-val", "--json"],
        env=env,
    )
    assert as_json.exit_code == 0, as_json.output
    (document,) = json.loads(as_json.output)["reports"]
    changed = document["changed_since_published"]
    assert [(c["kpi"], c["was"]["count"], c["now"]["count"]) for c in changed[:1]] == [
        ("VAL 25", 30, 32)
    ]
    assert changed[1]["was"]["n"] == 30 and changed[1]["now"]["numerator"] == 18

    # Published again (a correction), the figures are those sent: nothing is said.
    reports.save_snapshot(
        session,
        round_=round_,
        framework="leicestershire-val",
        title="corrected",
        data=frozen(live)[0],
        pdf=None,
        xlsx=None,
        published_by="test",
    )
    session.commit()
    assert published_changes(session.connection(), [live]) == []
