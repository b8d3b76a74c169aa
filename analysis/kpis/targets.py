"""Targets and the RAG rule: how a KPI result is judged against its target.

The rule, as funders read it (also printed under every report):

- **green**: the result meets the target;
- **amber**: the result falls short of the target, but the target is inside the result's 95%
  confidence interval (the upper limit reaches it), so the shortfall may be chance;
- **red**: even the upper limit of the 95% interval is below the target;
- **not enough data**: fewer responses than the framework's minimum (10 unless it says
  otherwise); the figures are shown but not judged;
- **suppressed**: fewer than 5 responses; nothing about the group is shown.

Percentage targets are stored as exact fractions ("75%" and 0.75 are the same target) and a
result meets one when numerator >= target x n, compared exactly, so 75 out of 100 meets 75%.
"Majority" means strictly more than half: exactly 50% is not a majority, so it can be amber
(its interval reaches above one half) but never green. Counts (KPI x) have no interval: green
at or above the target, red below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from analysis.stats import Interval, wilson

__all__ = ["DEFAULT_MIN_N", "RAG_RULE", "Status", "Target", "TargetError", "TargetRule", "rag"]

DEFAULT_MIN_N = 10

RAG_RULE = (
    "Green: meets the target. Amber: below the target, but the target is within the 95% "
    "confidence interval, so the shortfall may be chance. Red: even the upper end of the 95% "
    "interval is below the target. Not enough data: fewer than {min_n} responses (figures shown, "
    'not judged). Suppressed: fewer than 5 responses, nothing shown. "Majority" means more than '
    "half; exactly 50% is not a majority. Counts are green at or above the target, red below."
)


class Status(StrEnum):
    """Where a result stands against its target."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NOT_ENOUGH_DATA = "not enough data"
    SUPPRESSED = "suppressed"
    NO_DATA = "no data"
    NO_TARGET = "no target"
    # Nothing recorded for the period (activity, evidence, milestone): counts against ii.
    NOT_REPORTED = "not reported"

    @property
    def judged(self) -> bool:
        """Tell whether this is a RAG verdict (green, amber or red)."""
        return self in (Status.GREEN, Status.AMBER, Status.RED)


class TargetRule(StrEnum):
    """The kinds of target a KPI can have."""

    AT_LEAST = "at_least"  # a share or count at or above a value
    MORE_THAN = "more_than"  # a share strictly above a value ("majority": more than half)
    INCREASE = "increase"  # a rise since the previous round (Essex b)
    STATED = "stated"  # a target in words, judged by staff on evidence or by a milestone's dates
    NONE = "none"  # reported without a target


class TargetError(ValueError):
    """A target written in a way that cannot be understood."""


_PERCENT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*")


@dataclass(frozen=True)
class Target:
    """A KPI's target: its rule and, for shares and counts, its value."""

    rule: TargetRule
    value: Fraction | None = None
    is_count: bool = False
    is_amount: bool = False  # a count of pounds
    # Words after the figure: "a year" for an annual target; for a record-based KPI's result,
    # how its period's target was worked out ("(3,327 a year, pro rata)").
    basis: str = ""

    @classmethod
    def parse(cls, raw: object, *, count: bool = False) -> Target:
        """Read a target as written in a KPI file: '75%', 0.75, 'majority', 50, 'increase'."""
        if raw is None or raw == "none":
            return cls(TargetRule.NONE)
        if raw == "increase":
            return cls(TargetRule.INCREASE)
        if raw == "stated":
            return cls(TargetRule.STATED)
        if count:
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                raise TargetError(f"a count's target must be a whole number, not {raw!r}")
            return cls(TargetRule.AT_LEAST, Fraction(raw), is_count=True)
        if raw == "majority":
            return cls(TargetRule.MORE_THAN, Fraction(1, 2))
        if isinstance(raw, str):
            match = _PERCENT.fullmatch(raw)
            if match is None:
                raise TargetError(
                    f"cannot read the target {raw!r}: write a percentage like '75%', a fraction "
                    "like 0.75, 'majority', 'increase' or 'none'"
                )
            value = Fraction(match.group(1)) / 100
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            value = Fraction(str(raw))
        else:
            raise TargetError(f"cannot read the target {raw!r}")
        if not 0 <= value <= 1:
            raise TargetError(
                f"a share's target must be between 0 and 1 (or 0% and 100%), not {raw!r}; "
                "write 75% as '75%' or 0.75"
            )
        return cls(TargetRule.AT_LEAST, value)

    @property
    def numeric(self) -> bool:
        """Tell whether results can be judged against a value (shares and counts)."""
        return self.rule in (TargetRule.AT_LEAST, TargetRule.MORE_THAN)

    def met(self, numerator: int, n: int = 1) -> bool:
        """Tell, exactly, whether numerator/n (or a count, with n=1) meets the target."""
        if self.value is None:
            raise ValueError(f"a target of kind {self.rule} has no value to meet")
        if self.rule is TargetRule.MORE_THAN:
            return numerator > self.value * n
        return numerator >= self.value * n

    def reached_by(self, bound: float) -> bool:
        """Tell whether a proportion (an interval's upper limit) reaches the target."""
        if self.value is None:
            raise ValueError(f"a target of kind {self.rule} has no value to reach")
        if self.rule is TargetRule.MORE_THAN:
            return bound > self.value
        return bound >= self.value

    def __str__(self) -> str:
        text = self._text()
        return f"{text} {self.basis}" if self.basis else text

    def _text(self) -> str:
        if self.rule is TargetRule.NONE:
            return "none"
        if self.rule is TargetRule.INCREASE:
            return "increase"
        if self.rule is TargetRule.STATED:
            return "as stated"
        assert self.value is not None
        if self.is_amount:
            return f"≥ £{int(-(-self.value // 1)):,}"
        if self.is_count:
            if self.value.denominator == 1:
                return f"≥ {int(self.value):,}"
            return f"≥ {float(self.value):,.1f}"
        percent = _percent_text(self.value)
        if self.rule is TargetRule.MORE_THAN:
            return "> 50% (majority)" if self.value == Fraction(1, 2) else f"> {percent}"
        return f"≥ {percent}"

    def to_json(self) -> dict[str, object]:
        """Give the target as plain data."""
        value: float | None = None if self.value is None else float(self.value)
        return {
            "rule": str(self.rule),
            "value": value,
            "text": str(self),
            "count": self.is_count,
            "amount": self.is_amount,
            "basis": self.basis or None,
        }


def _percent_text(value: Fraction) -> str:
    percent = value * 100
    if percent.denominator == 1:
        return f"{percent.numerator}%"
    return f"{float(percent):g}%"


def rag(numerator: int, n: int, target: Target, min_n: int = DEFAULT_MIN_N) -> Status:
    """Judge numerator/n against a target by the RAG rule (see the module docstring)."""
    if n < min_n:
        return Status.NOT_ENOUGH_DATA
    if not target.numeric:
        return Status.NO_TARGET
    if target.met(numerator, n):
        return Status.GREEN
    interval: Interval = wilson(numerator, n)
    return Status.AMBER if target.reached_by(interval.high) else Status.RED


def rag_count(count: int, target: Target) -> Status:
    """Judge a count against its target: green at or above it, red below (no interval)."""
    if not target.numeric:
        return Status.NO_TARGET
    return Status.GREEN if target.met(count) else Status.RED
