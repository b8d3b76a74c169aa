"""Response rates by segment with their warnings, and providers side by side."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from analysis.comparisons import RateCell, response_rates, side_by_side
from analysis.conditions import FrameCache, evaluate_frame
from analysis.kpis import framework
from analysis.kpis.results import Cell, KpiResult
from analysis.kpis.targets import Status
from collector.survey.expr import parse
from tests.analysis.builders import invitation_counts, round_ref

ROUND = round_ref(7, "2026/27 H1")


def rates_for(by_type: dict[str, tuple[int, int]]) -> dict[str | None, RateCell]:
    """Response rates by type from (invited, responded) per type; the overall under None."""
    rows: list[tuple[int, str, str | None, int, int]] = [
        (7, "org_type", key, invited, responded) for key, (invited, responded) in by_type.items()
    ]
    rows.append((7, "all", None, sum(i for i, _ in by_type.values()),
                 sum(r for _, r in by_type.values())))
    rates = response_rates(invitation_counts(rows), ROUND)
    return {None: rates.overall, **{c.key: c for c in rates.segments["org_type"]}}


def test_a_group_far_below_the_rest_is_warned_about() -> None:
    cells = rates_for({"registered_charity": (30, 24), "community_group": (20, 16),
                       "faith_group": (20, 5)})
    assert (cells[None].invited, cells[None].responded) == (70, 45)
    # Faith groups 5/20 = 25% against 40/50 = 80% for the rest: 55 points below; with
    # Newcombe's interval at 98.3% (three groups tested) still wholly below zero.
    assert cells["faith_group"].warning
    assert cells["faith_group"].rate == 0.25
    assert not cells["registered_charity"].warning


def test_a_modest_gap_is_not_warned_about() -> None:
    # 14/20 = 70% against 64/80 = 80%: 10 points, less than the 20 that count as far below.
    cells = rates_for({"registered_charity": (80, 64), "faith_group": (20, 14)})
    assert not cells["faith_group"].warning


def test_a_large_gap_that_may_be_chance_is_not_warned_about() -> None:
    # 2/6 = 33% against 10/12 = 83%: 50 points, but with 6 and 12 groups it may be chance.
    cells = rates_for({"registered_charity": (12, 10), "faith_group": (6, 2)})
    assert not cells["faith_group"].warning


def test_response_rates_hide_small_groups_and_the_one_beside_them() -> None:
    cells = rates_for({"registered_charity": (30, 24), "community_group": (20, 9),
                       "faith_group": (20, 4)})
    faith = cells["faith_group"]
    assert faith.suppressed and (faith.invited, faith.responded, faith.rate) == (None,) * 3
    assert faith.warning  # 4/20 against 33/50: the warning is still given, with no figures
    assert cells["community_group"].suppressed
    assert cells["registered_charity"].responded == 24


def test_the_same_kpi_lines_up_across_providers() -> None:
    essex = framework("essex-2017")
    green = KpiResult(essex.kpi("ix"), Cell("All responses", n=30, numerator=25,
                                           proportion=25 / 30, status=Status.GREEN))
    view = side_by_side(essex, [("a-cvs", "A CVS", [green]), ("b-cvs", "B CVS", [])])
    assert view.providers == (("a-cvs", "A CVS"), ("b-cvs", "B CVS"))
    ids = [kpi.id for kpi, _ in view.rows]
    assert ids == [k.id for k in essex.kpis] and len(ids) == 27
    assert view.rows[ids.index("ix")][1] == (green, None)


@given(st.lists(st.sampled_from(["a b", "b", "", None, "c a", "a  c", "b\tc"]), min_size=1,
                max_size=20))
def test_a_shared_cache_gives_the_same_answers(values: list[str | None]) -> None:
    frame = pd.DataFrame({"q": pd.Series(values, dtype=object)})
    cache = FrameCache()
    for text in ("selected(${q}, 'a')", "selected(${q}, 'c')", "count-selected(${q}) > 1",
                 "${q} = 'b'", "selected(${q}, 'a') and not(selected(${q}, 'b'))"):
        node = parse(text)
        shared = evaluate_frame(node, frame, cache=cache)
        assert shared.tolist() == evaluate_frame(node, frame).tolist(), text
