"""Wilson and Newcombe intervals against published worked examples and an independent method."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.stats import change_verdict, newcombe, points, wilson, z_value

Z95 = 1.959963984540054


def score_interval_by_bisection(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """An independent Wilson interval: invert the score test numerically, from its definition.

    The Wilson interval is every p with |x/n - p| <= z * sqrt(p(1-p)/n). This finds the two
    ends by bisection on that inequality, sharing no formula with analysis.stats.
    """
    observed = successes / n

    def inside(p: float) -> bool:
        return abs(observed - p) <= z * math.sqrt(p * (1 - p) / n)

    def edge(outside: float, within: float) -> float:
        for _ in range(200):
            middle = (outside + within) / 2
            if inside(middle):
                within = middle
            else:
                outside = middle
        return within

    low = 0.0 if successes == 0 else edge(0.0, observed)
    high = 1.0 if successes == n else edge(1.0, observed)
    return low, high


def test_z_for_95_percent_is_1_96() -> None:
    assert z_value() == pytest.approx(Z95, abs=1e-12)


# Newcombe RG (1998a), "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score, no
# continuity correction), to 4 decimals.
@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998_table_one(
    successes: int, n: int, low: float, high: float
) -> None:
    interval = wilson(successes, n)
    assert interval.estimate == successes / n
    assert round(interval.low, 4) == low
    assert round(interval.high, 4) == high


def test_wilson_by_hand_for_three_out_of_four() -> None:
    # p = 0.75, n = 4, z^2 = 3.8415: centre = (0.75 + 3.8415/8) / (1 + 3.8415/4)
    # = 1.23018 / 1.96036 = 0.62753; half-width = 1.95996/1.96036 * sqrt(0.1875/4 + 3.8415/64)
    # = 0.99980 * sqrt(0.046875 + 0.060023) = 0.99980 * 0.32695 = 0.32689.
    interval = wilson(3, 4)
    assert interval.low == pytest.approx(0.62753 - 0.32689, abs=1e-4)  # 0.3006
    assert interval.high == pytest.approx(0.62753 + 0.32689, abs=1e-4)  # 0.9544


@pytest.mark.parametrize(("successes", "n"), [(0, 1), (1, 1), (3, 7), (50, 100), (99, 100),
                                               (1, 1000), (612, 613), (7, 10)])
def test_wilson_agrees_with_inverting_the_score_test(successes: int, n: int) -> None:
    low, high = score_interval_by_bisection(successes, n)
    interval = wilson(successes, n)
    assert interval.low == pytest.approx(low, abs=1e-9)
    assert interval.high == pytest.approx(high, abs=1e-9)


def test_wilson_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson(0, 0)
    with pytest.raises(ValueError):
        wilson(5, 4)
    with pytest.raises(ValueError):
        wilson(-1, 4)


@given(st.integers(min_value=1, max_value=10**7).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
))
def test_the_wilson_interval_always_contains_the_proportion(counts: tuple[int, int]) -> None:
    successes, n = counts
    interval = wilson(successes, n)
    assert 0.0 <= interval.low <= interval.estimate <= interval.high <= 1.0
    assert interval.contains(successes / n)


# Newcombe RG (1998b), "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Statistics in Medicine 17:873-890, Table II, method 10 (score
# interval without continuity correction).
@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0),
        (10, 10, 0, 10, 0.6075, 1.0),
    ],
)
def test_newcombe_matches_newcombe_1998_table_two(
    x1: int, n1: int, x2: int, n2: int, low: float, high: float
) -> None:
    change = newcombe(x1, n1, x2, n2)
    assert change.estimate == pytest.approx(x1 / n1 - x2 / n2)
    assert round(change.low, 4) == low
    assert round(change.high, 4) == high


@given(
    st.integers(min_value=1, max_value=5000).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    ),
    st.integers(min_value=1, max_value=5000).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    ),
)
def test_the_newcombe_interval_contains_the_difference(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    change = newcombe(*first, *second)
    assert -1.0 <= change.low <= change.estimate <= change.high <= 1.0


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "verdict"),
    [
        # 56/70 = 80% vs 48/80 = 60%: up 20 points, interval 5.2 to 33.4 points, all above 0.
        (56, 70, 48, 80, "up 20 points, more than chance"),
        (48, 80, 56, 70, "down 20 points, more than chance"),
        # 5/56 vs 0/29: up 8.9 points, but the interval (-3.8, 19.3) includes 0.
        (5, 56, 0, 29, "no clear change"),
    ],
)
def test_the_verdict_says_whether_a_change_is_more_than_chance(
    x1: int, n1: int, x2: int, n2: int, verdict: str
) -> None:
    assert change_verdict(newcombe(x1, n1, x2, n2)) == verdict


def test_points_are_said_plainly() -> None:
    assert points(0.08) == "8 points"
    assert points(-0.01) == "1 point"
    assert points(0.004) == "0.4 points"
    assert points(0.0) == "0 points"
