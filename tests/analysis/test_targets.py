"""Targets and the RAG rule, at their boundaries (Wilson limits worked by hand, z^2 = 3.8415)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from analysis.kpis.targets import Status, Target, TargetError, TargetRule, rag, rag_count

AT_LEAST_75 = Target.parse("75%")
MAJORITY = Target.parse("majority")


def test_percentages_and_fractions_are_the_same_exact_target() -> None:
    assert Target.parse("75%") == Target.parse(0.75) == Target(TargetRule.AT_LEAST, Fraction(3, 4))
    assert Target.parse("80 %").value == Fraction(4, 5)
    assert Target.parse("majority") == Target(TargetRule.MORE_THAN, Fraction(1, 2))
    assert Target.parse(50, count=True) == Target(TargetRule.AT_LEAST, Fraction(50), is_count=True)
    assert Target.parse("increase").rule is TargetRule.INCREASE
    assert Target.parse(None).rule is TargetRule.NONE
    assert str(AT_LEAST_75) == "≥ 75%" and str(MAJORITY) == "> 50% (majority)"


@pytest.mark.parametrize(
    ("raw", "count", "message"),
    [
        (75, False, "between 0 and 1"),
        ("lots", False, "cannot read the target"),
        ("75", False, "cannot read the target"),
        (12.5, True, "whole number"),
        (-3, True, "whole number"),
    ],
)
def test_a_target_that_cannot_be_read_says_why(raw: object, count: bool, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        Target.parse(raw, count=count)


@pytest.mark.parametrize(
    ("numerator", "n", "status"),
    [
        # 15/20 is exactly 75%: met (compared exactly, not in floating point).
        (15, 20, Status.GREEN),
        # 14/20 = 70%: centre (0.7 + 0.0960)/1.1921 = 0.6678, half-width
        # 1.6442 * sqrt(0.0105 + 0.0024) = 0.1867, upper 0.8545 >= 0.75: amber.
        (14, 20, Status.AMBER),
        # 12/20 = 60%: centre 0.5839, half-width 1.6442 * sqrt(0.012 + 0.0024) = 0.1973,
        # upper 0.7812 >= 0.75: still amber.
        (12, 20, Status.AMBER),
        # 11/20 = 55%: centre 0.5419, half-width 1.6442 * sqrt(0.012375 + 0.0024) = 0.1999,
        # upper 0.7418 < 0.75: red.
        (11, 20, Status.RED),
        # 10/20 = 50%: centre 0.5, half-width 0.2007, upper 0.7007 < 0.75: red.
        (10, 20, Status.RED),
        # Fewer than 10 responses: figures shown, not judged, however good.
        (9, 9, Status.NOT_ENOUGH_DATA),
        (10, 10, Status.GREEN),
    ],
)
def test_rag_against_at_least_75_percent(numerator: int, n: int, status: Status) -> None:
    assert rag(numerator, n, AT_LEAST_75) is status


@pytest.mark.parametrize(
    ("numerator", "n", "status"),
    [
        (11, 20, Status.GREEN),  # 55% is more than half
        # Exactly half is not a majority; its upper limit 0.7007 is above one half: amber.
        (10, 20, Status.AMBER),
        # 3/20 = 15%: centre (0.15 + 0.0960)/1.1921 = 0.2064, half-width
        # 1.6442 * sqrt(0.006375 + 0.0024) = 0.1540, upper 0.3604 < 0.5: red.
        (3, 20, Status.RED),
    ],
)
def test_rag_against_a_majority(numerator: int, n: int, status: Status) -> None:
    assert rag(numerator, n, MAJORITY) is status


def test_reaching_the_target_exactly_with_the_upper_limit() -> None:
    # "At least": an upper limit equal to the target reaches it; "more than" needs to pass it.
    assert AT_LEAST_75.reached_by(0.75)
    assert not MAJORITY.reached_by(0.5)
    assert MAJORITY.reached_by(0.5000001)


def test_the_minimum_n_is_the_framework_s_to_choose() -> None:
    assert rag(19, 20, AT_LEAST_75, min_n=30) is Status.NOT_ENOUGH_DATA


def test_counts_are_green_at_or_above_the_target_and_red_below() -> None:
    fifty = Target.parse(50, count=True)
    assert rag_count(50, fifty) is Status.GREEN
    assert rag_count(49, fifty) is Status.RED
    assert rag_count(49, Target.parse(None, count=True)) is Status.NO_TARGET


def test_a_share_without_a_target_is_reported_but_not_judged() -> None:
    assert rag(3, 20, Target.parse("none")) is Status.NO_TARGET
