"""Kent's framework (issue 15): NI7 with its benchmarks, the under-£500k focus, the alliance.

Every expected figure is counted by hand from the answers stored in the fixture.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.alliance import build_alliance_report
from analysis.build import build_reports
from analysis.kpis import Status
from analysis.kpis.definitions import KpiDefinitionError, framework, framework_from_data
from analysis.kpis.evaluation import focus_cell
from analysis.model import KpiReport
from analysis.publish import publish
from analysis.render import to_csv, to_table
from analysis.render.html import report_html
from analysis.render.message import report_message
from analysis.render.xlsx import report_xlsx
from analysis.suppression import SECONDARY_NOTE
from collector import models, rounds
from collector.cli import main
from collector.models import utcnow
from collector.survey.loader import library_survey
from tests.analysis.builders import response_frame, round_ref
from tests.analysis.rendered import pdf_text
from tests.factories import make_organisation, make_provider, make_round

KENT = library_survey("kent-support")


def answers(*, influence: str, priorities: str, grow: str, volunteering: str) -> dict[str, str]:
    """Stored answers of an organisation that had support (skip logic obeyed)."""
    return {
        "used_support": "yes",
        "support_kinds": "funding",
        "grow_develop": grow,
        "volunteering_helped": volunteering,
        "kcc_priorities": priorities,
        "statutory_influence": influence,
    }


def closed_kent_round(
    session: Session, provider: models.Provider, period: str, days_ago: int
) -> models.Round:
    opens = utcnow() - timedelta(days=days_ago)
    round_ = make_round(session, provider, KENT, period_label=period, opens_at=opens,
                        closes_at=opens + timedelta(days=42))
    rounds.close_round(session, round_, now=round_.closes_at)
    return round_


def store(session: Session, round_: models.Round, org: models.Organisation,
          stored: dict[str, str]) -> None:
    from tests.analysis.builders import store_response

    store_response(session, round_, org, stored)


@pytest.fixture
def kent(session: Session) -> dict[str, Any]:
    """Two of the alliance's three providers answered 2026/27 H1.

    West Kent CVS, 12 organisations (i = 0..11): income under £10k for i < 4, £100k-£500k for
    4 <= i < 7, over £500k for i >= 7. NI7 positive for i in 0, 1, 8 (3/12); negative for 2,
    don't know for 3, no influence for the rest. Priorities very well i < 4, fairly well
    4 <= i < 7, not at all after (7/12). Grew: yes a lot i < 9 (9/12). Volunteering: yes a
    little i < 6, no 6..9, not relevant 10, 11 (6/10). Its previous round (2025/26 H2): the
    first 10 organisations, NI7 positive for the first only (1/10).
    East Kent CVS, 6 organisations (j = 0..5), all £10k-£100k: NI7 positive j < 2 (2/6);
    priorities very well j < 5 (5/6); grew yes a lot j < 3 (3/6); volunteering yes a lot j < 4
    (4/6). No previous round.
    North Kent Volunteer Centre: no round in 2026/27 H1.
    """
    west = make_provider(session, slug="west-kent-cvs", name="West Kent CVS")
    east = make_provider(session, slug="east-kent-cvs", name="East Kent CVS")
    make_provider(session, slug="north-kent-vc", name="North Kent Volunteer Centre")
    bands = ["under_10k"] * 4 + ["100k_500k"] * 3 + ["over_500k"] * 5
    west_orgs = [make_organisation(session, west, income_band=b) for b in bands]
    east_orgs = [make_organisation(session, east, income_band="10k_100k") for _ in range(6)]
    before = closed_kent_round(session, west, "2025/26 H2", 220)
    for k, org in enumerate(west_orgs[:10]):
        store(session, before, org, answers(
            influence="positive" if k < 1 else "no_influence", priorities="not_at_all",
            grow="no", volunteering="no"))
    west_round = closed_kent_round(session, west, "2026/27 H1", 60)
    for i, org in enumerate(west_orgs):
        influence = {0: "positive", 1: "positive", 8: "positive", 2: "negative",
                     3: "dont_know"}.get(i, "no_influence")
        store(session, west_round, org, answers(
            influence=influence,
            priorities="very_well" if i < 4 else "fairly_well" if i < 7 else "not_at_all",
            grow="yes_a_lot" if i < 9 else "no",
            volunteering="not_relevant" if i >= 10 else "yes_a_little" if i < 6 else "no"))
    east_round = closed_kent_round(session, east, "2026/27 H1", 50)
    for j, org in enumerate(east_orgs):
        store(session, east_round, org, answers(
            influence="positive" if j < 2 else "no_influence",
            priorities="very_well" if j < 5 else "not_very_well",
            grow="yes_a_lot" if j < 3 else "not_sure",
            volunteering="yes_a_lot" if j < 4 else "no"))
    session.commit()
    return {"west": west_round, "east": east_round, "before": before}


def test_ni7_is_the_share_positive_with_its_benchmarks_beside_it(
    session: Session, kent: dict[str, Any]
) -> None:
    (report,) = build_reports(session.connection(), framework="kent-2017",
                              provider="west-kent-cvs")
    ni7 = report.result("NI7")
    assert (ni7.overall.numerator, ni7.overall.n) == (3, 12)
    # 25% against at least 16.3% (no NI7 target was set nationally: the national figure).
    assert ni7.status is Status.GREEN
    # Wilson 3/12: centre (0.25 + 1.9208/12) / (1 + 3.8416/12) = 0.3106, half-width 0.2217:
    # 0.0890 to 0.5323. England's 16.3% is inside; Thurrock's 8.8% is just below it.
    assert ni7.overall.low == pytest.approx(0.0890, abs=1e-4)
    compared = dict((b.label, text) for b, text in ni7.benchmarks())
    assert compared == {
        "England": "no clear difference from England's 16.3% (2008)",
        "Thurrock": "above Thurrock's 8.8% (2008), more than chance",
    }
    assert ni7.change is not None and (ni7.change.previous.numerator,
                                       ni7.change.previous.n) == (1, 10)
    # The other outcomes, counted by hand.
    assert (report.result("K1").overall.numerator, report.result("K1").overall.n) == (9, 12)
    assert (report.result("K2").overall.numerator, report.result("K2").overall.n) == (6, 10)
    assert (report.result("K3").overall.numerator, report.result("K3").overall.n) == (7, 12)
    # The focus, income under £500k: i < 7, NI7 positive for 0 and 1 of them: 2/7. The 5
    # over £500k are enough to show both sides.
    assert ni7.focus is not None
    assert (ni7.focus.numerator, ni7.focus.n) == (2, 7)
    data = json.loads(json.dumps(report.to_json()))
    kpi = next(k for k in data["kpis"] if k["id"] == "NI7")
    assert [(b["label"], b["value"], b["year"]) for b in kpi["benchmarks"]] == [
        ("England", 0.163, 2008), ("Thurrock", 0.088, 2008)]
    assert kpi["benchmarks"][0]["source"].startswith("Ipsos MORI")
    assert kpi["focus"]["n"] == 7
    # A snapshot keeps them: the report rebuilt from its data says the same.
    again = KpiReport.from_json(data).result("NI7")
    assert [b.label for b in again.kpi.benchmarks] == ["England", "Thurrock"]
    assert again.focus is not None and again.focus.n == 7


def test_the_focus_is_hidden_when_the_rest_could_be_worked_out() -> None:
    kpi = framework("kent-2017").kpi("NI7")
    focus = framework("kent-2017").focus
    assert focus is not None
    # 8 under £500k (3 positive) and 3 over: the 3 are too few, and overall minus focus would
    # give them away, so the focus is hidden too.
    rows = [{"round": 1, "statutory_influence": "positive" if n < 3 else "negative",
             "income_band": "under_10k" if n < 8 else "over_500k"} for n in range(11)]
    cell = focus_cell(kpi, response_frame(rows, KENT), 1, focus)
    assert cell.suppressed and cell.note == SECONDARY_NOTE and cell.n is None
    # With nobody outside the focus there is nothing to work out: shown.
    everyone = [dict(row, income_band="under_10k") for row in rows]
    cell = focus_cell(kpi, response_frame(everyone, KENT), 1, focus)
    assert (cell.numerator, cell.n, cell.suppressed) == (3, 11, False)
    # Fewer than 5 in the focus: hidden.
    few = [dict(row, income_band="under_10k" if n < 4 else "over_500k")
           for n, row in enumerate(rows)]
    assert focus_cell(kpi, response_frame(few, KENT), 1, focus).suppressed
    assert round_ref(1)  # the builders' round, for the frame's round id


def test_the_alliance_report_pools_its_providers_and_shows_each_share(
    session: Session, kent: dict[str, Any]
) -> None:
    report = build_alliance_report(session.connection(), "kent-2017")
    assert report.is_alliance and report.round.period == "2026/27 H1"
    assert report.provider_name == "Strengthening Community Organisations in Kent"
    members = {m.slug: m for m in report.members}
    assert members["west-kent-cvs"].rounds == (kent["west"].id,)
    assert members["east-kent-cvs"].rounds == (kent["east"].id,)
    assert members["north-kent-vc"].rounds == () and "no round" in members["north-kent-vc"].note
    ni7 = report.result("NI7")
    assert (ni7.overall.numerator, ni7.overall.n) == (3 + 2, 12 + 6)
    assert (report.result("K1").overall.numerator, report.result("K1").overall.n) == (12, 18)
    assert (report.result("K2").overall.numerator, report.result("K2").overall.n) == (10, 16)
    assert (report.result("K3").overall.numerator, report.result("K3").overall.n) == (12, 18)
    # Each provider beside the whole: its own result and its share of the responses.
    by_provider = {c.key: c for c in ni7.breakdowns["provider"]}
    assert (by_provider["west-kent-cvs"].numerator, by_provider["west-kent-cvs"].n) == (3, 12)
    assert by_provider["west-kent-cvs"].note == "67% of the alliance's responses"
    assert (by_provider["east-kent-cvs"].numerator, by_provider["east-kent-cvs"].n) == (2, 6)
    assert by_provider["east-kent-cvs"].note == "33% of the alliance's responses"
    # Focus: West's 7 under £500k (2 positive) and East's 6 (2 positive).
    assert ni7.focus is not None and (ni7.focus.numerator, ni7.focus.n) == (4, 13)
    # East had no previous round: no change, and the report says why.
    assert ni7.change is None and "not every provider" in ni7.note
    html = report_html(report)
    assert "alliance KPI report for 2026/27 H1" in html
    assert "North Kent Volunteer Centre: no round for 2026/27 H1" in html
    assert "Benchmark: England, 2008" in html and "Focus" in html
    text = to_table([report])
    assert "Provider: West Kent CVS" in text and "Benchmark: England 2008" in text
    book = load_workbook(io.BytesIO(report_xlsx(report)))
    cells = [c.value for row in book["KPI NI7"].iter_rows() for c in row]
    assert "Benchmark" in cells and "Focus" in cells and "England (2008)" in cells
    rows = list(csv.DictReader(io.StringIO(to_csv([report]))))
    benchmark = next(r for r in rows if r["kpi"] == "NI7" and r["measure"] == "benchmark")
    assert (benchmark["group"], float(benchmark["proportion"])) == ("England (2008)", 0.163)
    focus = next(r for r in rows if r["kpi"] == "NI7" and r["measure"] == "focus")
    assert (focus["n"], focus["numerator"]) == ("13", "4")
    message = report_message(report, "LINK")
    assert "NI7" in message and "against England 16.3% (2008), Thurrock 8.8% (2008)" in message


def test_a_provider_in_the_alliance_cannot_hide_behind_it(session: Session) -> None:
    """A provider with fewer than 5 responses is hidden, and the next smallest with it."""
    providers = [make_provider(session, slug=s, name=s.title())
                 for s in ("west-kent-cvs", "east-kent-cvs", "north-kent-vc")]
    sizes = {"west-kent-cvs": 12, "east-kent-cvs": 6, "north-kent-vc": 3}
    for provider in providers:
        round_ = closed_kent_round(session, provider, "2026/27 H1", 60)
        for n in range(sizes[provider.slug]):
            org = make_organisation(session, provider)
            store(session, round_, org, answers(influence="positive" if n % 2 else "negative",
                                                priorities="very_well", grow="no",
                                                volunteering="no"))
    session.commit()
    report = build_alliance_report(session.connection(), "kent-2017")
    cells = {c.key: c for c in report.result("NI7").breakdowns["provider"]}
    assert cells["north-kent-vc"].suppressed and cells["north-kent-vc"].n is None
    assert cells["east-kent-cvs"].suppressed and cells["east-kent-cvs"].note == SECONDARY_NOTE
    assert cells["west-kent-cvs"].n == 12
    # 6 + 3 + 1 positives of 21: the whole is shown.
    assert (report.result("NI7").overall.numerator, report.result("NI7").overall.n) == (10, 21)


def test_closing_a_kent_round_publishes_the_provider_and_the_alliance_reports(
    session: Session, kent: dict[str, Any]
) -> None:
    snapshots = publish(session, kent["east"], published_by="test")
    session.commit()
    assert [s.framework for s in snapshots] == ["kent-2017", "kent-2017-alliance"]
    alliance = snapshots[1]
    assert alliance.title == (
        "Strengthening Community Organisations in Kent (2017): alliance report, 2026/27 H1")
    assert alliance.data["kpis"][3]["overall"]["n"] == 18
    assert alliance.pdf is not None
    text = pdf_text(alliance.pdf)
    assert "Benchmark: England, 2008" in text and "West Kent CVS" in text
    stored = session.scalars(select(models.ReportSnapshot.framework)).all()
    assert sorted(stored) == ["kent-2017", "kent-2017-alliance"]


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Give a function that runs `tempcheck ARGS` on the test's database."""
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": database_url, "TEMPCHECK_INSTANCE": str(tmp_path / "instance")}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_tempcheck_kpi_json_gives_ni7_and_the_alliance(run, kent: dict[str, Any]) -> None:  # noqa: ANN001
    result = run("kpi", "--framework", "kent-2017", "--alliance", "--json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)["reports"]
    assert [r["provider"]["slug"] for r in reports] == [
        "east-kent-cvs", "west-kent-cvs", "strengthening-community-organisations-in-kent"]
    west = next(k for k in reports[1]["kpis"] if k["id"] == "NI7")
    assert (west["overall"]["n"], west["overall"]["numerator"], west["status"]) == (12, 3, "green")
    assert west["overall"]["ci_low"] is not None and west["target"]["value"] == 0.163
    assert west["change"]["previous"]["n"] == 10
    assert west["benchmarks"][1]["comparison"] == "above Thurrock's 8.8% (2008), more than chance"
    pooled = reports[2]
    assert [m["slug"] for m in pooled["alliance_members"]] == [
        "west-kent-cvs", "east-kent-cvs", "north-kent-vc"]
    ni7 = next(k for k in pooled["kpis"] if k["id"] == "NI7")
    assert [c["n"] for c in ni7["breakdowns"]["provider"]] == [12, 6]
    table = run("kpi", "--framework", "essex-2017", "--alliance")
    assert table.exit_code == 1 and "No KPI framework names an alliance" in table.output


def _kpi_data(**benchmark: object) -> dict[str, Any]:
    return {
        "id": "test",
        "title": "Test",
        "kpis": [{
            "id": "NI7",
            "title": "A thriving third sector",
            "survey": "kent-support",
            "numerator": "${statutory_influence} = 'positive'",
            "target": "none",
            "benchmarks": [benchmark],
        }],
    }


@pytest.mark.parametrize(
    ("benchmark", "message"),
    [
        ({"label": "England", "value": "16.3%", "year": 2008},
         "kent.yaml: KPI NI7: benchmarks: benchmark 1 (England) has no source"),
        ({"label": "England", "value": "16.3%", "source": "  ", "year": 2008},
         "kent.yaml: KPI NI7: benchmarks: benchmark 1 (England) has no source"),
        ({"label": "England", "value": "116.3%", "source": "Ipsos MORI", "year": 2008},
         "kent.yaml: KPI NI7: benchmarks: benchmark 1 (England): the value '116.3%' is "
         "outside 0-100%"),
        ({"label": "England", "value": "-3%", "source": "Ipsos MORI", "year": 2008},
         "kent.yaml: KPI NI7: benchmarks: benchmark 1 (England): the value '-3%' is outside "
         "0-100%"),
        ({"label": "England", "value": 16.3, "source": "Ipsos MORI", "year": 2008},
         "kent.yaml: KPI NI7: benchmarks: benchmark 1 (England): the value 16.3 is outside "
         "0-100%"),
        ({"label": "England", "value": "16.3%", "source": "Ipsos MORI"},
         "kent.yaml: KPI NI7: benchmarks: benchmark 1 (England) needs the year"),
    ],
)
def test_a_bad_benchmark_is_refused_naming_the_file_and_kpi(
    benchmark: dict[str, object], message: str
) -> None:
    with pytest.raises(KpiDefinitionError) as refused:
        framework_from_data(_kpi_data(**benchmark), source="kent.yaml")
    assert any(p.startswith(message) for p in refused.value.problems), refused.value.problems


def test_a_benchmark_on_a_count_and_a_bad_alliance_are_refused() -> None:
    data = {
        "id": "test", "title": "Test",
        "alliance": {"name": "A", "providers": ["west-kent-cvs", "west-kent-cvs", "Not A Slug"]},
        "focus": {"title": "Small", "segment": "income_band", "values": ["under_5k"]},
        "kpis": [{"id": "x", "kind": "count", "title": "Count", "survey": "kent-support",
                  "count": "organisations", "target": 50,
                  "benchmarks": [{"label": "E", "value": "5%", "source": "S", "year": 2008}]}],
    }
    with pytest.raises(KpiDefinitionError) as refused:
        framework_from_data(data, source="t.yaml")
    problems = "\n".join(refused.value.problems)
    assert "t.yaml: KPI x: benchmarks: only a KPI whose result is a share" in problems
    assert "t.yaml: alliance: providers: a provider is listed twice" in problems
    assert "'Not A Slug' is not a provider slug" in problems
    assert "t.yaml: focus: values: unknown income_band 'under_5k'" in problems


@pytest.mark.demo_data("published")
def test_the_demo_publishes_ni7_with_its_benchmarks_and_the_kent_alliance(
    session: Session,
) -> None:
    snapshots = session.scalars(
        select(models.ReportSnapshot)
        .where(models.ReportSnapshot.framework == "kent-2017-alliance")
        .order_by(models.ReportSnapshot.id)
    ).all()
    # Published again as each provider's round closed: the last is the whole alliance.
    assert len(snapshots) == 3
    report = KpiReport.from_json(snapshots[-1].data)
    assert [m.slug for m in report.members] == ["west-kent-cvs", "east-kent-cvs", "north-kent-vc"]
    assert all(len(m.rounds) == 1 for m in report.members)
    ni7 = report.result("NI7")
    cells = ni7.breakdowns["provider"]
    # The alliance's n is its providers' n added up (each has enough answers to be shown).
    assert ni7.overall.n == sum(c.n or 0 for c in cells) and all(not c.suppressed for c in cells)
    assert ni7.overall.numerator == sum(c.numerator or 0 for c in cells)
    assert [b.label for b in ni7.kpi.benchmarks] == ["England", "Thurrock"]
    assert ni7.focus is not None and ni7.focus.n is not None and ni7.focus.n < ni7.overall.n


def test_a_provider_whose_round_is_still_open_counts_its_answers_so_far(
    session: Session,
) -> None:
    west = make_provider(session, slug="west-kent-cvs", name="West Kent CVS")
    east = make_provider(session, slug="east-kent-cvs", name="East Kent CVS")
    closed = closed_kent_round(session, west, "2026/27 H1", 60)
    still_open = make_round(session, east, KENT, period_label="2026/27 H1",
                            opens_at=utcnow() - timedelta(days=3))
    for round_, positive in ((closed, 4), (still_open, 1)):
        provider = west if round_ is closed else east
        for n in range(6):
            store(session, round_, make_organisation(session, provider), answers(
                influence="positive" if n < positive else "negative", priorities="very_well",
                grow="no", volunteering="no"))
    session.commit()
    report = build_alliance_report(session.connection(), "kent-2017", round_id=closed.id)
    members = {m.slug: m for m in report.members}
    assert members["east-kent-cvs"].rounds == (still_open.id,)
    assert members["east-kent-cvs"].note == "still open: its answers so far"
    assert members["west-kent-cvs"].note == ""
    assert report.round.status == "open"
    ni7 = report.result("NI7").overall
    assert (ni7.numerator, ni7.n) == (4 + 1, 12)
    assert "East Kent CVS: round " + str(still_open.id) + " (still open" in report_html(report)
