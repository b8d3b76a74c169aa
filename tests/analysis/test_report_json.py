"""A report frozen as JSON (a published snapshot) comes back as the same report: the same data,
byte-identical HTML, charts and message, the same workbook cells and the same PDF text.
"""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import openpyxl
import pytest
from sqlalchemy.orm import Session

from analysis.model import KpiReport, ReportDataError
from analysis.render import to_json
from analysis.render.charts import kpi_chart, locality_chart, trend_chart
from analysis.render.html import report_html
from analysis.render.message import report_message
from analysis.render.pdf import report_pdf
from analysis.render.xlsx import report_xlsx
from collector import models
from tests.analysis.rendered import pdf_text
from tests.analysis.samples import NARRATIVES, essex_report, leicestershire_report
from tests.factories import cvs_support, make_provider, make_round


def thawed(report: KpiReport) -> KpiReport:
    """Freeze a report to JSON text and read it back, as a snapshot is."""
    return KpiReport.from_json(json.loads(json.dumps(report.to_json())))


def cells(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


@pytest.mark.parametrize("build_report", [essex_report, leicestershire_report])
def test_a_frozen_report_renders_exactly_as_the_original(build_report: Any) -> None:
    report: KpiReport = build_report()
    again = thawed(report)
    assert again.to_json() == report.to_json()
    assert report_html(again) == report_html(report)
    assert report_html(again, standalone=False) == report_html(report, standalone=False)
    assert report_message(again, "https://x.example/r/1") == report_message(
        report, "https://x.example/r/1")
    assert cells(report_xlsx(again)) == cells(report_xlsx(report))
    for before, after in zip(report.results, again.results, strict=True):
        assert kpi_chart(after, again) == kpi_chart(before, report)
        assert trend_chart(after, again) == trend_chart(before, report)
    assert locality_chart(again) == locality_chart(report)


def test_a_frozen_report_gives_the_same_pdf_text() -> None:
    report = essex_report()
    assert pdf_text(report_pdf(thawed(report))) == pdf_text(report_pdf(report))


def test_the_narratives_travel_with_the_report() -> None:
    report = essex_report()
    data = report.to_json()
    assert data["narratives"] == dict(sorted(NARRATIVES.items()))
    assert thawed(report).narratives == NARRATIVES
    # An empty explanation is no explanation: it is not kept.
    blank = report.with_narratives({"ix": "", "x": "Counted from our records."})
    assert blank.to_json()["narratives"] == {"x": "Counted from our records."}
    # The JSON document of `tempcheck kpi --format json` carries them too.
    assert json.loads(to_json([report]))["reports"][0]["narratives"]["ix"] == NARRATIVES["ix"]


def test_a_snapshot_keeps_the_definitions_it_was_made_with() -> None:
    data = essex_report().to_json()
    ix = next(k for k in data["kpis"] if k["id"] == "ix")
    # As if the framework file had since changed: the snapshot's own words are used.
    ix["title"] = "Groups satisfied (as defined in 2025)"
    ix["target"] = {"rule": "at_least", "value": 0.7, "text": "≥ 70%"}
    report = KpiReport.from_json(data)
    kpi = report.result("ix").kpi
    assert kpi.title == "Groups satisfied (as defined in 2025)"
    assert str(kpi.target) == "≥ 70%"
    html = report_html(report)
    assert "Groups satisfied (as defined in 2025)" in html and "≥ 70%" in html
    assert kpi.breakdowns == () and report.result("b").kpi.exclude == ("none",)
    assert report.result("x").kpi.window_days == 365


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda d: d.pop("kpis"), "'kpis'"),
        (lambda d: d["kpis"][0].update(kind="ratio"), "'ratio' is not a valid KpiKind"),
        (lambda d: d["kpis"][0]["overall"].update(status="purple"), "'purple'"),
        (lambda d: d["round"].update(opens_at="yesterday"), "yesterday"),
        (lambda d: d["kpis"][0]["overall"].update(n="many"), "many"),
    ],
)
def test_damaged_report_data_is_a_clear_error(damage: Any, words: str) -> None:
    data = copy.deepcopy(essex_report().to_json())
    damage(data)
    with pytest.raises(ReportDataError, match="The report data cannot be read") as caught:
        KpiReport.from_json(data)
    assert words in str(caught.value)


def test_a_snapshot_stored_in_the_database_renders_as_the_original(session: Session) -> None:
    report = essex_report()
    provider = make_provider(session)
    round_ = make_round(session, provider, cvs_support())
    snapshot = models.ReportSnapshot(
        provider_id=provider.id, round_id=round_.id, framework=report.framework.id,
        title="Harlow CVS, 2025/26 H2", data=report.to_json(), published_by="test",
    )
    session.add(snapshot)
    session.commit()
    session.expire_all()
    stored = session.get(models.ReportSnapshot, snapshot.id)
    assert stored is not None
    again = KpiReport.from_json(stored.data)
    assert report_html(again) == report_html(report)
    assert cells(report_xlsx(again)) == cells(report_xlsx(report))
