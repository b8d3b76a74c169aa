"""Evaluate condition ASTs (``collector.survey.expr``) over a whole DataFrame of responses at once.

This is the vectorised twin of ``collector.survey.expr.evaluate``: for every row it gives exactly
the answer the single-response evaluator gives for that response (a property test checks this).

Frame contract (``analysis.frames`` builds frames this way):

- one row per response, one column per question id (the column label is the id);
- integer and decimal questions have a numeric dtype: float64 with NaN for unanswered, or the
  nullable Int64 / Float64 with NA;
- choice, scale and text questions have object or pandas string dtype holding the string value;
  a multiple-choice answer is its selected values joined by spaces (the XLSForm convention);
  unanswered is None, NaN or pd.NA (an empty string means the same);
- ``current`` names the column that ``.`` stands for (the question a constraint belongs to).

As in XPath, an unanswered question's value is the empty string, whatever its type, so
``${age} != ''`` is true exactly for the rows where age was answered. Missing values never reach
the result: it is a plain bool Series aligned to the frame's index.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from collector.survey.expr import (
    NUMBER_TEXT,
    And,
    Call,
    Compare,
    Current,
    Literal,
    Node,
    Not,
    Or,
    Ref,
    Value,
    references,
    to_string,
    uses_current,
)

__all__ = ["FrameCache", "MissingQuestionError", "evaluate_frame"]

# Integer-valued numbers below this print without a decimal point (same rule as the collector).
_INTEGER_LIMIT = 2.0**53

# What each row's value is; XPath values are dynamically typed, and a numeric question's value
# is a number where answered but the empty string where not.
_STR, _NUM, _BOOL = 0, 1, 2


class MissingQuestionError(KeyError):
    """The condition refers to a question that has no column in the frame."""

    def __init__(self, message: str, questions: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.questions = questions

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class _Values:
    """One XPath value per row: ``kind`` says which of the three arrays holds it."""

    kind: npt.NDArray[np.int8]
    strings: npt.NDArray[np.object_]
    numbers: npt.NDArray[np.float64]
    booleans: npt.NDArray[np.bool_]


def _values(
    kind: npt.NDArray[np.int8],
    *,
    strings: npt.NDArray[np.object_] | None = None,
    numbers: npt.NDArray[np.float64] | None = None,
    booleans: npt.NDArray[np.bool_] | None = None,
) -> _Values:
    n = len(kind)
    return _Values(
        kind=kind,
        strings=np.full(n, "", dtype=object) if strings is None else strings,
        numbers=np.zeros(n, dtype=np.float64) if numbers is None else numbers,
        booleans=np.zeros(n, dtype=np.bool_) if booleans is None else booleans,
    )


def _constant(value: Value, n: int) -> _Values:
    if isinstance(value, bool):
        return _booleans(np.full(n, value, dtype=np.bool_))
    if isinstance(value, float):
        return _numbers(np.full(n, value, dtype=np.float64))
    return _strings(np.full(n, value, dtype=object))


def _strings(strings: npt.NDArray[np.object_]) -> _Values:
    return _values(np.full(len(strings), _STR, dtype=np.int8), strings=strings)


def _numbers(numbers: npt.NDArray[np.float64]) -> _Values:
    return _values(np.full(len(numbers), _NUM, dtype=np.int8), numbers=numbers)


def _booleans(booleans: npt.NDArray[np.bool_]) -> _Values:
    return _values(np.full(len(booleans), _BOOL, dtype=np.int8), booleans=booleans)


def _column(frame: pd.DataFrame, name: str) -> _Values:
    """Read a question's column as values: unanswered becomes the empty string."""
    series = frame[name]
    if isinstance(series, pd.DataFrame):
        raise ValueError(f"the frame has more than one column named {name!r}")
    if pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        kind = np.where(np.isnan(numbers), _STR, _NUM).astype(np.int8)
        return _values(kind, numbers=numbers)
    strings = series.to_numpy(dtype=object, na_value="")
    inferred = pd.api.types.infer_dtype(strings, skipna=False)
    if inferred not in ("string", "empty"):
        raise TypeError(
            f"column {name!r} holds {inferred} values; choice and text questions must hold "
            "strings, numeric questions a numeric dtype"
        )
    return _strings(strings)


# --- conversions (XPath 1.0, as in collector.survey.expr) ----------------------------------


def _format_numbers(x: npt.NDArray[np.float64]) -> npt.NDArray[np.object_]:
    # numpy's str() of a float64 is Python's repr(), which the collector uses too.
    out: npt.NDArray[np.object_] = x.astype(str).astype(object)
    integral = np.isfinite(x) & (np.floor(x) == x) & (np.abs(x) < _INTEGER_LIMIT)
    out[integral] = x[integral].astype(np.int64).astype(str)
    out[np.isnan(x)] = "NaN"
    out[np.isposinf(x)] = "Infinity"
    out[np.isneginf(x)] = "-Infinity"
    return out


def _parse_numbers(strings: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    # A comprehension over the strings is the collector's own rule, row by row; pandas' .str
    # methods loop in Python too, only slower.
    nan = math.nan
    return np.fromiter(
        (
            float(text) if NUMBER_TEXT.fullmatch(text) else nan
            for text in (s.strip() for s in strings)
        ),
        dtype=np.float64,
        count=len(strings),
    )


def _take(v: _Values, rows: npt.NDArray[np.intp]) -> _Values:
    return _Values(v.kind[rows], v.strings[rows], v.numbers[rows], v.booleans[rows])


def _to_number(v: _Values) -> npt.NDArray[np.float64]:
    out = v.numbers.copy()
    is_bool = v.kind == _BOOL
    out[is_bool] = v.booleans[is_bool]
    is_str = v.kind == _STR
    if is_str.any():
        out[is_str] = _parse_numbers(v.strings[is_str])
    return out


def _to_string(v: _Values) -> npt.NDArray[np.object_]:
    out = v.strings.copy()
    is_num = v.kind == _NUM
    if is_num.any():
        out[is_num] = _format_numbers(v.numbers[is_num])
    is_bool = v.kind == _BOOL
    out[is_bool] = np.where(v.booleans[is_bool], "true", "false")
    return out


def _to_boolean(v: _Values) -> npt.NDArray[np.bool_]:
    from_numbers = (v.numbers != 0) & ~np.isnan(v.numbers)
    from_strings = v.strings != ""
    return np.where(
        v.kind == _BOOL, v.booleans, np.where(v.kind == _NUM, from_numbers, from_strings)
    ).astype(np.bool_)


# --- evaluation ----------------------------------------------------------------------------


class FrameCache:
    """Work shared by several evaluations over the same, unchanged frame.

    Pass one to evaluate_frame(..., cache=) when evaluating many conditions over one frame
    (KPIs do): each column is read once, and each multiple-choice column is tokenised once
    into an index from choice to rows, so that each selected(${q}, 'x') is a lookup.
    """

    def __init__(self) -> None:
        self.columns: dict[str, _Values] = {}
        self.token_rows: dict[str, dict[str, npt.NDArray[np.intp]]] = {}


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, current: str | None, cache: FrameCache) -> None:
        self.frame = frame
        self.current = current
        self.n = len(frame)
        self.cache = cache

    def column(self, name: str) -> _Values:
        if name not in self.cache.columns:
            self.cache.columns[name] = _column(self.frame, name)
        return self.cache.columns[name]

    def token_rows(self, name: str) -> dict[str, npt.NDArray[np.intp]]:
        """Give, for a column, each whitespace-separated token and the rows holding it."""
        if name not in self.cache.token_rows:
            rows: defaultdict[str, list[int]] = defaultdict(list)
            for row, text in enumerate(_to_string(self.column(name))):
                for token in text.split():  # a token twice lists the row twice: harmless
                    rows[token].append(row)
            self.cache.token_rows[name] = {
                token: np.asarray(found, dtype=np.intp) for token, found in rows.items()
            }
        return self.cache.token_rows[name]

    def value(self, node: Node) -> _Values:
        if isinstance(node, Literal):
            return _constant(node.value, self.n)
        if isinstance(node, Ref):
            return self.column(node.name)
        if isinstance(node, Current):
            assert self.current is not None  # checked by evaluate_frame
            return self.column(self.current)
        if isinstance(node, Compare):
            return _booleans(self.compare(node))
        if isinstance(node, And):
            left, right = self.truth(node.left), self.truth(node.right)
            return _booleans(left & right)
        if isinstance(node, Or):
            left, right = self.truth(node.left), self.truth(node.right)
            return _booleans(left | right)
        if isinstance(node, Not):
            return _booleans(~self.truth(node.operand))
        return self.call(node)

    def truth(self, node: Node) -> npt.NDArray[np.bool_]:
        return _to_boolean(self.value(node))

    def compare(self, node: Compare) -> npt.NDArray[np.bool_]:
        left, right = self.value(node.left), self.value(node.right)
        if node.op in ("=", "!="):
            # Per row, XPath 1.0 order: a boolean operand wins over a number, a number over a
            # string (an unanswered numeric question is the string ''). Strings are compared
            # for every row (cheap); numbers and booleans only where a row needs them.
            any_bool = (left.kind == _BOOL) | (right.kind == _BOOL)
            any_number = ~any_bool & ((left.kind == _NUM) | (right.kind == _NUM))
            equal = np.asarray(left.strings == right.strings, dtype=np.bool_)
            if any_number.any():
                rows = np.flatnonzero(any_number)
                equal[rows] = _to_number(_take(left, rows)) == _to_number(_take(right, rows))
            if any_bool.any():
                rows = np.flatnonzero(any_bool)
                equal[rows] = _to_boolean(_take(left, rows)) == _to_boolean(_take(right, rows))
            return equal if node.op == "=" else ~equal
        x, y = _to_number(left), _to_number(right)
        # Comparisons with NaN are false, as XPath requires.
        if node.op == "<":
            return x < y
        if node.op == ">":
            return x > y
        if node.op == "<=":
            return x <= y
        return x >= y

    def call(self, node: Call) -> _Values:
        # Row by row over Python strings, exactly as the collector tokenises (str.split on
        # whitespace): a comprehension is several times faster than pandas' .str methods here.
        selections = _to_string(self.value(node.args[0]))
        if node.name == "count-selected":
            counts = np.fromiter(
                (len(s.split()) for s in selections), dtype=np.float64, count=self.n
            )
            return _numbers(counts)
        argument = node.args[1]
        subject = node.args[0]
        if isinstance(argument, Literal) and isinstance(subject, Ref):
            # selected(${q}, 'x'), by far the commonest: a look-up in the column's token index.
            found = np.zeros(self.n, dtype=np.bool_)
            needle = to_string(argument.value).strip()
            found[self.token_rows(subject.name).get(needle, np.empty(0, dtype=np.intp))] = True
        elif isinstance(argument, Literal):
            needle = to_string(argument.value).strip()
            found = np.fromiter(
                (needle in s.split() for s in selections), dtype=np.bool_, count=self.n
            )
        else:
            needles = _to_string(self.value(argument))
            found = np.fromiter(
                (n.strip() in s.split() for s, n in zip(selections, needles, strict=True)),
                dtype=np.bool_,
                count=self.n,
            )
        return _booleans(found)


def evaluate_frame(
    node: Node,
    frame: pd.DataFrame,
    current: str | None = None,
    *,
    cache: FrameCache | None = None,
) -> pd.Series:
    """Evaluate the condition for every response (row) of the frame, as a bool Series.

    `cache` shares work between evaluations over the same frame; never reuse one after the
    frame changes, or for another frame.
    """
    missing = sorted(name for name in references(node) if name not in frame.columns)
    if uses_current(node):
        if current is None:
            raise ValueError("the condition uses '.', so pass current= the column it stands for")
        if current not in frame.columns:
            missing.append(current)
    if missing:
        listed = ", ".join(f"${{{name}}}" for name in missing)
        raise MissingQuestionError(f"the frame has no column for {listed}", missing)
    if len(frame) == 0:
        return pd.Series([], index=frame.index, dtype=bool)
    truth = _Evaluator(frame, current, cache or FrameCache()).truth(node)
    return pd.Series(truth, index=frame.index, dtype=bool)
