"""Evaluate KPIs over a wide frame of responses (the compute layer: pure functions, no I/O).

The frame may hold several rounds (and providers) of one survey. Each condition is evaluated
once per frame, by the vectorised evaluator (:func:`analysis.conditions.evaluate_frame`) over
the distinct values of the columns it reads (see :class:`Truths`); a KPI's counts per round,
and per round and segment for its breakdowns, are then made for every round at once with
group-bys over codes, and shared by every report built from the frame. Only responses in a
KPI's denominator count towards its numerator.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis import frames as f
from analysis.comparisons import measure_change
from analysis.conditions import FrameCache, evaluate_frame
from analysis.frames import ALL_SEGMENTS as SEGMENTS
from analysis.frames import MULTI_VALUED_SEGMENTS, ORGANISATION, ROUND
from analysis.kpis.definitions import Focus, Framework, Kpi, KpiKind, Records
from analysis.kpis.results import (
    MET,
    NOT_JUDGED,
    NOT_MET,
    NOT_REPORTED,
    OVERALL,
    Cell,
    Component,
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
from collector.survey.expr import Call, Compare, Literal, Node, Ref, references
from collector.survey.model import Survey

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
    "focus_cell",
    "evaluate_records",
    "period_target",
    "evaluate_targets_met",
    "indicators",
    "taken_up",
]

Bools = npt.NDArray[np.bool_]
Counts = tuple[int, int]  # (numerator, n)


class Truths:
    """Conditions evaluated over one frame, each at most once (nodes are hashable values).

    A condition's truth depends only on the values of the questions it reads, and a frame holds
    few different values (or combinations of values) however many rows it has. So each
    condition is evaluated by :func:`analysis.conditions.evaluate_frame` over the frame's
    distinct combinations of the columns it reads, and the result is taken back to every row
    through the columns' codes: the same evaluator, the same answer for every row, a few rows'
    work. Counts per round and breakdowns by segment are kept here too, so that every report
    built from the frame shares them.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._memo: dict[Node, Bools] = {}
        self._cache = FrameCache()
        self._codes: dict[str, tuple[npt.NDArray[np.int64], pd.Series]] = {}
        self._indicators: dict[tuple[Node, Node], Indicators] = {}
        self._segments: dict[str, _SegmentCodes] = {}
        self._rounds: tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]] | None = None

    def __call__(self, node: Node) -> Bools:
        """Give the condition's truth for every row of the frame."""
        if node not in self._memo:
            truth = self._evaluate(node)
            truth.flags.writeable = False  # shared by every KPI that uses the condition
            self._memo[node] = truth
        return self._memo[node]

    def _evaluate(self, node: Node) -> Bools:
        names = sorted(references(node))
        if len(self.frame) == 0 or any(name not in self.frame.columns for name in names):
            # Nothing to gain, or an error to raise exactly as the evaluator raises it.
            return evaluate_frame(node, self.frame, cache=self._cache).to_numpy(
                dtype=np.bool_, copy=True
            )
        columns = [self._column_codes(name) for name in names]
        if not columns:
            return np.full(len(self.frame), _truth_of_one_row(node), dtype=np.bool_)
        sizes = [len(values) for _, values in columns]
        if math.prod(sizes) > _MAX_COMBINATIONS:
            return evaluate_frame(node, self.frame, cache=self._cache).to_numpy(
                dtype=np.bool_, copy=True
            )
        combined = columns[0][0]
        for (codes, _), size in zip(columns[1:], sizes[1:], strict=True):
            combined = combined * size + codes
        if len(columns) == 1:
            distinct, inverse = np.arange(sizes[0], dtype=np.int64), combined
        else:
            distinct, inverse = np.unique(combined, return_inverse=True)
        parts: dict[str, pd.Series] = {}
        rest = distinct
        for name, (_, values), size in reversed(list(zip(names, columns, sizes, strict=True))):
            rest, mine = np.divmod(rest, size)
            parts[name] = values.iloc[mine].reset_index(drop=True)
        small = pd.DataFrame({name: parts[name] for name in names})
        truth = evaluate_frame(node, small).to_numpy(dtype=np.bool_)
        return truth[inverse]

    def _column_codes(self, name: str) -> tuple[npt.NDArray[np.int64], pd.Series]:
        """Give a column's code per row and its distinct values, the last one standing for
        unanswered (None, or NaN in a numeric column)."""
        if name not in self._codes:
            self._codes[name] = _factorized(self.frame[name])
        return self._codes[name]

    def indicators(self, numerator: Node, denominator: Node) -> Indicators:
        """Give the indicators of a numerator and denominator over the frame, once."""
        key = (numerator, denominator)
        if key not in self._indicators:
            den = self(denominator)
            num = self(numerator) & den
            round_ids, codes = self.round_codes()
            totals = np.bincount(codes[den], minlength=len(round_ids))
            hits = np.bincount(codes[num], minlength=len(round_ids))
            by_round = {
                int(r): (int(h), int(t))
                for r, h, t in zip(round_ids.tolist(), hits.tolist(), totals.tolist(), strict=True)
            }
            rounds = self.frame[ROUND].to_numpy(dtype=np.int64)
            self._indicators[key] = Indicators(rounds, den, num, by_round)
        return self._indicators[key]

    def round_codes(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
        """Give the frame's round ids, sorted, and each row's position among them."""
        if self._rounds is None:
            round_ids, codes = np.unique(
                self.frame[ROUND].to_numpy(dtype=np.int64), return_inverse=True
            )
            self._rounds = (round_ids, codes.astype(np.intp))
        return self._rounds

    def segment(self, segment: str) -> _SegmentCodes:
        """Give a segment's keys, coded per row, once per frame."""
        if segment not in self._segments:
            self._segments[segment] = _SegmentCodes.of(self.frame, segment)
        return self._segments[segment]


# A condition over more combinations of values than this is evaluated row by row instead.
_MAX_COMBINATIONS = 1_000_000


def _truth_of_one_row(node: Node) -> bool:
    """Evaluate a condition that reads no question (a constant)."""
    return bool(evaluate_frame(node, pd.DataFrame(index=pd.RangeIndex(1))).iloc[0])


def _factorized(series: pd.Series) -> tuple[npt.NDArray[np.int64], pd.Series]:
    """Code a column: codes per row, and the distinct values with unanswered last."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy(dtype=np.int64)
        values = np.asarray(series.cat.categories, dtype=object)
    elif pd.api.types.is_numeric_dtype(series.dtype):
        codes, values = pd.factorize(series.to_numpy(dtype=np.float64, na_value=np.nan))
    else:
        codes, values = pd.factorize(series.to_numpy(dtype=object))
    codes = codes.astype(np.int64)
    missing = len(values)
    codes[codes < 0] = missing
    if pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(
        series.dtype, pd.CategoricalDtype
    ):
        distinct = pd.Series(np.append(np.asarray(values, dtype=np.float64), np.nan))
    else:
        objects = np.empty(missing + 1, dtype=object)
        objects[:missing] = np.asarray(values, dtype=object)
        objects[missing] = None
        distinct = pd.Series(objects, dtype=object)
    return codes, distinct


@dataclass(frozen=True)
class Indicators:
    """Per response of a frame: is it in the denominator, and in the numerator."""

    rounds: npt.NDArray[np.int64]
    denominator: Bools
    numerator: Bools
    by_round: dict[int, Counts] | None = None  # (numerator, n) per round, when counted ahead
    tallies: dict[str, _Tally] = field(default_factory=dict, compare=False, repr=False)

    def counts(self, round_id: int) -> Counts:
        """Count (numerator, n) in one round."""
        if self.by_round is not None:
            return self.by_round.get(round_id, (0, 0))
        mask = (self.rounds == round_id) & self.denominator
        return int(np.count_nonzero(self.numerator & mask)), int(np.count_nonzero(mask))


def indicators(
    frame: pd.DataFrame, numerator: Node, denominator: Node, truths: Truths | None = None
) -> Indicators:
    """Evaluate a numerator and denominator over every response of the frame."""
    return (truths or Truths(frame)).indicators(numerator, denominator)


# --- segments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SegmentCodes:
    """A segment over a frame: each row's category, and each category's keys.

    A key is what a breakdown groups by (None for "not recorded"); a category of a
    multi-valued segment (outcome areas) has one key per value, a value listed twice counting
    twice, as splitting the text does.
    """

    codes: npt.NDArray[np.intp]  # per row
    keys: tuple[str | None, ...]  # the distinct keys
    members: tuple[tuple[int, ...], ...]  # per category, its keys' positions in `keys`

    @classmethod
    def of(cls, frame: pd.DataFrame, segment: str) -> _SegmentCodes:
        codes, values = _factorized(frame[SEGMENTS[segment]])
        keys: dict[str | None, int] = {}
        members = []
        for value in values.tolist():
            found: list[str | None]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                found = [None]
            elif segment == "is_member":
                found = ["member" if value else "not_member"]
            elif segment in MULTI_VALUED_SEGMENTS:
                found = list(str(value).split()) or [None]
            else:
                found = [None if value == "" else str(value)]
            members.append(tuple(keys.setdefault(key, len(keys)) for key in found))
        return cls(codes.astype(np.intp), tuple(keys), tuple(members))


@dataclass(frozen=True)
class _Tally:
    """(numerator, n) per round and category of a segment, for one KPI's indicators."""

    totals: npt.NDArray[np.int64]  # [round, category]
    hits: npt.NDArray[np.int64]


def breakdown_counts(
    frame: pd.DataFrame,
    found: Indicators,
    round_id: int,
    segment: str,
    truths: Truths | None = None,
) -> dict[str | None, Counts]:
    """Count (numerator, n) per value of a segment, in one round.

    The counts of every round are made at once (one group-by over the frame's codes) and kept
    with the indicators; keys come in the order they first appear in the round's rows.
    """
    truths = truths or Truths(frame)
    coded = truths.segment(segment)
    round_ids, round_codes = truths.round_codes()
    categories = len(coded.members)
    if segment not in found.tallies:
        cells = round_codes * categories + coded.codes
        size = len(round_ids) * categories
        totals = np.bincount(cells[found.denominator], minlength=size)
        hits = np.bincount(cells[found.numerator], minlength=size)
        found.tallies[segment] = _Tally(
            totals.reshape(len(round_ids), categories), hits.reshape(len(round_ids), categories)
        )
    tally = found.tallies[segment]
    where = np.searchsorted(round_ids, round_id)
    if where == len(round_ids) or round_ids[where] != round_id:
        return {}
    rows = np.flatnonzero((round_codes == where) & found.denominator)
    present, first = np.unique(coded.codes[rows], return_index=True)
    counts: dict[str | None, list[int]] = {}
    for category in present[np.argsort(first, kind="stable")].tolist():
        hit, total = int(tally.hits[where, category]), int(tally.totals[where, category])
        for position in coded.members[category]:
            key = coded.keys[position]
            numerator, n = counts.setdefault(key, [0, 0])
            counts[key] = [numerator + hit, n + total]
    return {key: (numerator, n) for key, (numerator, n) in counts.items()}


def breakdown_cells(
    segment: str,
    counts: dict[str | None, Counts],
    target: Target,
    min_n: int = DEFAULT_MIN_N,
    hidden_note: str = SUPPRESSED_NOTE,
    labels: dict[str, str] | None = None,
) -> tuple[Cell, ...]:
    """Build a breakdown's cells in order, with primary and secondary suppression.

    With `labels`, the keys are named (and kept in the order) they give.
    """
    ordered: list[str | None]
    if labels is not None:
        ordered = [key for key in labels if key in counts]
    else:
        ordered = order_keys(segment, list(counts))
    primary, secondary = cells_to_hide(
        {key: counts[key][1] for key in ordered}, adds_up=segment not in MULTI_VALUED_SEGMENTS
    )
    cells: list[Cell] = []
    for key in ordered:
        label = labels[key] if labels is not None and key else value_label(segment, key)
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
    truths = truths or Truths(frame)
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
            segment, breakdown_counts(frame, found, round_.id, segment, truths), kpi.target, min_n
        )
        for segment in dict.fromkeys([*kpi.breakdowns, *segments])
    }
    return KpiResult(kpi, overall, round_, change, breakdowns)


# --- one indicator asked of several audiences (VAL 7, VAL 10) -------------------------------

AUDIENCE = "audience"  # the breakdown that gives each audience's share


@dataclass(frozen=True)
class AudiencePart:
    """One audience of an audiences KPI, as loaded: its frame and its rounds (None: no round
    of its survey for the report, so it has no responses)."""

    kpi: Kpi
    frame: pd.DataFrame | None = None
    round: RoundRef | None = None
    previous: RoundRef | None = None
    truths: Truths | None = None

    def counts(self, round_: RoundRef | None) -> Counts:
        """Count (numerator, n) of this audience in one of its rounds (0, 0 with none)."""
        if round_ is None or self.frame is None:
            return (0, 0)
        assert self.kpi.numerator is not None and self.kpi.denominator is not None
        truths = self.truths or Truths(self.frame)
        return truths.indicators(self.kpi.numerator, self.kpi.denominator).counts(round_.id)


def evaluate_audiences(
    kpi: Kpi, parts: Sequence[AudiencePart], *, min_n: int = DEFAULT_MIN_N
) -> KpiResult:
    """Evaluate an indicator asked of several audiences: each audience's share (a breakdown,
    suppressed like any other, so that a small audience cannot be worked out from the total),
    and the combined figure judged against the target, pooled or with equal weights (see
    analysis.kpis.definitions), with the change since each audience's previous round."""
    now: dict[str | None, Counts] = {part.kpi.part_key: part.counts(part.round) for part in parts}
    labels = {part.kpi.part_key: part.kpi.title for part in parts}
    rounds = [part.round for part in parts if part.round is not None]
    anchor = rounds[0] if rounds else None
    # An audience nobody answered has nothing to hide: it says so, and is left out of the
    # suppression of the others.
    answered = {key: counts for key, counts in now.items() if counts[1]}
    visible = {
        c.key: c for c in breakdown_cells(AUDIENCE, answered, kpi.target, min_n, labels=labels)
    }
    cells = tuple(
        visible.get(key) or no_data_cell(label, _no_answers(part), key)
        for (key, label), part in zip(labels.items(), parts, strict=True)
    )
    how = (
        "Combined "
        + ("by pooling respondents" if kpi.combine == "pooled" else "with equal weights")
        + ": "
        + " and ".join(
            f"{part.kpi.title} ({part.kpi.survey}"
            + (f", round {part.round.id})" if part.round is not None else ", no round)")
            for part in parts
        )
    )
    if kpi.combine == "equal":
        overall = _equal_weights_cell(list(now.values()), kpi.target, min_n)
        change = None
    else:
        numerator = sum(x for x, _ in now.values())
        n = sum(m for _, m in now.values())
        overall = proportion_cell(numerator, n, kpi.target, min_n=min_n)
        change = None
        previous = [part.previous for part in parts if part.previous is not None]
        if previous:
            before_parts = [part.counts(part.previous) for part in parts]
            before = (sum(x for x, _ in before_parts), sum(m for _, m in before_parts))
            shown = proportion_cell(*before, kpi.target, min_n=min_n)
            change = measure_change((numerator, n), before, previous[0], shown, min_n)
    if not rounds:
        overall = no_data_cell(note="no round of " + " or ".join(p.kpi.survey or "" for p in parts))
    return KpiResult(kpi, overall, anchor, change, {AUDIENCE: cells}, note=how)


def _no_answers(part: AudiencePart) -> str:
    if part.round is None:
        return f"no round of {part.kpi.survey} in this period"
    return f"no responses in round {part.round.id}"


def _equal_weights_cell(counts: Sequence[Counts], target: Target, min_n: int) -> Cell:
    """Build the cell of the mean of several audiences' shares, each weighing the same.

    Judged only when every audience has at least `min_n` responses; the interval is the
    normal approximation of the mean of independent shares, clipped to 0..1.
    """
    n = sum(m for _, m in counts)
    if is_small(n):
        return hidden_cell(OVERALL)
    if any(m < min_n for _, m in counts):
        note = f"equal weights need at least {min_n} responses from every audience"
        return Cell(OVERALL, n=n, status=Status.NOT_ENOUGH_DATA, note=note)
    shares = [Fraction(x, m) for x, m in counts]
    mean = sum(shares, Fraction(0)) / len(shares)
    variance = sum(float(p * (1 - p)) / m for p, (_, m) in zip(shares, counts, strict=True))
    half = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2) * math.sqrt(variance) / len(shares)
    low, high = max(0.0, float(mean) - half), min(1.0, float(mean) + half)
    if not target.numeric:
        status = Status.NO_TARGET
    elif target.met(mean.numerator, mean.denominator):
        status = Status.GREEN
    else:
        status = Status.AMBER if target.reached_by(high) else Status.RED
    return Cell(OVERALL, n=n, proportion=float(mean), low=low, high=high, status=status)


def focus_cell(
    kpi: Kpi,
    frame: pd.DataFrame,
    round_id: int,
    focus: Focus,
    *,
    min_n: int = DEFAULT_MIN_N,
    truths: Truths | None = None,
) -> Cell:
    """Give a proportion KPI's result for the framework's focus group in one round.

    The focus group and the rest add up to the overall result, which is shown: so the focus
    is hidden, too, when the rest has 1 to 4 responses (they could be worked out by
    subtraction); with no responses outside the focus there is nothing to work out.
    """
    assert kpi.numerator is not None and kpi.denominator is not None
    truths = truths or Truths(frame)
    found = indicators(frame, kpi.numerator, kpi.denominator, truths)
    by_key = breakdown_counts(frame, found, round_id, focus.segment, truths)
    numerator = sum(by_key[key][0] for key in focus.values if key in by_key)
    n = sum(by_key[key][1] for key in focus.values if key in by_key)
    rest = found.counts(round_id)[1] - n
    sizes = {"focus": n, **({"rest": rest} if rest else {})}
    primary, secondary = cells_to_hide(sizes)
    if "focus" in primary:
        return hidden_cell(focus.title, "focus")
    if "focus" in secondary:
        return hidden_cell(focus.title, "focus", SECONDARY_NOTE)
    return proportion_cell(numerator, n, kpi.target, min_n=min_n, label=focus.title, key="focus")


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
    recorded: Collection[int] | None = None,
) -> KpiResult:
    """Count the different organisations meeting the KPI's condition in the window's rounds,
    and (`recorded`, when the KPI counts records too) those the activity records name."""
    in_window = frame[ROUND].isin([r.id for r in window]).to_numpy(dtype=np.bool_)
    if kpi.where is not None:
        in_window = in_window & (truths or Truths(frame))(kpi.where)
    organisations = frame[ORGANISATION].to_numpy(dtype=np.float64, na_value=np.nan)[in_window]
    answered = {int(o) for o in np.unique(organisations[~np.isnan(organisations)])}
    periods = ", ".join(r.period for r in sorted(window, key=lambda r: r.opens_at))
    note = f"rounds counted: {periods}"
    if recorded:  # said only when the records name some organisation
        more = set(recorded) - answered
        note += (
            f"; {len(answered)} from the surveys and {len(more)} more from activity records "
            f"({len(set(recorded))} named in the records)"
        )
        answered |= more
    overall = count_cell(len(answered), kpi.target, note=note)
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


def _verdict(status: Status) -> str:
    """Say how Essex ii counts a KPI with a target: met, not met, not reported, not judged."""
    if status is Status.GREEN:
        return MET
    if status in (Status.AMBER, Status.RED):
        return NOT_MET
    if status in (Status.NO_DATA, Status.NOT_REPORTED):
        return NOT_REPORTED
    return NOT_JUDGED


def evaluate_targets_met(
    kpi: Kpi, results: Sequence[KpiResult], round_: RoundRef | None = None
) -> KpiResult:
    """Give the share of the other KPIs with a target that are met, with the list it counts.

    Every other KPI with a target counts: met (green), not met (amber or red) or not reported
    (nothing recorded or no round for the period: not achieved). A KPI with too few answers to
    judge is listed as "not judged" and left out, since its target may well be met.
    """
    others = [
        r
        for r in results
        if r.kpi.kind is not KpiKind.TARGETS_MET and r.kpi.target.rule is not TargetRule.NONE
    ]
    components = tuple(
        Component(r.kpi.id, r.kpi.title, r.status, _verdict(r.status)) for r in others
    )
    counted = [c for c in components if c.verdict != NOT_JUDGED]
    met = [c for c in counted if c.verdict == MET]
    missing = [c for c in counted if c.verdict == NOT_REPORTED]
    left_out = [c for c in components if c.verdict == NOT_JUDGED]
    if not counted:
        summary = "; ".join(f"{r.kpi.id} {r.status}" for r in others)
        overall = Cell(
            OVERALL,
            status=Status.NOT_ENOUGH_DATA,
            note=f"no KPI with a target had enough data to judge ({summary})",
        )
        return KpiResult(kpi, overall, round_, components=components)
    assert kpi.target.value is not None
    status = Status.GREEN if kpi.target.met(len(met), len(counted)) else Status.RED
    note = f"{len(met)} of {len(counted)} targets met"
    if missing:
        note += f", {len(missing)} not reported"
    if left_out:
        note += f"; {len(left_out)} not judged (too few answers): " + ", ".join(
            c.kpi_id for c in left_out
        )
    # A count of KPIs, not a sample of responses: no interval and no suppression.
    overall = Cell(
        OVERALL,
        n=len(counted),
        numerator=len(met),
        proportion=len(met) / len(counted),
        status=status,
        note=note,
    )
    return KpiResult(kpi, overall, round_, components=components)


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
