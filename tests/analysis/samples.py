"""Sample KPI reports built without a database, for the renderer tests.

`essex_report()` is Harlow CVS's essex-2017 report for 2025/26 H2 against H1, from hand-made
rows: ix green with a clear rise, b with awareness per outcome, x a red count, ii computed;
districts of 14, 8 and 3 groups (the last suppressed, and the next smallest with it) and one
faith group (suppressed).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from analysis.build import SurveyFrame, evaluate_report
from analysis.kpis import framework
from analysis.model import KpiReport
from collector.survey.loader import library_survey
from tests.analysis.builders import invitation_counts, response_frame, round_ref

SURVEY = library_survey("cvs-support")
H1 = round_ref(1, "2025/26 H1")
H2 = round_ref(2, "2025/26 H2", months=6)
NARRATIVES = {
    "ix": "Satisfaction rose after we added evening drop-in sessions at the library.",
    "x": "We count only groups that answered; our records show 61 groups supported.",
}


def _row(round_id: int, org: int, positive: bool, district: str, org_type: str,
         aware: str = "none") -> dict[str, Any]:
    row: dict[str, Any] = {
        "round": round_id,
        "org": org,
        "used_support": "yes",
        "ease_of_access": "easy" if positive else "difficult",
        "satisfaction": "satisfied",
        "aware_outcomes": aware,
        "informed_strategies": "well_informed",
        "informed_district": "well_informed" if org % 3 else "not_very_well_informed",
        "district": district,
        "org_type": org_type,
        "income_band": "under_10k" if org % 2 else "10k_100k",
        "outcomes": "good_lives",
        "is_member": org % 4 != 0,
    }
    if aware != "none":
        row["awareness_raised"] = aware
    return row


def sample_rows() -> list[dict[str, Any]]:
    """Give the rows: H1 12 groups (6 positive); H2 25 groups (22 positive)."""
    rows = []
    for org in range(12):
        rows.append(_row(1, org, org < 6, "Harlow" if org < 8 else "Old Harlow",
                         "registered_charity" if org % 2 else "community_group"))
    districts = ["Harlow"] * 14 + ["Old Harlow"] * 8 + ["Potter Street"] * 3
    for org, district in enumerate(districts):
        org_type = "faith_group" if org == 24 else (
            "registered_charity" if org % 2 else "community_group")
        rows.append(_row(2, 100 + org, org not in (3, 11, 19), district, org_type,
                         aware="good_lives" if org < 15 else "none"))
    return rows


def sample_counts(rows: list[dict[str, Any]]) -> list[tuple[int, str, str | None, int, int]]:
    """Give invitation counts: every group invited answered, plus 5 silent groups in Harlow."""
    counts: list[tuple[int, str, str | None, int, int]] = []
    for round_id in (1, 2):
        mine = [r for r in rows if r["round"] == round_id]
        counts.append((round_id, "all", None, len(mine) + 5, len(mine)))
        for segment in ("org_type", "income_band", "district", "outcomes", "is_member"):
            tally: Counter[Any] = Counter(
                ("member" if r[segment] else "not_member") if segment == "is_member"
                else r[segment] for r in mine
            )
            for key, responded in tally.items():
                extra = 5 if key in ("Harlow", "community_group", "good_lives") else 0
                if segment in ("income_band", "is_member") and key in ("under_10k", "member"):
                    extra = 5
                counts.append((round_id, segment, key, responded + extra, responded))
    return counts


def essex_report(narratives: dict[str, str] | None = None) -> KpiReport:
    """Build Harlow CVS's essex-2017 report for 2025/26 H2 (see the module docstring)."""
    rows = sample_rows()
    surveys = {"cvs-support": SurveyFrame(response_frame(rows, SURVEY), SURVEY)}
    report = evaluate_report(
        framework("essex-2017"), H2, [H1, H2], surveys, invitation_counts(sample_counts(rows))
    )
    return report.with_narratives(NARRATIVES if narratives is None else narratives)


def leicestershire_report() -> KpiReport:
    """Build the VAL report from the same rows (cvs-support KPIs only; the others no data)."""
    rows = sample_rows()
    surveys = {"cvs-support": SurveyFrame(response_frame(rows, SURVEY), SURVEY)}
    return evaluate_report(
        framework("leicestershire-val"), H2, [H1, H2], surveys,
        invitation_counts(sample_counts(rows)),
    )
