"""Ground truth: small data sets whose KPI figures were worked out by hand (z^2 = 3.8415)."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.kpis import Status, framework
from analysis.kpis.evaluation import (
    evaluate_awareness,
    evaluate_count,
    evaluate_proportion,
    evaluate_targets_met,
)
from analysis.kpis.results import Cell, KpiResult
from analysis.suppression import SECONDARY_NOTE, SUPPRESSED_NOTE
from collector.survey.loader import library_survey
from tests.analysis.builders import response_frame, round_ref

ESSEX = framework("essex-2017")
IX, B, X, II = (ESSEX.kpi(k) for k in ("ix", "b", "x", "ii"))
CVS_SUPPORT = library_survey("cvs-support")
PREVIOUS, CURRENT = round_ref(1, "2025/26 H1"), round_ref(2, "2025/26 H2", months=6)

GOOD = {"ease_of_access": "easy", "satisfaction": "very_satisfied"}
EASY_NOT_SATISFIED = {"ease_of_access": "very_easy", "satisfaction": "neither"}
NO_SUPPORT = {"used_support": "no"}


def supported(org: int, round_id: int, answers: dict[str, str], **segments: Any) -> dict[str, Any]:
    """A response from a group that had support."""
    return {"round": round_id, "org": org, "used_support": "yes", **answers, **segments}


def ix_rows() -> list[dict[str, Any]]:
    """The ix data set.

    Current round (2): 20 supported groups, organisations 1-20, and 4 with no support (21-24).
    Positive on both questions: 1-9, 11-14 and 17-19 (16 of 20).
      registered charities 1-10: 9 of 10;  community groups 11-16: 4 of 6;
      faith groups 17-20: 3 of 4;  income under £10k 1-5: 5 of 5;  £10k-£100k 6-20: 11 of 15.
    Previous round (1): 24 supported groups, organisations 11-34, positive 11-22 (12 of 24).
    """
    rows = []
    positive = {*range(1, 10), *range(11, 15), *range(17, 20)}
    for org in range(1, 21):
        org_type = ("registered_charity" if org <= 10 else
                    "community_group" if org <= 16 else "faith_group")
        rows.append(
            supported(org, 2, GOOD if org in positive else EASY_NOT_SATISFIED,
                      org_type=org_type, income_band="under_10k" if org <= 5 else "10k_100k",
                      outcomes="good_lives step_down" if org % 2 else "good_lives")
        )
    rows += [{"round": 2, "org": org, **NO_SUPPORT, "org_type": "other"} for org in range(21, 25)]
    rows += [supported(org, 1, GOOD if org <= 22 else EASY_NOT_SATISFIED)
             for org in range(11, 35)]
    return rows


@pytest.fixture
def ix_frame() -> Any:
    return response_frame(ix_rows(), CVS_SUPPORT)


def test_ix_counts_only_groups_that_answered_both_questions(ix_frame: Any) -> None:
    result = evaluate_proportion(IX, ix_frame, CURRENT, PREVIOUS)
    overall = result.overall
    # 16 of the 20 groups that answered both questions; the 4 without support are not counted.
    assert (overall.numerator, overall.n) == (16, 20)
    assert overall.proportion == 0.8
    # Wilson 16/20: centre (0.8 + 3.8415/40) / (1 + 3.8415/20) = 0.89604 / 1.19207 = 0.75167;
    # half-width 1.95996/1.19207 * sqrt(0.16/20 + 3.8415/1600) = 1.64416 * 0.101985 = 0.16768.
    assert overall.low == pytest.approx(0.75167 - 0.16768, abs=1e-4)  # 0.5840
    assert overall.high == pytest.approx(0.75167 + 0.16768, abs=1e-4)  # 0.9193
    assert overall.status is Status.GREEN  # 80% >= 75%


def test_ix_change_since_the_previous_round(ix_frame: Any) -> None:
    change = evaluate_proportion(IX, ix_frame, CURRENT, PREVIOUS).change
    assert change is not None and change.previous_round == PREVIOUS
    assert (change.previous.numerator, change.previous.n) == (12, 24)
    # 80% - 50% = +30 points. Wilson 12/24: centre 0.5, half-width
    # 1.95996/1.16007 * sqrt(0.25/24 + 3.8415/2304) = 1.68952 * 0.109928 = 0.18573,
    # so (0.31427, 0.68573). Newcombe: lower = 0.30 - sqrt((0.8 - 0.5840)^2 + (0.68573 - 0.5)^2)
    # = 0.30 - sqrt(0.046656 + 0.034496) = 0.30 - 0.28487 = 0.01513;
    # upper = 0.30 + sqrt((0.9193 - 0.8)^2 + (0.5 - 0.31427)^2) = 0.30 + 0.22074 = 0.52074.
    assert change.difference == pytest.approx(0.30)
    assert change.low == pytest.approx(0.01513, abs=2e-4)
    assert change.high == pytest.approx(0.52074, abs=2e-4)
    assert change.verdict == "up 30 points, more than chance"


def test_no_clear_change_when_the_interval_spans_zero(ix_frame: Any) -> None:
    # Compare the current round with itself shifted: the previous round has 15/20 (75%) now.
    rows = [r for r in ix_rows() if r["round"] == 2]
    rows += [supported(100 + n, 1, GOOD if n < 15 else EASY_NOT_SATISFIED) for n in range(20)]
    change = evaluate_proportion(IX, response_frame(rows, CVS_SUPPORT), CURRENT, PREVIOUS).change
    assert change is not None and change.difference == pytest.approx(0.05)
    assert change.low is not None and change.low < 0 < (change.high or 0)
    assert change.verdict == "no clear change"


def test_a_change_needs_enough_data_in_both_rounds(ix_frame: Any) -> None:
    rows = [r for r in ix_rows() if r["round"] == 2]
    rows += [supported(100 + n, 1, GOOD) for n in range(9)]  # 9 < 10 in the previous round
    change = evaluate_proportion(IX, response_frame(rows, CVS_SUPPORT), CURRENT, PREVIOUS).change
    assert change is not None and change.difference is None
    assert change.verdict == "not enough data to compare"
    assert change.previous.n == 9 and change.previous.status is Status.NOT_ENOUGH_DATA


def _cells(result: KpiResult, segment: str) -> dict[str | None, Cell]:
    return {cell.key: cell for cell in result.breakdowns[segment]}


def test_breakdown_hides_4_shows_5_and_hides_the_next_smallest_beside_a_lone_hidden_cell(
    ix_frame: Any,
) -> None:
    result = evaluate_proportion(IX, ix_frame, CURRENT, PREVIOUS,
                                 segments=["org_type", "income_band"])
    by_type = _cells(result, "org_type")
    assert list(by_type) == ["registered_charity", "community_group", "faith_group"]
    charity = by_type["registered_charity"]
    assert (charity.numerator, charity.n, charity.status) == (9, 10, Status.GREEN)
    # Faith groups: 4 responses, hidden. Community groups (6) are hidden too, or 20 - 10 - 6
    # would give the faith groups' 4 away.
    assert by_type["faith_group"].suppressed and by_type["faith_group"].note == SUPPRESSED_NOTE
    assert by_type["community_group"].suppressed
    assert by_type["community_group"].note == SECONDARY_NOTE
    for cell in (by_type["faith_group"], by_type["community_group"]):
        assert (cell.n, cell.numerator, cell.proportion, cell.low, cell.high) == (None,) * 5
    by_band = _cells(result, "income_band")
    # Under £10k: 5 responses, all positive: shown (5 is not fewer than 5), not judged (< 10).
    under = by_band["under_10k"]
    assert (under.numerator, under.n, under.status) == (5, 5, Status.NOT_ENOUGH_DATA)
    # £10k-£100k: 11/15 = 73.3%: centre (0.7333 + 0.1281)/1.2561 = 0.6858, half-width
    # 1.5604 * sqrt(0.013037 + 0.004268) = 0.2053, upper 0.8911 >= 0.75: amber.
    middle = by_band["10k_100k"]
    assert (middle.numerator, middle.n, middle.status) == (11, 15, Status.AMBER)
    assert middle.high == pytest.approx(0.8911, abs=1e-3)


def test_outcome_areas_overlap_so_each_group_counts_in_each_of_its_areas(ix_frame: Any) -> None:
    result = evaluate_proportion(IX, ix_frame, CURRENT, PREVIOUS, segments=["outcomes"])
    by_outcome = _cells(result, "outcomes")
    # All 20 work on Good Lives (16 positive); the odd ones 1, 3, ..., 19 also on step-down,
    # of which 1, 3, 5, 7, 9, 11, 13, 17, 19 are positive: 9 of 10.
    assert (by_outcome["good_lives"].numerator, by_outcome["good_lives"].n) == (16, 20)
    assert (by_outcome["step_down"].numerator, by_outcome["step_down"].n) == (9, 10)


def test_required_breakdowns_are_always_computed() -> None:
    val20 = framework("leicestershire-val").kpi("VAL 20")
    result = evaluate_proportion(val20, response_frame(ix_rows(), CVS_SUPPORT), CURRENT)
    assert list(result.breakdowns) == ["org_type"]
    # VAL 20 is ease alone: all 20 found it easy (EASY_NOT_SATISFIED is very easy too).
    assert (result.overall.numerator, result.overall.n) == (20, 20)


def test_x_counts_different_supported_organisations_over_the_year() -> None:
    rows = ix_rows()
    rows.append({"round": 1, "org": None, "used_support": "yes", **GOOD})  # open link: no org
    rows.append({"round": 1, "org": 40, **NO_SUPPORT})  # answered, but had no support
    frame = response_frame(rows, CVS_SUPPORT)
    both = evaluate_count(X, frame, CURRENT, [PREVIOUS, CURRENT])
    # Supported organisations: 1-20 now and 11-34 before, so 1-34: 34 different, under 50.
    assert both.overall.count == 34 and both.overall.status is Status.RED
    assert evaluate_count(X, frame, CURRENT, [CURRENT]).overall.count == 20


def test_x_is_green_at_the_target() -> None:
    rows = [supported(org, 2, GOOD) for org in range(1, 51)]
    result = evaluate_count(X, response_frame(rows, CVS_SUPPORT), CURRENT, [CURRENT])
    assert (result.overall.count, result.overall.status) == (50, Status.GREEN)


def awareness_rows() -> list[dict[str, Any]]:
    """The b data set: 20 respondents in each round.

    Good Lives: aware 4 of 20 before, 14 of 20 now. Weight management: 10 of 20 in both.
    No other outcome. Now, 16 of 20 had support, and 8 of those say the CVS raised their
    awareness of Good Lives.
    """
    rows = []
    for n in range(20):
        aware = [o for o, hit in (("weight_management", n < 10), ("good_lives", n < 14)) if hit]
        rows.append({
            "round": 2, "org": n + 1,
            "used_support": "yes" if n < 16 else "no",
            "aware_outcomes": " ".join(aware) or "none",
            "awareness_raised": ("good_lives" if n < 8 else "none") if n < 16 and aware else None,
        })
    for n in range(20):
        aware = [o for o, hit in (("weight_management", n < 10), ("good_lives", n >= 16)) if hit]
        rows.append({"round": 1, "org": n + 1, "used_support": "no",
                     "aware_outcomes": " ".join(aware) or "none"})
    return rows


def test_awareness_per_outcome_now_against_before_and_raised_by_the_cvs() -> None:
    frame = response_frame(awareness_rows(), CVS_SUPPORT)
    result = evaluate_awareness(B, frame, CVS_SUPPORT, CURRENT, PREVIOUS)
    outcomes = {o.value: o for o in result.outcomes}
    assert list(outcomes) == ["weight_management", "pre_birth_to_19", "healthy_lifestyles",
                              "winter_preparedness", "good_lives", "step_down",
                              "emergency_planning"]
    good = outcomes["good_lives"]
    assert (good.aware.numerator, good.aware.n) == (14, 20)
    assert good.change is not None and good.change.previous.numerator == 4
    assert good.change.verdict == "up 50 points, more than chance"
    assert good.status is Status.GREEN
    # Raised: out of the 16 that had support, 8 chose Good Lives.
    assert (good.raised.numerator, good.raised.n) == (8, 16)
    weight = outcomes["weight_management"]
    assert (weight.aware.numerator, weight.aware.n) == (10, 20)
    assert weight.change is not None and weight.change.verdict == "no clear change"
    assert weight.raised.numerator == 0
    # Allowing for 7 outcomes (each at 99.29%, z = 2.69): Good Lives 14/20 has lower limit
    # 0.4048 and 4/20 upper limit 0.5007, so the change's lower limit is
    # 0.5 - sqrt(0.2952^2 + 0.3007^2) = 0.0786 > 0: clearly up; nothing clearly down.
    assert result.overall.status is Status.GREEN
    assert "clearly rose for 1 and clearly fell for 0" in result.overall.note
    assert result.overall.n == 20


def test_awareness_without_a_previous_round_is_not_judged() -> None:
    frame = response_frame(awareness_rows(), CVS_SUPPORT)
    result = evaluate_awareness(B, frame, CVS_SUPPORT, CURRENT, None)
    assert result.overall.status is Status.NOT_ENOUGH_DATA
    assert all(o.change is None for o in result.outcomes)


def _result(kpi_id: str, status: Status) -> KpiResult:
    return KpiResult(ESSEX.kpi(kpi_id), Cell("All responses", status=status))


@pytest.mark.parametrize(
    ("statuses", "expected", "share"),
    [
        # 2 of 3 judged KPIs green = 66.7% < 80%: red.
        ((Status.GREEN, Status.GREEN, Status.RED), Status.RED, 2 / 3),
        # "Not enough data" is not judged: 2 of 2 = 100%: green.
        ((Status.GREEN, Status.GREEN, Status.NOT_ENOUGH_DATA), Status.GREEN, 1.0),
        # Amber is a target not met: 2 of 3.
        ((Status.GREEN, Status.AMBER, Status.GREEN), Status.RED, 2 / 3),
    ],
)
def test_ii_is_the_share_of_judged_targets_met(
    statuses: tuple[Status, ...], expected: Status, share: float
) -> None:
    results = [_result(k, s) for k, s in zip(("ix", "b", "x"), statuses, strict=True)]
    ii = evaluate_targets_met(II, results)
    assert ii.overall.status is expected
    assert ii.overall.proportion == pytest.approx(share)


def test_ii_at_exactly_80_percent_is_met() -> None:
    # 4 of 5 = 80%: met exactly (the ix, b and x KPIs, twice over, less one).
    results = [_result(k, s) for k, s in (("ix", Status.GREEN), ("b", Status.GREEN),
                                           ("x", Status.GREEN), ("ix", Status.GREEN),
                                           ("b", Status.RED))]
    ii = evaluate_targets_met(II, results)
    assert (ii.overall.numerator, ii.overall.n, ii.overall.status) == (4, 5, Status.GREEN)


def test_ii_with_nothing_judged_has_not_enough_data() -> None:
    results = [_result("ix", Status.NOT_ENOUGH_DATA), _result("x", Status.SUPPRESSED)]
    assert evaluate_targets_met(II, results).overall.status is Status.NOT_ENOUGH_DATA
