"""`tempcheck kpi` on the demo data: sensible, varied results."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from analysis.build import build_reports
from analysis.kpis import Status
from analysis.render import to_table


@pytest.mark.demo_data("plain")
def test_the_demo_data_gives_varied_kpi_results(session: Session) -> None:
    reports = build_reports(session.connection())
    essex = [r for r in reports if r.framework.id == "essex-2017"]
    assert len(essex) == 3 and all(r.round.status == "closed" for r in essex)
    ix = [r.result("ix") for r in essex]
    assert all(result.overall.n and result.overall.n >= 10 for result in ix)
    assert all(result.change is not None for result in ix)
    judged = {result.status for report in reports for result in report.results}
    assert Status.GREEN in judged and judged & {Status.AMBER, Status.RED}
    assert len({result.status for result in ix}) >= 2  # providers differ, as in the demo
    for report in essex:
        assert report.result("x").overall.count  # some organisations supported
        assert report.result("ii").status.judged
    val = [r for r in reports if r.framework.id == "leicestershire-val"]
    assert len(val) == 3
    for report in val:
        # Partners, commissioners and representatives answered in both past periods.
        for kpi_id in ("VAL 7", "VAL 9", "VAL 10", "VAL 12", "VAL 22"):
            result = report.result(kpi_id)
            assert result.overall.n and result.overall.n >= 10, (report.provider, kpi_id)
            assert result.status.judged and result.change is not None
        for kpi_id in ("VAL 7", "VAL 10"):
            groups, agencies = report.result(kpi_id).breakdowns["audience"]
            assert (
                groups.n and agencies.n and groups.n + agencies.n == report.result(kpi_id).overall.n
            )
    text = to_table(reports, by="org_type")
    assert "providers side by side" in text and "fewer than 5" in text
