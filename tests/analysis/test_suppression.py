"""Small cells are hidden, and so is the smallest cell beside a lone hidden one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from analysis.kpis.results import OVERALL, count_cell, proportion_cell
from analysis.kpis.targets import Status, Target
from analysis.suppression import SUPPRESS_BELOW, cells_to_hide

TARGET = Target.parse("75%")


def test_a_cell_of_4_is_hidden_and_a_cell_of_5_is_shown() -> None:
    hidden = proportion_cell(3, 4, TARGET)
    assert hidden.status is Status.SUPPRESSED
    assert (hidden.n, hidden.numerator, hidden.proportion, hidden.low, hidden.high) == (
        None, None, None, None, None,
    )
    assert hidden.label == OVERALL and "fewer than 5" in hidden.note
    shown = proportion_cell(4, 5, TARGET)
    assert (shown.n, shown.numerator, shown.proportion) == (5, 4, 0.8)
    # 5 responses are shown but too few to judge (fewer than 10).
    assert shown.status is Status.NOT_ENOUGH_DATA


def test_a_count_under_5_is_hidden() -> None:
    fifty = Target.parse(50, count=True)
    assert count_cell(4, fifty).status is Status.SUPPRESSED and count_cell(4, fifty).count is None
    assert count_cell(5, fifty).count == 5 and count_cell(5, fifty).status is Status.RED


def test_nothing_is_hidden_when_every_cell_has_5_or_more() -> None:
    assert cells_to_hide({"a": 5, "b": 12, "c": 30}) == (set(), set())


def test_a_lone_small_cell_takes_the_next_smallest_with_it() -> None:
    # Total 44 is shown: with only "a" hidden, 44 - 12 - 30 = 2 would give it away.
    primary, secondary = cells_to_hide({"a": 2, "b": 12, "c": 30})
    assert primary == {"a"} and secondary == {"b"}


def test_two_small_cells_that_together_hold_fewer_than_5_take_another() -> None:
    # 1 + 2 = 3 hidden responses would still be a small group worked out by subtraction.
    primary, secondary = cells_to_hide({"a": 1, "b": 2, "c": 6, "d": 40})
    assert primary == {"a", "b"} and secondary == {"c"}


def test_two_small_cells_holding_5_or_more_together_are_enough() -> None:
    primary, secondary = cells_to_hide({"a": 3, "b": 4, "c": 6, "d": 40})
    assert primary == {"a", "b"} and secondary == set()


def test_overlapping_groups_get_primary_suppression_only() -> None:
    assert cells_to_hide({"a": 2, "b": 12, "c": 30}, adds_up=False) == ({"a"}, set())


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 60), max_size=8))
def test_hidden_cells_can_never_be_worked_out_from_the_total(counts: dict[str, int]) -> None:
    primary, secondary = cells_to_hide(counts)
    hidden = primary | secondary
    assert {k for k, n in counts.items() if n < SUPPRESS_BELOW} <= hidden
    if hidden and len(hidden) < len(counts):
        # What subtraction reveals is the hidden cells' total: at least 5, over at least 2.
        assert len(hidden) >= 2
        assert sum(counts[k] for k in hidden) >= SUPPRESS_BELOW
