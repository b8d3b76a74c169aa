"""Reports from the database: which rounds they read, what they say, and `tempcheck kpi`."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from analysis.build import build_reports
from analysis.kpis import Status
from analysis.model import KpiReport
from analysis.render import to_csv, to_json, to_table
from analysis.render.html import report_html
from analysis.render.pdf import report_pdf
from collector import models, rounds
from collector.cli import main
from collector.errors import NotFound
from collector.localtime import long_date
from collector.models import utcnow
from tests.analysis.builders import store_response
from tests.analysis.rendered import pdf_text
from tests.factories import cvs_support, make_organisation, make_provider, make_round

POSITIVE = {"ease_of_access": "easy", "satisfaction": "satisfied"}
NEGATIVE = {"ease_of_access": "difficult", "satisfaction": "satisfied"}


def supported(answers: dict[str, str], aware: str = "none") -> dict[str, str]:
    """Stored answers of a group that had support (skip logic obeyed)."""
    stored = {
        "used_support": "yes",
        "support_kinds": "networking",
        **answers,
        "outcomes_contributed": "good_lives",
        "aware_outcomes": aware,
        "informed_strategies": "well_informed",
        "informed_district": "not_very_well_informed",
    }
    if aware != "none":
        stored["awareness_raised"] = aware
    return stored


def closed_round(session: Session, provider: models.Provider, period: str, days_ago: int,
                 ) -> models.Round:
    opens = utcnow() - timedelta(days=days_ago)
    round_ = make_round(session, provider, cvs_support(), period_label=period, opens_at=opens,
                        closes_at=opens + timedelta(days=42))
    rounds.close_round(session, round_, now=round_.closes_at)
    return round_


@pytest.fixture
def harlow(session: Session) -> dict[str, Any]:
    """Harlow CVS: 14 groups; H1 12 answers (6 positive), H2 12 (11 positive), one open round.

    H1: groups 0-11 all had support, 0-5 positive on both questions.
    H2: groups 2-13 all had support, all but group 13 positive.
    The open round (2026/27 H1): 3 answers so far.
    A second provider, Brentwood CVS, has one closed round with 6 answers.
    """
    provider = make_provider(session, slug="harlow-cvs", name="Harlow CVS")
    types = ["registered_charity"] * 7 + ["community_group"] * 5 + ["faith_group"] * 2
    groups = [make_organisation(session, provider, org_type=t) for t in types]
    h1 = closed_round(session, provider, "2025/26 H1", 220)
    h2 = closed_round(session, provider, "2025/26 H2", 60)
    for n, group in enumerate(groups[:12]):
        store_response(session, h1, group, supported(POSITIVE if n < 6 else NEGATIVE))
    for n, group in enumerate(groups[2:], start=2):
        store_response(session, h2, group,
                       supported(POSITIVE if n < 13 else NEGATIVE,
                                 aware="good_lives" if n < 9 else "none"),
                       channel="telegram" if n % 4 == 0 else "web")
    current = make_round(session, provider, cvs_support(), period_label="2026/27 H1",
                         opens_at=utcnow() - timedelta(days=3))
    for group in groups[:3]:
        store_response(session, current, group, supported(POSITIVE))
    brentwood = make_provider(session, slug="brentwood-cvs", name="Brentwood CVS")
    b_round = closed_round(session, brentwood, "2025/26 H2", 60)
    for _ in range(6):
        store_response(session, b_round, make_organisation(session, brentwood),
                       supported(POSITIVE))
    session.commit()
    return {"h1": h1, "h2": h2, "current": current, "b_round": b_round}


def _reports(session: Session, **options: Any) -> list[KpiReport]:
    return build_reports(session.connection(), **options)


def test_a_provider_report_reads_its_latest_closed_round_and_the_one_before(
    session: Session, harlow: dict[str, Any]
) -> None:
    (report,) = _reports(session, framework="essex-2017", provider="harlow-cvs")
    assert report.round.id == harlow["h2"].id
    ix = report.result("ix")
    assert (ix.overall.numerator, ix.overall.n, ix.status) == (11, 12, Status.GREEN)
    # 11/12 vs 6/12: +41.7 points. Wilson 11/12 = (0.6461, 0.9851), 6/12 = (0.2538, 0.7462);
    # lower limit 0.4167 - sqrt(0.2705^2 + 0.2462^2) = 0.0509 > 0: more than chance.
    assert ix.change is not None and ix.change.previous_round.id == harlow["h1"].id
    assert ix.change.verdict == "up 42 points, more than chance"
    assert ix.change.low == pytest.approx(0.0509, abs=1e-3)
    # x: groups 0-13 had support across the two rounds of the year: 14, under 50.
    x = report.result("x")
    assert (x.overall.count, x.status) == (14, Status.RED)
    b = report.result("b")
    good_lives = next(o for o in b.outcomes if o.value == "good_lives")
    assert (good_lives.aware.numerator, good_lives.aware.n) == (7, 12)  # groups 2-8
    assert good_lives.change is not None and good_lives.change.previous.numerator == 0
    # 7/12 against 0/12 is a clear rise even allowing for 7 outcomes (lower limit 0.079 at
    # z = 2.69), and nothing fell: b is green.
    assert b.status is Status.GREEN
    # ii: ix and b green, x red, and the 21 other KPIs with a target have nothing recorded
    # (not reported, not achieved): 2 of 24, under 80%. i and xi have no target.
    ii = report.result("ii")
    assert (ii.overall.numerator, ii.overall.n, ii.status) == (2, 24, Status.RED)
    verdicts = {c.kpi_id: c.verdict for c in ii.components}
    assert (verdicts["ix"], verdicts["b"], verdicts["x"], verdicts["a"]) == (
        "met", "met", "not met", "not reported")
    assert "i" not in verdicts and "xi" not in verdicts and len(verdicts) == 24
    rates = report.response_rates[0]
    assert (rates.overall.invited, rates.overall.responded) == (14, 12)


def test_by_segment_breakdowns_suppress_small_groups(
    session: Session, harlow: dict[str, Any]
) -> None:
    (report,) = _reports(session, framework="essex-2017", provider="harlow-cvs")
    by_type = {c.key: c for c in report.result("ix").breakdowns["org_type"]}
    # H2 answers by type: charities 2-6 (5), community groups 7-11 (5), faith groups 12-13 (2).
    assert by_type["faith_group"].suppressed
    # A lone hidden cell takes the next smallest with it: of the two fives, the first listed.
    assert by_type["registered_charity"].suppressed
    assert (by_type["community_group"].n, by_type["community_group"].numerator) == (5, 5)
    by_channel = {c.key: c for c in report.result("ix").breakdowns["channel"]}
    assert by_channel["telegram"].suppressed  # groups 4, 8, 12: 3 answers


def test_kpis_whose_survey_has_no_round_say_no_data(
    session: Session, harlow: dict[str, Any]
) -> None:
    (report,) = _reports(session, framework="leicestershire-val", provider="harlow-cvs")
    assert report.result("VAL 2").status is Status.GREEN  # all 12 well informed
    for kpi_id in ("VAL 22", "VAL 24", "VAL 27", "VAL 28"):
        result = report.result(kpi_id)
        assert result.status is Status.NO_DATA and result.round is None
        assert "no round of" in result.note


def test_an_open_round_can_be_asked_for_and_small_numbers_are_hidden(
    session: Session, harlow: dict[str, Any]
) -> None:
    (report,) = _reports(session, framework="essex-2017", round_id=harlow["current"].id)
    ix = report.result("ix")
    assert ix.overall.suppressed and ix.overall.n is None
    assert ix.change is not None and ix.change.previous_round.id == harlow["h2"].id
    assert ix.change.difference is None  # 3 answers: not enough to compare


def test_without_options_every_provider_is_reported_side_by_side(
    session: Session, harlow: dict[str, Any]
) -> None:
    reports = _reports(session, framework="essex-2017")
    assert [r.provider for r in reports] == ["brentwood-cvs", "harlow-cvs"]
    brentwood = reports[0].result("ix")
    assert (brentwood.overall.n, brentwood.status) == (6, Status.NOT_ENOUGH_DATA)
    text = to_table(reports)
    assert "providers side by side" in text
    assert "Brentwood CVS" in text and "Harlow CVS" in text
    assert "92% n=12 GREEN" in text and "100% n=6 not enough data" in text


def test_asking_for_what_is_not_there_is_a_clear_error(
    session: Session, harlow: dict[str, Any]
) -> None:
    with pytest.raises(NotFound, match="No round 999"):
        _reports(session, round_id=999)
    with pytest.raises(NotFound, match="No KPI framework 'essex'"):
        _reports(session, framework="essex")
    with pytest.raises(NotFound, match="No rounds for provider 'nobody'"):
        _reports(session, provider="nobody")


def test_json_and_csv_carry_every_figure(session: Session, harlow: dict[str, Any]) -> None:
    reports = _reports(session, framework="essex-2017", provider="harlow-cvs")
    data = json.loads(to_json(reports))
    ix = next(k for k in data["reports"][0]["kpis"] if k["id"] == "ix")
    assert ix["id"] == "ix" and ix["overall"]["n"] == 12 and ix["status"] == "green"
    assert ix["change"]["verdict"] == "up 42 points, more than chance"
    assert "Green: meets the target" in data["reports"][0]["rag_rule"]
    rows = list(csv.DictReader(io.StringIO(to_csv(reports))))
    overall = next(r for r in rows if r["kpi"] == "ix" and r["measure"] == "overall")
    assert (overall["n"], overall["numerator"], overall["status"]) == ("12", "11", "green")
    assert overall["previous_period"] == "2025/26 H1"
    faith = next(r for r in rows if r["kpi"] == "ix" and r["group"] == "Faith group")
    assert (faith["n"], faith["numerator"], faith["proportion"]) == ("", "", "")


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Give a function that runs `tempcheck ARGS` on the test's database."""
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": database_url, "TEMPCHECK_INSTANCE": str(tmp_path / "instance")}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_tempcheck_kpi_prints_a_table_json_or_csv(run, harlow: dict[str, Any]) -> None:  # noqa: ANN001
    table = run("kpi", "--provider", "harlow-cvs", "--framework", "essex-2017",
                "--by", "org_type")
    assert table.exit_code == 0, table.output
    assert "Harlow CVS · cvs-support 2025/26 H2" in table.output
    assert "up 42 points, more than chance (was 50%)" in table.output
    assert "Type of organisation: Faith group" in table.output
    assert "Response rates by type of organisation" in table.output
    assert "\x1b[" not in table.output  # no colour codes when not printing to a terminal
    as_json = run("kpi", "--round", str(harlow["h2"].id), "--json")
    assert as_json.exit_code == 0
    assert {r["framework"]["id"] for r in json.loads(as_json.output)["reports"]} == {
        "essex-2017", "kent-2017", "leicestershire-val",
    }
    as_csv = run("kpi", "--framework", "essex-2017", "--csv")
    assert as_csv.output.startswith("framework,provider,round_id,period,kpi,")
    both = run("kpi", "--json", "--csv")
    assert both.exit_code == 1 and "Choose one of --json and --csv" in both.output
    missing = run("kpi", "--round", "999")
    assert missing.exit_code == 1 and "No round 999" in missing.output


def test_a_round_closed_early_is_reported_with_the_day_it_closed(session: Session) -> None:
    provider = make_provider(session, slug="harlow-cvs", name="Harlow CVS")
    opens = utcnow() - timedelta(days=30)
    round_ = make_round(session, provider, cvs_support(), opens_at=opens,
                        closes_at=opens + timedelta(days=42))
    closed = opens + timedelta(days=20)
    rounds.close_round(session, round_, now=closed)
    session.commit()

    (report,) = _reports(session, framework="essex-2017", round_id=round_.id)

    assert report.round.closed_early
    assert long_date(report.round.ends_at) == long_date(closed)
    said = (f"open from {long_date(opens)} and closed early on {long_date(closed)} (it was due "
            f"to close on {long_date(round_.closes_at)})")
    html = report_html(report)
    assert said in html
    assert " ".join(said.split()) in " ".join(pdf_text(report_pdf(report)).split())
    # A published snapshot keeps it; one published before it was kept reads as planned.
    frozen = json.loads(json.dumps(report.to_json()))
    assert report_html(KpiReport.from_json(frozen)) == html
    del frozen["round"]["closed_at"]
    assert said not in report_html(KpiReport.from_json(frozen))
