"""The collective report of a county framework: the county's sums and each provider's verdict."""

from __future__ import annotations

import dataclasses

from analysis.collective import collective_of
from analysis.kpis.evaluation import evaluate_targets_met
from analysis.kpis.recorded import RecordedFrames, evaluate_activity
from analysis.kpis.results import KpiResult
from analysis.kpis.targets import Status
from analysis.model import KpiReport
from analysis.render.html import collective_html
from tests.analysis.test_recorded import ESSEX, H2, ROUND, activity, recorded


def _report(slug: str, name: str, rows: list[dict[str, object]], members: int) -> KpiReport:
    round_ = dataclasses.replace(ROUND, provider=slug, provider_name=name)
    found: RecordedFrames = recorded(rows, members={slug: members})
    results: list[KpiResult] = [
        evaluate_activity(k, found, round_, H2) for k in ESSEX.kpis if k.kind.value == "activity"
    ]
    results.append(evaluate_targets_met(ESSEX.kpi("ii"), results, round_))
    framework = dataclasses.replace(ESSEX, kpis=tuple(r.kpi for r in results))
    return KpiReport(framework, slug, name, round_, tuple(results))


def test_the_county_adds_up_counts_and_amounts_and_tallies_verdicts() -> None:
    brentwood = _report(
        "brentwood-cvs",
        "Brentwood CVS",
        [activity("event", "2025-11-01", provider="brentwood-cvs") for _ in range(12)]
        + [
            activity(
                "funding_application", "2025-12-01", 1, obtained=150_050, provider="brentwood-cvs"
            )
        ],
        members=104,
    )
    harlow = _report(
        "harlow-cvs",
        "Harlow CVS",
        [activity("event", "2025-11-02", provider="harlow-cvs") for _ in range(7)]
        + [
            activity("funding_application", "2025-12-02", 2, obtained=99_950, provider="harlow-cvs")
        ],
        members=60,
    )
    other = dataclasses.replace(harlow, round=dataclasses.replace(harlow.round, period="x"))
    collective = collective_of(brentwood.framework, "2025/26 H2", [brentwood, harlow, other])
    assert collective.providers == (
        ("brentwood-cvs", "Brentwood CVS"),
        ("harlow-cvs", "Harlow CVS"),
    )
    a = collective.line("a")
    # 12 + 7 = 19 events against 10 + 10 for the half year: the county is short.
    assert (a.total, a.target, a.status) == (19, 20, Status.RED)
    assert (a.met, a.not_met, a.not_reported) == (1, 1, 0)
    # £1,500.50 + £999.50 = £2,500.00, no target.
    i = collective.line("i")
    assert (i.total, i.total_text, i.status) == (250_000, "£2,500", Status.NO_TARGET)
    # Members add up (104 + 60 against 100 + 100); health checks were not reported by either.
    assert (collective.line("l").total, collective.line("l").status) == (164, Status.RED)
    assert collective.line("e").not_reported == 2
    # Different organisations do not add up: one group may be helped by both.
    assert collective.line("g").total is None
    page = collective_html(collective)
    assert "County overview" in page and "Harlow CVS" in page and "£2,500" in page
    assert page.count('class="tc-collective__provider"') == 2
