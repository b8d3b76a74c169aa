"""Nothing about a group of fewer than 5 responses reaches a funder, in any output format.

The property test generates small random data sets for two providers, builds their essex-2017
reports and renders them as tables (one provider in detail, by every segment; both side by
side), JSON and CSV. The groups with fewer than 5 responses are counted independently from the
generated rows, and every output is checked to show no figure for them, and no way to get one by
subtracting the groups shown from the total.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.build import SurveyFrame, evaluate_report
from analysis.frames import MULTI_VALUED_SEGMENTS, SEGMENTS
from analysis.kpis import framework
from analysis.model import KpiReport
from analysis.render import to_csv, to_json, to_table
from analysis.segments import SEGMENT_TITLES
from analysis.suppression import SUPPRESS_BELOW
from collector.segments import OUTCOMES
from collector.survey.loader import library_survey
from tests.analysis.builders import invitation_counts, response_frame, round_ref

ESSEX = framework("essex-2017")
SURVEY = library_survey("cvs-support")
ROUNDS = {
    "harlow-cvs": (round_ref(1, "2025/26 H1", provider="harlow-cvs"),
                   round_ref(2, "2025/26 H2", months=6, provider="harlow-cvs")),
    "brentwood-cvs": (round_ref(3, "2025/26 H1", provider="brentwood-cvs"),
                      round_ref(4, "2025/26 H2", months=6, provider="brentwood-cvs")),
}
EASE = [c.value for c in SURVEY.question("ease_of_access").choices]
SATISFACTION = [c.value for c in SURVEY.question("satisfaction").choices]
NUMERIC_FIELDS = ("n", "numerator", "proportion", "ci_low", "ci_high", "count")
RATE_FIELDS = ("invited", "responded", "rate")
# Digits a row may show besides figures: targets, periods, income bands, an outcome's name.
ALLOWED_DIGITS = re.compile(
    r"fewer than 5|£\d+k|to 19|[≥>] \d+%?|\d{4}/\d{2} H\d|round \d+"
)


@st.composite
def responses(draw: st.DrawFn) -> dict[str, Any]:
    """One completed response of cvs-support, obeying its skip logic."""
    used = draw(st.booleans())
    aware = draw(st.lists(st.sampled_from(list(OUTCOMES)), max_size=3, unique=True))
    row: dict[str, Any] = {
        "used_support": "yes" if used else "no",
        "aware_outcomes": " ".join(o for o in OUTCOMES if o in aware) or "none",
        "org": draw(st.integers(1, 30)),
        "org_type": draw(st.sampled_from(["registered_charity", "community_group",
                                          "faith_group", "other", None])),
        "income_band": draw(st.sampled_from(["under_10k", "10k_100k", "over_500k", None])),
        "district": draw(st.sampled_from(["Harlow", "Old Harlow", "Potter Street"])),
        "outcomes": " ".join(draw(st.lists(st.sampled_from(list(OUTCOMES)[:4]), max_size=2,
                                           unique=True))) or None,
        "channel": draw(st.sampled_from(["web", "web", "telegram"])),
        "is_member": draw(st.sampled_from([True, False, None])),
    }
    if used:
        row["ease_of_access"] = draw(st.sampled_from(EASE))
        row["satisfaction"] = draw(st.sampled_from(SATISFACTION))
        if aware:
            row["awareness_raised"] = " ".join(
                o for o in OUTCOMES if o in draw(st.lists(st.sampled_from(aware), unique=True))
            ) or "none"
    return row


@st.composite
def data_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows for both providers' two rounds: from none to a few dozen responses each."""
    rows = []
    for provider, pair in ROUNDS.items():
        for round_ in pair:
            for row in draw(st.lists(responses(), max_size=30)):
                rows.append({**row, "round": round_.id, "provider": provider})
    return rows


def segment_keys(row: dict[str, Any], segment: str) -> list[str | None]:
    value = row.get(segment, "web" if segment == "channel" else None)
    if segment == "is_member":
        return [None if value is None else ("member" if value else "not_member")]
    if segment in MULTI_VALUED_SEGMENTS:
        return list((value or "").split()) or [None]
    return [value]


def true_counts(rows: list[dict[str, Any]], round_id: int) -> dict[str, Counter[str | None]]:
    """Count, by hand, the ix denominator (answered both questions) per segment value."""
    counted = [r for r in rows if r["round"] == round_id and "ease_of_access" in r]
    return {
        segment: Counter(key for row in counted for key in segment_keys(row, segment))
        for segment in SEGMENTS
    }


def build(rows: list[dict[str, Any]]) -> list[KpiReport]:
    frame = response_frame(rows, SURVEY) if rows else response_frame([], SURVEY)
    surveys = {"cvs-support": SurveyFrame(frame, SURVEY)}
    known = [r for pair in ROUNDS.values() for r in pair]
    counts = []
    for pair in ROUNDS.values():
        current = pair[1]
        mine = [r for r in rows if r["round"] == current.id]
        for segment in ("org_type", "income_band", "district", "outcomes", "is_member"):
            tally = Counter(k for r in mine for k in segment_keys(r, segment))
            for key, responded in tally.items():
                counts.append((current.id, segment, key, responded + 3, responded))
        counts.append((current.id, "all", None, len(mine) + 3, len(mine)))
    return [
        evaluate_report(ESSEX, pair[1], known, surveys, invitation_counts(counts))
        for pair in ROUNDS.values()
    ]


def walk(data: object) -> list[dict[str, Any]]:
    """Give every dict inside a JSON document."""
    found: list[dict[str, Any]] = []
    if isinstance(data, dict):
        found.append(data)
        for value in data.values():
            found += walk(value)
    elif isinstance(data, list):
        for value in data:
            found += walk(value)
    return found


def check_json(reports: list[KpiReport], rows: list[dict[str, Any]]) -> None:
    document = json.loads(to_json(reports))
    for cell in walk(document):
        if cell.get("suppressed") is True:
            for field in (*NUMERIC_FIELDS, *RATE_FIELDS):
                assert cell.get(field) is None, cell
    for report in document["reports"]:
        current = report["round"]["id"]
        truth = true_counts(rows, current)
        ix = next(k for k in report["kpis"] if k["id"] == "ix")
        overall_n = sum(1 for r in rows if r["round"] == current and "ease_of_access" in r)
        if overall_n < SUPPRESS_BELOW:
            assert ix["overall"]["suppressed"] and ix["overall"]["n"] is None
        for segment, cells in ix["breakdowns"].items():
            for cell in cells:
                if truth[segment][cell["key"]] < SUPPRESS_BELOW:
                    assert cell["suppressed"], (segment, cell)
            if segment in MULTI_VALUED_SEGMENTS or ix["overall"]["n"] is None:
                continue
            # Subtracting the groups shown from the total gives nothing small away.
            hidden = [c for c in cells if c["suppressed"]]
            remainder = ix["overall"]["n"] - sum(c["n"] for c in cells if not c["suppressed"])
            assert remainder == 0 or (remainder >= SUPPRESS_BELOW and len(hidden) >= 2), cells
        for rates in report["response_rates"]:
            for cells in rates["segments"].values():
                for cell in cells:
                    if cell["responded"] is not None:
                        assert cell["responded"] >= SUPPRESS_BELOW


def check_csv(reports: list[KpiReport], rows: list[dict[str, Any]]) -> None:
    table = list(csv.DictReader(io.StringIO(to_csv(reports))))
    for row in table:
        if row["status"] == "suppressed":
            for field in ("n", "numerator", "proportion", "ci_low", "ci_high", "count"):
                assert row[field] == "", row
        elif row["n"] and row["measure"] != "overall" and row["kpi"] != "ii":
            assert int(row["n"]) >= SUPPRESS_BELOW, row
        if row["kpi"] == "response rate" and row["numerator"]:
            assert int(row["numerator"]) >= SUPPRESS_BELOW, row
    for report in reports:
        truth = true_counts(rows, report.round.id)
        for row in table:
            if (row["provider"], row["kpi"], row["measure"]) == (report.provider, "ix",
                                                                  "breakdown"):
                key = next(c.key for c in report.result("ix").breakdowns[row["segment"]]
                           if c.label == row["group"])
                if truth[row["segment"]][key] < SUPPRESS_BELOW:
                    assert row["status"] == "suppressed", row


def columns_of(lines: list[str], header: str, names: list[str]) -> list[dict[str, str]]:
    """Cut table rows into columns at the header's column starts (cells are padded to width)."""
    starts = []
    for name in names:
        found = re.search(r"(^|  )" + re.escape(name) + r"(  |$)", header)
        assert found is not None, (name, header)
        starts.append(found.start() + len(found.group(1)))
    rows = []
    for line in lines:
        if not line.strip():
            break
        rows.append({name: line[a:b].strip() for name, a, b in
                     zip(names, starts, [*starts[1:], None], strict=True)})
    return rows


def check_detail_tables(reports: list[KpiReport]) -> None:
    names = ["KPI", "Indicator", "n", "Result", "95% CI", "Target", "Status", "Change / note"]
    for report in reports:
        for segment in SEGMENTS:
            lines = to_table([report], by=segment).splitlines()
            header = next(line for line in lines if line.startswith("KPI  "))
            for row in columns_of(lines[lines.index(header) + 1:], header, names):
                if row["Result"] != f"fewer than {SUPPRESS_BELOW}":
                    continue
                assert row["n"] == "–" and row["95% CI"] == "–", row
                assert row["Status"] in ("", "suppressed"), row
                assert not re.search(r"\d", ALLOWED_DIGITS.sub("", row["Change / note"])), row


def check_side_by_side(reports: list[KpiReport]) -> None:
    for segment in SEGMENTS:
        lines = to_table(reports, by=segment).splitlines()
        header = next(line for line in lines if line.startswith("KPI  "))
        names = [r.provider_name for r in reports]
        for row in columns_of(lines[lines.index(header) + 1:], header, names):
            for text in row.values():
                if "fewer than" in text:
                    assert text == f"fewer than {SUPPRESS_BELOW}", row
                elif text and text not in ("–", "no data"):
                    figures = re.findall(r"n=(\d+)", text)
                    assert all(int(n) >= SUPPRESS_BELOW for n in figures), row


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_sets())
def test_suppressed_cells_never_leak_a_count_below_5(rows: list[dict[str, Any]]) -> None:
    reports = build(rows)
    check_json(reports, rows)
    check_csv(reports, rows)
    check_detail_tables(reports)
    check_side_by_side(reports)


def test_an_empty_round_renders_without_figures() -> None:
    reports = build([])
    text = to_table(reports[:1], by="org_type")
    assert "fewer than 5" in text
    document = json.loads(to_json(reports))
    ix = next(k for k in document["reports"][0]["kpis"] if k["id"] == "ix")
    assert ix["overall"]["suppressed"] is True
    assert isinstance(pd.read_csv(io.StringIO(to_csv(reports))), pd.DataFrame)


def test_the_table_explains_the_rag_rule_and_the_change() -> None:
    text = to_table(build([]))
    assert "Amber: below the target, but the target is within the 95% confidence interval" in text
    assert "exactly 50% is not a majority" in text
    assert "Newcombe's 95% interval" in text
    assert SEGMENT_TITLES["org_type"] == "Type of organisation"
