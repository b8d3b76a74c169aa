"""Comparisons: the change since the previous round, response rates by segment, providers side
by side (the compute layer: pure functions, no I/O).

- **Change since the previous round** of the same survey and provider: the difference of the two
  proportions with Newcombe's 95% interval, and a verdict in plain words: "up 8 points, more
  than chance" when the whole interval is above zero, "down 3 points, more than chance" when it
  is below, "no clear change" otherwise. Both rounds need the framework's minimum number of
  responses (10 by default), else "not enough data to compare".
- **Response rates** by segment (type, income band, district, outcome area, membership), from
  the invitations of a round. A segment gets a warning when its response rate is at least 20
  points below the rest of the round's and Newcombe's interval for the gap is wholly below zero
  (so it is more than chance; the interval is Bonferroni-adjusted for the number of groups
  tested, so that the segment as a whole has a 95% level): its results may not speak for it.
- **Providers side by side**: the same KPI, with the same definition, for each provider of a
  framework, the unified and comparable view the Leicestershire review asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.frames import INVITED, KEY, MULTI_VALUED_SEGMENTS, RESPONDED, ROUND, SEGMENT
from analysis.kpis.definitions import Framework, Kpi
from analysis.kpis.results import Cell, Change, KpiResult, RoundRef
from analysis.kpis.targets import DEFAULT_MIN_N
from analysis.segments import order_keys, value_label
from analysis.stats import CONFIDENCE, change_verdict, newcombe
from analysis.suppression import SECONDARY_NOTE, SUPPRESSED_NOTE, cells_to_hide, is_small

__all__ = [
    "FAR_BELOW",
    "RATE_SEGMENTS",
    "RateCell",
    "ResponseRates",
    "SideBySide",
    "measure_change",
    "response_rates",
    "side_by_side",
]

# How far below the rest a segment's response rate must be to warn (with more than chance).
FAR_BELOW = 0.20
RATE_SEGMENTS = ("org_type", "income_band", "district", "outcomes", "is_member")


def measure_change(
    now: tuple[int, int],
    before: tuple[int, int],
    previous_round: RoundRef,
    previous: Cell,
    min_n: int = DEFAULT_MIN_N,
) -> Change:
    """Compare (numerator, n) now with the previous round's, if both have enough data."""
    (x1, n1), (x2, n2) = now, before
    if n1 < min_n or n2 < min_n:
        return Change(previous_round, previous)
    interval = newcombe(x1, n1, x2, n2)
    return Change(
        previous_round,
        previous,
        difference=interval.estimate,
        low=interval.low,
        high=interval.high,
        verdict=change_verdict(interval),
    )


# --- response rates ------------------------------------------------------------------------


@dataclass(frozen=True)
class RateCell:
    """Invitations and completed responses for one group of a round."""

    label: str
    key: str | None = None
    invited: int | None = None
    responded: int | None = None
    rate: float | None = None
    suppressed: bool = False
    note: str = ""
    warning: str = ""

    def to_json(self) -> dict[str, Any]:
        """Give the cell as plain data."""
        return {
            "label": self.label,
            "key": self.key,
            "invited": self.invited,
            "responded": self.responded,
            "rate": self.rate,
            "suppressed": self.suppressed,
            "note": self.note,
            "warning": self.warning or None,
        }


@dataclass(frozen=True)
class ResponseRates:
    """A round's response rate, overall and by segment, with warnings."""

    round: RoundRef
    overall: RateCell
    segments: dict[str, tuple[RateCell, ...]] = field(default_factory=dict)

    @property
    def warnings(self) -> list[tuple[str, RateCell]]:
        """Give the (segment, cell) pairs whose response rate is far below the rest."""
        return [(s, c) for s, cells in self.segments.items() for c in cells if c.warning]

    def to_json(self) -> dict[str, Any]:
        """Give the response rates as plain data."""
        return {
            "round": self.round.to_json(),
            "overall": self.overall.to_json(),
            "segments": {s: [c.to_json() for c in cells] for s, cells in self.segments.items()},
        }


def _rate_cell(label: str, key: str | None, invited: int, responded: int) -> RateCell:
    if is_small(responded):
        return RateCell(label, key, suppressed=True, note=SUPPRESSED_NOTE)
    return RateCell(label, key, invited, responded, responded / invited)


def response_rates(counts: pd.DataFrame, round_: RoundRef) -> ResponseRates:
    """Give a round's response rates by segment from its invitation counts (frames)."""
    mine = counts[counts[ROUND] == round_.id]
    overall = mine[mine[SEGMENT] == "all"]
    invited, responded = int(overall[INVITED].sum()), int(overall[RESPONDED].sum())
    if invited == 0:
        return ResponseRates(round_, RateCell("All invited", note="no invitations"))
    segments: dict[str, tuple[RateCell, ...]] = {}
    for segment in RATE_SEGMENTS:
        rows = mine[mine[SEGMENT] == segment]
        totals: dict[str | None, tuple[int, int]] = {
            None if pd.isna(key) else str(key): (int(i), int(r))
            for key, i, r in zip(rows[KEY], rows[INVITED], rows[RESPONDED], strict=True)
        }
        if not any(key is not None for key in totals):
            continue  # nothing recorded (a volunteers' round has no types of organisation)
        ordered = order_keys(segment, list(totals))
        primary, secondary = cells_to_hide(
            {key: totals[key][1] for key in ordered},
            adds_up=segment not in MULTI_VALUED_SEGMENTS,
        )
        cells: list[RateCell] = []
        for key in ordered:
            label = value_label(segment, key)
            k_invited, k_responded = totals[key]
            warning = _far_below(
                k_invited,
                k_responded,
                invited - k_invited,
                responded - k_responded,
                comparisons=len(totals),
            )
            if key in primary or key in secondary:
                note = SUPPRESSED_NOTE if key in primary else SECONDARY_NOTE
                cells.append(RateCell(label, key, suppressed=True, note=note, warning=warning))
            else:
                cell = _rate_cell(label, key, k_invited, k_responded)
                cells.append(RateCell(**{**cell.__dict__, "warning": warning}))
        segments[segment] = tuple(cells)
    return ResponseRates(round_, _rate_cell("All invited", None, invited, responded), segments)


def _far_below(
    invited: int, responded: int, rest_invited: int, rest_responded: int, comparisons: int
) -> str:
    """Say why a group's response rate is far below the rest's, or give ''.

    Every group of a segment is tested, so each test is at the Bonferroni-adjusted level (95%
    for the segment as a whole), or chance alone would flag a group in most rounds.
    """
    if is_small(invited) or is_small(rest_invited):
        return ""
    confidence = 1 - (1 - CONFIDENCE) / max(comparisons, 1)
    gap = newcombe(responded, invited, rest_responded, rest_invited, confidence)
    if gap.estimate <= -FAR_BELOW and gap.high < 0:
        return "response rate far below the rest of the round: its results may not speak for it"
    return ""


# --- providers side by side ----------------------------------------------------------------


@dataclass(frozen=True)
class SideBySide:
    """One framework's KPIs (rows) for several providers (columns)."""

    framework: Framework
    providers: tuple[tuple[str, str], ...]  # (slug, name)
    rows: tuple[tuple[Kpi, tuple[KpiResult | None, ...]], ...]


def side_by_side(
    framework: Framework, columns: Sequence[tuple[str, str, Sequence[KpiResult]]]
) -> SideBySide:
    """Line up each KPI of a framework across providers: (slug, name, results) per column."""
    by_provider = [{r.kpi.id: r for r in results} for _, _, results in columns]
    rows = tuple(
        (kpi, tuple(results.get(kpi.id) for results in by_provider)) for kpi in framework.kpis
    )
    return SideBySide(framework, tuple((slug, name) for slug, name, _ in columns), rows)
