"""Statistics for survey proportions: Wilson score intervals and Newcombe's interval for a change.

Pure functions on counts; only the standard library (``math``, ``statistics.NormalDist``).

- The Wilson score interval (Wilson 1927; method 3 of Newcombe 1998, "Two-sided confidence
  intervals for the single proportion", Statistics in Medicine 17:857-872) is used for every
  proportion: unlike the textbook "p +/- 1.96 standard errors" it stays inside 0..1 and keeps
  close to its nominal coverage for the small samples a CVS survey gives.
- The difference of two independent proportions uses Newcombe's hybrid score interval (method
  10 of Newcombe 1998, "Interval estimation for the difference between independent
  proportions", Statistics in Medicine 17:873-890), built from the two Wilson intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "CONFIDENCE",
    "Interval",
    "change_verdict",
    "newcombe",
    "points",
    "whole_percent",
    "wilson",
    "z_value",
]

CONFIDENCE = 0.95


def z_value(confidence: float = CONFIDENCE) -> float:
    """Give the two-sided standard normal quantile for a confidence level (1.96 for 95%)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True, slots=True)
class Interval:
    """A confidence interval: its estimate and its lower and upper limits."""

    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Tell whether the interval includes a value."""
        return self.low <= value <= self.high


def _check_counts(successes: int, n: int) -> None:
    if n <= 0:
        raise ValueError(f"a proportion needs at least one observation, not n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, not {successes}")


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """Give the proportion successes/n with its Wilson score interval."""
    _check_counts(successes, n)
    z = z_value(confidence)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    # The limits are exact at the edges (0/n has lower limit 0, n/n upper limit 1); rounding
    # must never push them past the estimate or out of 0..1.
    low = 0.0 if successes == 0 else min(max(centre - half, 0.0), p)
    high = 1.0 if successes == n else max(min(centre + half, 1.0), p)
    return Interval(p, low, high)


def newcombe(
    successes1: int, n1: int, successes2: int, n2: int, confidence: float = CONFIDENCE
) -> Interval:
    """Give p1 - p2 for two independent samples with Newcombe's hybrid score interval."""
    first = wilson(successes1, n1, confidence)
    second = wilson(successes2, n2, confidence)
    d = first.estimate - second.estimate
    low = d - math.hypot(first.estimate - first.low, second.high - second.estimate)
    high = d + math.hypot(first.high - first.estimate, second.estimate - second.low)
    return Interval(d, max(min(low, d), -1.0), min(max(high, d), 1.0))


def whole_percent(value: float) -> int:
    """Round a proportion to a whole percentage, halves up (0.625 is 63), as spreadsheets do.

    The one rounding rule for every percentage and every difference in points that tempcheck
    shows: pages, PDF, workbook, charts, the terminal table, messages and the words about a
    change, so that no two of them disagree about a half.
    """
    return math.floor(value * 100 + 0.5)


def points(difference: float) -> str:
    """Say a difference of proportions in percentage points: '8 points', '1 point', '0.4 points'."""
    size = abs(difference) * 100
    whole = whole_percent(abs(difference))
    if whole == 0 and size > 0:
        text = f"{size:.1f}".rstrip("0").rstrip(".")
        return f"{text} points"
    return f"{whole} point" if whole == 1 else f"{whole} points"


def change_verdict(change: Interval) -> str:
    """Say in plain words whether a change is more than chance: 'up 8 points, more than chance'."""
    if change.low > 0:
        return f"up {points(change.estimate)}, more than chance"
    if change.high < 0:
        return f"down {points(change.estimate)}, more than chance"
    return "no clear change"
