"""Evaluate KPIs over a wide frame of responses (the compute layer: pure functions, no I/O).

The frame may hold several rounds (and providers) of one survey: each condition is evaluated
once over the whole frame with the vectorised evaluator (:func:`analysis.conditions.evaluate_frame`)
and the results are then counted per round and per segment. Only responses in a KPI's
denominator count towards its numerator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.comparisons import measure_change
from analysis.conditions import FrameCache, evaluate_frame
from analysis.kpis.definitions import Framework, Kpi, KpiKind, Records
from analysis.kpis.results import (
    OVERALL,
    Cell,
    KpiResult,
    OutcomeResult,
    RoundRef,
    count_cell,
    hidden_cell,
    no_data_cell,
    proportion_cell,
)
from analysis.kpis.targets import DEFAULT_MIN_N, Status, Target, TargetRule, rag_count
from analysis.periods import Period
from analysis.segments import order_keys, value_label
from analysis.stats import CONFIDENCE, newcombe
from analysis.suppression import SECONDARY_NOTE, SUPPRESSED_NOTE, cells_to_hide, is_small
from collector.localtime import day_ends, day_starts
from collector.survey.expr import Call, Compare, Literal, Node, Ref
from collector.survey.model import Survey
from tests.analysis.reference import frames as f
from tests.analysis.reference.frames import MULTI_VALUED_SEGMENTS, ORGANISATION, ROUND, SEGMENTS

__all__ = [
    "Indicators",
    "RecordFrames",
    "Truths",
    "evaluate_framework_results",
    "breakdown_cells",
    "breakdown_counts",
    "evaluate_awareness",
    "evaluate_count",
    "evaluate_proportion",
    "evaluate_records",
    "period_target",
    "evaluate_targets_met",
    "indicators",
    "taken_up",
    "segment_keys",
]

Bools = npt.NDArray[np.bool_]
Counts = tuple[int, int]  # (numerator, n)


class Truths:
    """Conditions evaluated over one frame, each at most once (nodes are hashable values)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._memo: dict[Node, Bools] = {}
        self._cache = FrameCache()

    def __call__(self, node: Node) -> Bools:
        """Give the condition's truth for every row of the frame."""
        if node not in self._memo:
            truth = evaluate_frame(node, self.frame, cache=self._cache).to_numpy(
                dtype=np.bool_, copy=True
            )
            truth.flags.writeable = False  # shared by every KPI that uses the condition
            self._memo[node] = truth
        return self._memo[node]


@dataclass(frozen=True)
class Indicators:
    """Per response of a frame: is it in the denominator, and in the numerator."""

    rounds: npt.NDArray[np.int64]
    denominator: Bools
    numerator: Bools

    def counts(self, round_id: int) -> Counts:
        """Count (numerator, n) in one round."""
        mask = (self.rounds == round_id) & self.denominator
        return int(np.count_nonzero(self.numerator & mask)), int(np.count_nonzero(mask))


def indicators(
    frame: pd.DataFrame, numerator: Node, denominator: Node, truths: Truths | None = None
) -> Indicators:
    """Evaluate a numerator and denominator over every response of the frame."""
    truths = truths or Truths(frame)
    den = truths(denominator)
    num = truths(numerator) & den
    return Indicators(frame[ROUND].to_numpy(dtype=np.int64), den, num)


# --- segments ------------------------------------------------------------------------------


def segment_keys(
    frame: pd.DataFrame, segment: str, mask: Bools
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """Give (row position, segment value) pairs for the masked rows; None when not recorded.

    A multi-valued segment (outcome areas) gives one pair per value, so a row can count in
    several groups; a row with no value gives one pair with None.
    """
    positions = np.flatnonzero(mask)
    # Take the rows first: finding missing values in the whole column costs more than this.
    values = frame[SEGMENTS[segment]].to_numpy(dtype=object)[positions]
    values[pd.isna(values)] = None
    if segment == "is_member":
        keys = np.array(
            [None if v is None else ("member" if v else "not_member") for v in values], dtype=object
        )
        return positions, keys
    if segment in MULTI_VALUED_SEGMENTS:
        tokens = pd.Series(values, dtype=object).fillna("").str.split().explode()
        repeat = tokens.index.to_numpy(dtype=np.intp)
        keys = tokens.to_numpy(dtype=object, na_value=None)
        return positions[repeat], keys
    keys = np.array([None if v is None or v == "" else str(v) for v in values], dtype=object)
    return positions, keys


def breakdown_counts(
    frame: pd.DataFrame, found: Indicators, round_id: int, segment: str
) -> dict[str | None, Counts]:
    """Count (numerator, n) per value of a segment, in one round."""
    mask = (found.rounds == round_id) & found.denominator
    positions, keys = segment_keys(frame, segment, mask)
    if len(positions) == 0:
        return {}
    # None cannot be a groupby key; "" is never a segment value, so it stands in for it.
    table = pd.DataFrame(
        {"key": np.where(pd.isna(keys), "", keys), "hit": found.numerator[positions]}
    )
    grouped = table.groupby("key", sort=False)["hit"].agg(["sum", "size"])
    counts: dict[str | None, Counts] = {}
    for key, row in grouped.iterrows():
        counts[None if key == "" else str(key)] = (int(row["sum"]), int(row["size"]))
    return counts


def breakdown_cells(
    segment: str,
    counts: dict[str | None, Counts],
    target: Target,
    min_n: int = DEFAULT_MIN_N,
    hidden_note: str = SUPPRESSED_NOTE,
) -> tuple[Cell, ...]:
    """Build a breakdown's cells in order, with primary and secondary suppression."""
    ordered = order_keys(segment, list(counts))
    primary, secondary = cells_to_hide(
        {key: counts[key][1] for key in ordered}, adds_up=segment not in MULTI_VALUED_SEGMENTS
    )
    cells: list[Cell] = []
    for key in ordered:
        label = value_label(segment, key)
        if key in primary:
            cells.append(hidden_cell(label, key, hidden_note))
        elif key in secondary:
            cells.append(hidden_cell(label, key, SECONDARY_NOTE))
        else:
            numerator, n = counts[key]
            cells.append(proportion_cell(numerator, n, target, min_n=min_n, label=label, key=key))
    return tuple(cells)


# --- proportion KPIs -----------------------------------------------------------------------


def evaluate_proportion(
    kpi: Kpi,
    frame: pd.DataFrame,
    round_: RoundRef,
    previous: RoundRef | None = None,
    *,
    min_n: int = DEFAULT_MIN_N,
    segments: Iterable[str] = (),
    truths: Truths | None = None,
) -> KpiResult:
    """Evaluate a proportion KPI for one round: overall, change, breakdowns by segments."""
    assert kpi.numerator is not None and kpi.denominator is not None
    found = indicators(frame, kpi.numerator, kpi.denominator, truths)
    numerator, n = found.counts(round_.id)
    overall = proportion_cell(numerator, n, kpi.target, min_n=min_n)
    change = None
    if previous is not None:
        before = found.counts(previous.id)
        shown = proportion_cell(*before, kpi.target, min_n=min_n)
        change = measure_change((numerator, n), before, previous, shown, min_n)
    breakdowns = {
        segment: breakdown_cells(
            segment, breakdown_counts(frame, found, round_.id, segment), kpi.target, min_n
        )
        for segment in dict.fromkeys([*kpi.breakdowns, *segments])
    }
    return KpiResult(kpi, overall, round_, change, breakdowns)


# --- awareness (Essex b) -------------------------------------------------------------------


def _selected(question: str, value: str) -> Node:
    return Call("selected", (Ref(question), Literal(value)))


def _answered(question: str) -> Node:
    return Compare("!=", Ref(question), Literal(""))


def evaluate_awareness(
    kpi: Kpi,
    frame: pd.DataFrame,
    survey: Survey,
    round_: RoundRef,
    previous: RoundRef | None = None,
    *,
    min_n: int = DEFAULT_MIN_N,
    truths: Truths | None = None,
) -> KpiResult:
    """Evaluate an awareness KPI: per outcome, aware now vs before, and raised by the CVS."""
    assert kpi.aware is not None and kpi.raised is not None and kpi.raised_among is not None
    truths = truths or Truths(frame)
    no_target = Target(TargetRule.NONE)
    answered = _answered(kpi.aware)
    outcomes: list[OutcomeResult] = []
    pairs: list[tuple[Counts, Counts]] = []
    respondents = 0
    for value, label in kpi.outcomes(survey):
        aware = indicators(frame, _selected(kpi.aware, value), answered, truths)
        raised = indicators(frame, _selected(kpi.raised, value), kpi.raised_among, truths)
        now = aware.counts(round_.id)
        respondents = now[1]
        aware_cell = proportion_cell(*now, no_target, min_n=min_n, label=label, key=value)
        change = None
        if previous is not None:
            before = aware.counts(previous.id)
            pairs.append((now, before))
            shown = proportion_cell(*before, no_target, min_n=min_n, label=label, key=value)
            change = measure_change(now, before, previous, shown, min_n)
        raised_cell = proportion_cell(
            *raised.counts(round_.id), no_target, min_n=min_n, label=label, key=value
        )
        outcomes.append(OutcomeResult(value, label, aware_cell, raised_cell, change))
    overall = _awareness_summary(respondents, pairs, previous, min_n)
    return KpiResult(kpi, overall, round_, None, {}, tuple(outcomes))


def _awareness_summary(
    respondents: int,
    pairs: Sequence[tuple[Counts, Counts]],
    previous: RoundRef | None,
    min_n: int,
) -> Cell:
    """Judge "increased awareness" over all outcomes at once.

    Green when awareness of at least one outcome rose by more than chance and none fell; red
    when some fell and none rose; amber otherwise. Testing several outcomes at once makes a
    chance movement in one of them likely, so here each is tested at the Bonferroni-adjusted
    level (95% for the family: 99.3% each for seven outcomes); the per-outcome verdicts shown
    beside it are at 95%.
    """
    label = "All outcomes"
    if is_small(respondents):
        return hidden_cell(label)
    if previous is None:
        return Cell(
            label,
            n=respondents,
            status=Status.NOT_ENOUGH_DATA,
            note="no previous round to compare with",
        )
    if not pairs or any(n < min_n for (_, n), (_, m) in pairs for n in (n, m)):
        return Cell(
            label,
            n=respondents,
            status=Status.NOT_ENOUGH_DATA,
            note=f"fewer than {min_n} responses in this round or the previous one",
        )
    confidence = 1 - (1 - CONFIDENCE) / len(pairs)
    up = down = 0
    for (x1, n1), (x2, n2) in pairs:
        change = newcombe(x1, n1, x2, n2, confidence)
        up += change.low > 0
        down += change.high < 0
    if up and not down:
        status = Status.GREEN
    elif down and not up:
        status = Status.RED
    else:
        status = Status.AMBER
    note = (
        f"allowing for {len(pairs)} outcomes tested at once: awareness clearly rose for {up} "
        f"and clearly fell for {down}"
    )
    return Cell(label, n=respondents, status=status, note=note)


# --- counts (Essex x) ----------------------------------------------------------------------


def evaluate_count(
    kpi: Kpi,
    frame: pd.DataFrame,
    round_: RoundRef,
    window: Collection[RoundRef],
    truths: Truths | None = None,
) -> KpiResult:
    """Count the different organisations meeting the KPI's condition in the window's rounds."""
    in_window = frame[ROUND].isin([r.id for r in window]).to_numpy(dtype=np.bool_)
    if kpi.where is not None:
        in_window = in_window & (truths or Truths(frame))(kpi.where)
    organisations = frame[ORGANISATION].to_numpy(dtype=object, na_value=None)[in_window]
    count = len({o for o in organisations if o is not None})
    periods = ", ".join(r.period for r in sorted(window, key=lambda r: r.opens_at))
    overall = count_cell(count, kpi.target, note=f"rounds counted: {periods}")
    return KpiResult(kpi, overall, round_)


# --- volunteering records (VAL 25, 26) -----------------------------------------------------


@dataclass(frozen=True)
class RecordFrames:
    """Volunteer enquiries and placements as frames.load_enquiries/load_placements give them."""

    enquiries: pd.DataFrame
    placements: pd.DataFrame

    def of(self, provider: str) -> RecordFrames:
        """Give one provider's records."""
        return RecordFrames(
            self.enquiries[self.enquiries[f.RECORD_PROVIDER] == provider],
            self.placements[self.placements[f.RECORD_PROVIDER] == provider],
        )


def taken_up(records: RecordFrames) -> Bools:
    """Tell, per enquiry, whether it was taken up (see analysis.kpis.definitions, records).

    Linked to a volunteer: a placement of theirs, not "did not start", starting on or after the
    enquiry's date. Not linked: the enquiry's outcome is "placed".
    """
    enquiries, placements = records.enquiries, records.placements
    started = placements[placements[f.PLACEMENT_STATUS] != "did_not_start"]
    # Each volunteer's latest start: a later one counts for every earlier enquiry of theirs.
    latest = {
        int(volunteer): pd.Timestamp(start)
        for volunteer, start in started.groupby(f.VOLUNTEER)[f.STARTS_ON].max().items()
    }
    volunteers = enquiries[f.VOLUNTEER].to_numpy(dtype=object, na_value=None)
    linked = np.array([v is not None for v in volunteers], dtype=np.bool_)
    by_placement = np.array(
        [
            v is not None and int(v) in latest and latest[int(v)] >= pd.Timestamp(on)
            for v, on in zip(volunteers, enquiries[f.ENQUIRED_ON].tolist(), strict=True)
        ],
        dtype=np.bool_,
    )
    by_outcome = (enquiries[f.OUTCOME] == "placed").to_numpy(dtype=np.bool_)
    return np.where(linked, by_placement, by_outcome)


FEWER_ENQUIRIES = SUPPRESSED_NOTE.replace("responses", "enquiries")


def _share_cell(numerator: int, n: int, target: Target, min_n: int) -> Cell:
    """Build the cell of a share of enquiries (hidden under 5, saying they are enquiries)."""
    if is_small(n):
        return hidden_cell(OVERALL, note=FEWER_ENQUIRIES)
    return proportion_cell(numerator, n, target, min_n=min_n)


def _in_period(enquiries: pd.DataFrame, period: Period) -> Bools:
    dates = enquiries[f.ENQUIRED_ON]
    inside = (dates >= pd.Timestamp(period.start)) & (dates <= pd.Timestamp(period.end))
    return inside.to_numpy(dtype=np.bool_)


def period_target(kpi: Kpi, period: Period) -> Target | None:
    """Give the target for a period shorter than a year of an annual target (else None).

    Pro rata by days, rounded up to a whole number: 3,327 a year is 1,668 for 183 days.
    """
    target = kpi.target
    if kpi.target_period != "year" or target.value is None or period.days >= 365:
        return None
    scaled = target.value * period.days / 365
    whole = -(-scaled.numerator // scaled.denominator)
    return Target(
        target.rule,
        Fraction(whole),
        is_count=target.is_count,
        basis=f"({int(target.value):,} a year, pro rata)",
    )


def _records_round(round_: RoundRef, period: Period) -> RoundRef:
    """Name a period of records as a round, for comparing with it (id 0: not a real round)."""
    return dataclasses.replace(
        round_,
        id=0,
        survey="records",
        survey_version=0,
        period=period.label,
        status="closed",
        opens_at=day_starts(period.start),
        closes_at=day_ends(period.end),
    )


def evaluate_records(
    kpi: Kpi,
    records: RecordFrames,
    round_: RoundRef,
    period: Period,
    previous: Period | None = None,
    *,
    min_n: int = DEFAULT_MIN_N,
) -> KpiResult:
    """Evaluate a record-based KPI for a provider's period (enquiries, or their take-up)."""
    mine = records.of(round_.provider)
    if mine.enquiries.empty:
        note = f"no volunteer enquiries recorded for {round_.provider_name}"
        return KpiResult(kpi, no_data_cell(note=note), round_, note=note, period=period)
    inside = _in_period(mine.enquiries, period)
    if kpi.records is Records.ENQUIRIES:
        count = int(np.count_nonzero(inside))
        scaled = period_target(kpi, period)
        if is_small(count):
            overall = hidden_cell(OVERALL, note=FEWER_ENQUIRIES)
        else:
            status = rag_count(count, scaled or kpi.target)
            overall = Cell(OVERALL, count=count, status=status)
        return KpiResult(kpi, overall, round_, period=period, period_target=scaled)
    hits = taken_up(mine)
    numerator, n = int(np.count_nonzero(hits & inside)), int(np.count_nonzero(inside))
    overall = _share_cell(numerator, n, kpi.target, min_n)
    change = None
    if previous is not None:
        before_mask = _in_period(mine.enquiries, previous)
        before = int(np.count_nonzero(hits & before_mask)), int(np.count_nonzero(before_mask))
        if before[1]:
            shown = _share_cell(*before, kpi.target, min_n)
            change = measure_change(
                (numerator, n), before, _records_round(round_, previous), shown, min_n
            )
    breakdowns: dict[str, tuple[Cell, ...]] = {}
    for segment in kpi.breakdowns:
        table = pd.DataFrame(
            {
                "key": mine.enquiries[f.ENQUIRY_DISTRICT]
                .astype(object)
                .fillna("")
                .to_numpy()[inside],
                "hit": hits[inside],
            }
        )
        grouped = table.groupby("key", sort=False)["hit"].agg(["sum", "size"])
        counts: dict[str | None, Counts] = {
            (None if key == "" else str(key)): (int(row["sum"]), int(row["size"]))
            for key, row in grouped.iterrows()
        }
        breakdowns[segment] = breakdown_cells(segment, counts, kpi.target, min_n, FEWER_ENQUIRIES)
    return KpiResult(kpi, overall, round_, change, breakdowns, period=period)


# --- proportion of targets met (Essex ii) --------------------------------------------------


def evaluate_targets_met(
    kpi: Kpi, results: Sequence[KpiResult], round_: RoundRef | None = None
) -> KpiResult:
    """Give the share of the other KPIs with a target that are green, of those judged."""
    others = [
        r
        for r in results
        if r.kpi.kind is not KpiKind.TARGETS_MET and r.kpi.target.rule is not TargetRule.NONE
    ]
    judged = [r for r in others if r.status.judged]
    green = [r for r in judged if r.status is Status.GREEN]
    summary = "; ".join(f"{r.kpi.id} {r.status}" for r in others)
    if not judged:
        overall = Cell(
            OVERALL,
            status=Status.NOT_ENOUGH_DATA,
            note=f"no KPI with a target had enough data to judge ({summary})",
        )
        return KpiResult(kpi, overall, round_)
    assert kpi.target.value is not None
    status = Status.GREEN if kpi.target.met(len(green), len(judged)) else Status.RED
    # A count of KPIs, not a sample of responses: no interval and no suppression.
    overall = Cell(
        OVERALL,
        n=len(judged),
        numerator=len(green),
        proportion=len(green) / len(judged),
        status=status,
        note=f"{len(green)} of {len(judged)} judged KPIs green ({summary})",
    )
    return KpiResult(kpi, overall, round_)


def evaluate_framework_results(
    framework: Framework, results: Sequence[KpiResult]
) -> list[KpiResult]:
    """Fill in the targets-met KPIs of a framework from its other results, in framework order."""
    by_id = {r.kpi.id: r for r in results}
    anchor = next((r.round for r in results if r.round is not None), None)
    out: list[KpiResult] = []
    for kpi in framework.kpis:
        if kpi.kind is KpiKind.TARGETS_MET:
            out.append(evaluate_targets_met(kpi, results, anchor))
        else:
            out.append(by_id[kpi.id])
    return out
