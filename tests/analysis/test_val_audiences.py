"""VAL 7, 9, 10 and 12 (issue 15): the indicators of partners, commissioners and the sector's
representatives, each against counts worked out by hand here, on SQLite and PostgreSQL.

VAL 7 and 10 are asked of two audiences (VCS groups answer sector-voice, public agencies
funder-satisfaction): each audience's share is reported, suppressed like any breakdown, and
the combined figure (pooled respondents) is judged against the target.
"""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from analysis import frames
from analysis.build import build_reports
from analysis.kpis import Status
from analysis.kpis.definitions import KpiDefinitionError, framework, framework_from_data
from analysis.kpis.evaluation import AudiencePart, evaluate_audiences
from analysis.kpis.results import RoundRef
from analysis.model import KpiReport
from analysis.render.html import report_html
from analysis.render.text import to_table
from analysis.stats import newcombe, wilson
from analysis.suppression import SECONDARY_NOTE, SUPPRESSED_NOTE
from collector import models
from collector.localtime import day_ends, day_starts
from collector.survey.loader import library_survey
from collector.survey.store import register
from tests.factories import make_provider

H1 = (date(2026, 4, 1), date(2026, 6, 30))
H2_BEFORE = (date(2025, 10, 1), date(2025, 12, 31))
IMPROVED = ("improved_a_lot", "improved_a_little")


def closed_round(
    session: Session, provider: models.Provider, survey_id: str, label: str, days: tuple[date, date]
) -> models.Round:
    """Add a closed round of a built-in survey."""
    round_ = models.Round(
        provider=provider,
        survey=register(session, library_survey(survey_id)),
        period_label=label,
        slug=secrets.token_urlsafe(9),
        opens_at=day_starts(days[0]),
        closes_at=day_ends(days[1]),
        status="closed",
        audience={},
    )
    session.add(round_)
    session.flush()
    return round_


def respond(
    session: Session,
    round_: models.Round,
    answers: dict[str, str],
    *,
    audience: str,
    contact_org: str | None = None,
) -> None:
    """Store one completed response with its answers and who answered."""
    when = round_.opens_at + timedelta(days=3)
    response = models.Response(
        round_id=round_.id,
        status="completed",
        channel="web",
        started_at=when,
        updated_at=when,
        completed_at=when,
        audience=audience,
        contact_org=contact_org,
    )
    response.answers = [models.Answer(question_id=q, value=v) for q, v in answers.items()]
    session.add(response)


def many(values: dict[str, int]) -> list[str]:
    """Spell out answers: {'yes': 2, 'no': 1} -> ['yes', 'yes', 'no']."""
    return [value for value, count in values.items() for _ in range(count)]


def val(session: Session, provider: str) -> dict[str, Any]:
    """Give the provider's leicestershire-val report as plain data, by KPI id."""
    (report,) = build_reports(
        session.connection(), framework="leicestershire-val", provider=provider
    )
    data = json.loads(json.dumps(report.to_json()))
    assert KpiReport.from_json(data).to_json() == data  # a snapshot keeps every figure
    return {kpi["id"]: kpi for kpi in data["kpis"]}


@pytest.fixture
def leicestershire(session: Session) -> str:
    """VAL's partners, groups and representatives answering in 2026/27 H1 (and groups and
    partners in 2025/26 H2 before it), with the answers counted by hand in the tests."""
    provider = make_provider(session, slug="val", name="Voluntary Action LeicesterShire")
    groups = closed_round(session, provider, "sector-voice", "2026/27 H1", H1)
    # 12 groups. VAL 7: 5 + 2 improved of 12. VAL 10: 6 'yes' of 12.
    compact = many({"improved_a_lot": 5, "improved_a_little": 2, "no_difference": 3})
    compact += many({"not_aware": 2})
    represented = many({"yes": 6, "partly": 4, "no": 2})
    for c, r in zip(compact, represented, strict=True):
        respond(
            session, groups, {"compact_relations": c, "sector_represented": r}, audience="group"
        )
    # 12 public agencies: 7 partners (4 at the county council), 5 commissioners (at the NHS).
    agencies = closed_round(session, provider, "funder-satisfaction", "2026/27 H1", H1)
    compact = many({"improved_a_lot": 2, "improved_a_little": 3, "no_difference": 5})
    compact += many({"made_worse": 1, "not_aware": 1})  # VAL 7: 5 of 12
    represented = many({"yes": 4, "partly": 5, "no": 2, "not_sure": 1})  # VAL 10: 4 of 12
    # VAL 12: partners 3 + 3 of 7; commissioners 0 + 4 of 5: 10 of 12.
    understanding = many({"excellent": 3, "good": 3, "fair": 1})
    understanding += many({"good": 4, "poor": 1})
    who = [("partner", "Leicestershire County Council")] * 4 + [("partner", "Police")] * 3
    who += [("commissioner", "NHS Leicester")] * 5
    for c, r, u, (audience, org) in zip(compact, represented, understanding, who, strict=True):
        respond(
            session,
            agencies,
            {
                "capacity_building_satisfaction": "satisfied",
                "sector_represented": r,
                "compact_relations": c,
                "vcs_understanding": u,
            },
            audience=audience,
            contact_org=org,
        )
    # 11 representatives. VAL 9: 7 'yes' of 11.
    reps = closed_round(session, provider, "representative-views", "2026/27 H1", H1)
    for answer in many({"yes": 7, "partly": 3, "no": 1}):
        respond(session, reps, {"able_to_represent": answer}, audience="representative")
    # The half year before: VAL 10 was 3 of 10 groups and 2 of 10 partners, 5 of 20 (25%).
    before_groups = closed_round(session, provider, "sector-voice", "2025/26 H2", H2_BEFORE)
    for answer in many({"yes": 3, "no": 7}):
        respond(
            session,
            before_groups,
            {"compact_relations": "no_difference", "sector_represented": answer},
            audience="group",
        )
    before_agencies = closed_round(
        session, provider, "funder-satisfaction", "2025/26 H2", H2_BEFORE
    )
    for answer in many({"yes": 2, "partly": 8}):
        respond(
            session,
            before_agencies,
            {
                "capacity_building_satisfaction": "satisfied",
                "sector_represented": answer,
                "compact_relations": "no_difference",
                "vcs_understanding": "good",
            },
            audience="partner",
            contact_org="Police",
        )
    session.flush()
    return provider.slug


def test_val_7_pools_groups_and_agencies_and_reports_each(
    session: Session, leicestershire: str
) -> None:
    kpi = val(session, leicestershire)["VAL 7"]
    assert kpi["kind"] == "audiences" and kpi["combine"] == "pooled"
    overall = kpi["overall"]
    # 7 of 12 groups and 5 of 12 agencies: 12 of 24, exactly half, which is not a majority.
    assert (overall["numerator"], overall["n"]) == (12, 24)
    interval = wilson(12, 24)
    assert (overall["ci_low"], overall["ci_high"]) == (interval.low, interval.high)
    assert overall["status"] == "amber"  # short of a majority, but the interval reaches it
    assert kpi["target"]["text"] == "> 50% (majority)"
    groups, agencies = kpi["breakdowns"]["audience"]
    assert (groups["label"], groups["numerator"], groups["n"], groups["status"]) == (
        "VCS groups",
        7,
        12,
        "green",
    )
    assert (agencies["label"], agencies["numerator"], agencies["n"]) == ("Public agencies", 5, 12)
    assert wilson(5, 12).high > 0.5 and agencies["status"] == "amber"
    assert "Combined by pooling respondents" in kpi["note"]
    assert "VCS groups (sector-voice, round" in kpi["note"]
    # The previous half year's answers all said "no difference": 0 of 20.
    change = kpi["change"]
    assert change["previous"]["numerator"] == 0 and change["previous"]["n"] == 20
    expected = newcombe(12, 24, 0, 20)
    assert change["difference"] == pytest.approx(expected.estimate)
    assert change["verdict"].startswith("up")


def test_val_10_pools_partners_and_groups_with_its_change(
    session: Session, leicestershire: str
) -> None:
    kpi = val(session, leicestershire)["VAL 10"]
    overall = kpi["overall"]
    # 6 of 12 groups and 4 of 12 partners said 'yes, effectively': 10 of 24, against 50%.
    assert (overall["numerator"], overall["n"]) == (10, 24)
    assert overall["proportion"] == pytest.approx(10 / 24)
    assert wilson(10, 24).high >= 0.5 and overall["status"] == "amber"
    assert kpi["target"]["text"] == "≥ 50%"
    cells = {c["key"]: (c["numerator"], c["n"]) for c in kpi["breakdowns"]["audience"]}
    assert cells == {"groups": (6, 12), "partners": (4, 12)}
    # Before: 3 of 10 groups and 2 of 10 partners, 5 of 20 (the review: 27% rising to 42%).
    change = kpi["change"]
    assert (change["previous"]["numerator"], change["previous"]["n"]) == (5, 20)
    assert change["difference"] == pytest.approx(10 / 24 - 5 / 20)
    spread = newcombe(10, 24, 5, 20)
    assert (change["ci_low"], change["ci_high"]) == (
        pytest.approx(spread.low),
        pytest.approx(spread.high),
    )
    assert change["verdict"] == "no clear change"


def test_val_9_counts_the_representatives(session: Session, leicestershire: str) -> None:
    kpi = val(session, leicestershire)["VAL 9"]
    overall = kpi["overall"]
    assert (overall["numerator"], overall["n"], overall["status"]) == (7, 11, "green")
    assert kpi["target"]["text"] == "≥ 50%" and kpi["survey"] == "representative-views"
    assert kpi["change"] is None  # no earlier round of representative-views


def test_val_12_counts_commissioners_and_staff_by_audience_and_organisation(
    session: Session, leicestershire: str
) -> None:
    kpi = val(session, leicestershire)["VAL 12"]
    overall = kpi["overall"]
    # Excellent or good: 6 of 7 partners and 4 of 5 commissioners, 10 of 12, against 90%.
    assert (overall["numerator"], overall["n"]) == (10, 12)
    assert overall["status"] == "amber"  # 83% is short, but the interval reaches 90%
    assert wilson(10, 12).high >= 0.9
    by_audience = {c["key"]: c for c in kpi["breakdowns"]["audience"]}
    assert (by_audience["partner"]["numerator"], by_audience["partner"]["n"]) == (6, 7)
    assert (by_audience["commissioner"]["numerator"], by_audience["commissioner"]["n"]) == (4, 5)
    by_org = {c["key"]: c for c in kpi["breakdowns"]["contact_org"]}
    # Police (3) and the council (4) are too few to show; hidden together they are 7, so the
    # NHS (5) can be shown without giving them away.
    assert by_org["Police"]["suppressed"] and by_org["Police"]["n"] is None
    assert by_org["Leicestershire County Council"]["suppressed"]
    assert by_org["Police"]["note"] == SUPPRESSED_NOTE
    nhs = by_org["NHS Leicester"]
    assert (nhs["numerator"], nhs["n"], nhs["suppressed"]) == (4, 5, False)
    # The previous half year's ten partners all said good: 10 of 10.
    assert kpi["change"]["previous"]["n"] == 10


def test_a_two_audience_kpi_hides_a_small_audience_and_the_other_but_not_the_total(
    session: Session,
) -> None:
    provider = make_provider(session, slug="small")
    groups = closed_round(session, provider, "sector-voice", "2026/27 H1", H1)
    for answer in many({"yes": 6, "no": 6}):
        respond(
            session,
            groups,
            {"compact_relations": "no_difference", "sector_represented": answer},
            audience="group",
        )
    partners = closed_round(session, provider, "funder-satisfaction", "2026/27 H1", H1)
    for answer in many({"yes": 2, "no": 1}):  # 3 partners: under the threshold of 5
        respond(
            session,
            partners,
            {
                "capacity_building_satisfaction": "satisfied",
                "sector_represented": answer,
                "compact_relations": "improved_a_lot",
                "vcs_understanding": "good",
            },
            audience="partner",
        )
    session.flush()
    kpis = val(session, "small")
    kpi = kpis["VAL 10"]
    # 6 of 12 groups and 2 of 3 partners: 8 of 15, 53%, meets 50%.
    overall = kpi["overall"]
    assert (overall["numerator"], overall["n"], overall["status"]) == (8, 15, "green")
    groups_cell, partners_cell = kpi["breakdowns"]["audience"]
    assert partners_cell["suppressed"] and partners_cell["note"] == SUPPRESSED_NOTE
    # Shown, the groups' 6 of 12 would give the partners' 2 of 3 away (8 - 6, 15 - 12).
    assert groups_cell["suppressed"] and groups_cell["note"] == SECONDARY_NOTE
    for cell in (groups_cell, partners_cell):
        assert (cell["n"], cell["numerator"], cell["proportion"]) == (None, None, None)
    # VAL 12 has only the 3 partners: nothing of it is shown.
    assert kpis["VAL 12"]["overall"]["suppressed"]
    # VAL 9: no round of representative-views: no data, said so.
    assert kpis["VAL 9"]["overall"]["status"] == "no data"
    assert "no round of representative-views" in kpis["VAL 9"]["note"]
    # Every renderer keeps them hidden: no "2 of 3" or "67%" anywhere.
    (report,) = build_reports(
        session.connection(), framework="leicestershire-val", provider="small"
    )
    html = report_html(report, standalone=True)
    table = to_table([report], by="audience")
    assert "Partners" in html and "67%" not in html and "67%" not in table


def test_an_audience_with_no_round_says_so_and_hides_nothing(session: Session) -> None:
    provider = make_provider(session, slug="groups-only")
    groups = closed_round(session, provider, "sector-voice", "2026/27 H1", H1)
    for answer in many({"improved_a_lot": 9, "made_worse": 3}):
        respond(
            session,
            groups,
            {"compact_relations": answer, "sector_represented": "yes"},
            audience="group",
        )
    session.flush()
    kpi = val(session, "groups-only")["VAL 7"]
    assert (kpi["overall"]["numerator"], kpi["overall"]["n"]) == (9, 12)
    groups_cell, agencies_cell = kpi["breakdowns"]["audience"]
    assert (groups_cell["numerator"], groups_cell["n"]) == (9, 12)
    assert agencies_cell["status"] == "no data"
    assert agencies_cell["note"] == "no round of funder-satisfaction in this period"


def _part_frame(round_id: int, question: str, answers: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {frames.ROUND: [round_id] * len(answers), question: pd.Categorical(answers)}
    )


def _ref(round_id: int, survey: str) -> RoundRef:
    return RoundRef(
        id=round_id,
        provider="p",
        provider_name="P",
        survey=survey,
        survey_version=1,
        period="2026/27 H1",
        status="closed",
        opens_at=day_starts(H1[0]),
        closes_at=day_ends(H1[1]),
    )


def test_equal_weights_average_the_audiences_shares(session: Session) -> None:
    val10 = framework("leicestershire-val").kpi("VAL 10")
    equal = val10.__class__(**{**val10.__dict__, "combine": "equal"})
    groups, partners = equal.parts
    # 9 of 10 groups (90%) and 3 of 30 partners (10%): pooled 12 of 40 (30%), equal 50%.
    parts = [
        AudiencePart(
            groups,
            _part_frame(1, "sector_represented", many({"yes": 9, "no": 1})),
            _ref(1, "sector-voice"),
        ),
        AudiencePart(
            partners,
            _part_frame(2, "sector_represented", many({"yes": 3, "no": 27})),
            _ref(2, "funder-satisfaction"),
        ),
    ]
    result = evaluate_audiences(equal, parts)
    assert result.overall.proportion == pytest.approx(0.5)
    assert result.overall.n == 40 and result.overall.status is Status.GREEN  # 50% meets 50%
    half = 1.959964 * ((0.9 * 0.1 / 10 + 0.1 * 0.9 / 30) ** 0.5) / 2
    assert result.overall.low == pytest.approx(0.5 - half, abs=1e-6)
    assert result.overall.high == pytest.approx(0.5 + half, abs=1e-6)
    assert "with equal weights" in result.note
    pooled = evaluate_audiences(val10, parts)
    assert (pooled.overall.numerator, pooled.overall.n) == (12, 40)
    assert pooled.overall.status is Status.RED  # 30%: even the interval's top is under 50%
    # With equal weights, an audience under the framework's minimum leaves it unjudged.
    parts[0] = AudiencePart(
        groups, _part_frame(1, "sector_represented", many({"yes": 6})), _ref(1, "sector-voice")
    )
    few = evaluate_audiences(equal, parts)
    assert few.overall.status is Status.NOT_ENOUGH_DATA and few.overall.proportion is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"combine": "average"}, "combine: must be one of pooled, equal, not 'average'"),
        ({"parts": []}, "parts: list at least two audiences"),
        (
            {"parts": [{"key": "a", "label": "A", "survey": "sector-voice",
                        "numerator": "${sector_represented} = 'yes'"}] * 2},
            "part 2: two parts have the key 'a'",
        ),
        (
            {"parts": [{"key": "Groups!", "label": "A", "survey": "sector-voice",
                        "numerator": "${x} = 'yes'"}] * 2},
            "key must be lowercase letters, digits and '_', not 'Groups!'",
        ),
    ],
)  # fmt: skip
def test_a_bad_audiences_kpi_is_refused_with_what_is_wrong(
    change: dict[str, Any], message: str
) -> None:
    kpi = {
        "id": "VAL 10",
        "title": "Represented",
        "kind": "audiences",
        "target": "50%",
        "parts": [
            {"key": "groups", "label": "VCS groups", "survey": "sector-voice",
             "numerator": "${sector_represented} = 'yes'"},
            {"key": "partners", "label": "Partners", "survey": "funder-satisfaction",
             "numerator": "${sector_represented} = 'yes'"},
        ],
        **change,
    }  # fmt: skip
    with pytest.raises(KpiDefinitionError) as caught:
        framework_from_data({"id": "x", "title": "X", "kpis": [kpi]})
    assert any(message in problem for problem in caught.value.problems), caught.value.problems
