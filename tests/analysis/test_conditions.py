"""The vectorised condition evaluator, and its agreement with the single-response evaluator."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.conditions import MissingQuestionError, evaluate_frame
from collector.survey.expr import (
    And,
    Call,
    Compare,
    Current,
    Literal,
    Node,
    Not,
    Or,
    Ref,
    evaluate,
    parse,
    to_text,
)

# The question ids of the property test, one per kind of question.
CHOICE, MULTI, INTEGER, DECIMAL, TEXT = "choice", "multi", "integer", "decimal", "text"
NUMERIC = (INTEGER, DECIMAL)
QUESTIONS = (CHOICE, MULTI, INTEGER, DECIMAL, TEXT)


def make_frame(
    rows: Sequence[Mapping[str, object]], index: Sequence[object] | None = None
) -> pd.DataFrame:
    """Build a response-by-question frame the way analysis.frames does (float64 / object)."""
    columns: dict[str, pd.Series] = {}
    for question in QUESTIONS:
        values = [row.get(question) for row in rows]
        if question in NUMERIC:
            numbers = [math.nan if v is None else float(v) for v in values]  # type: ignore[arg-type]
            columns[question] = pd.Series(numbers, dtype="float64")
        else:
            strings = [" ".join(v) if isinstance(v, list | tuple) else v for v in values]
            # An empty selection is unanswered in the frame ('' in the single evaluator).
            columns[question] = pd.Series([s or None for s in strings], dtype=object)
    frame = pd.DataFrame(columns)
    if index is not None:
        frame.index = pd.Index(index)
    return frame


def frame_holds(
    text: str, rows: Sequence[Mapping[str, object]], current: str | None = None
) -> list[bool]:
    """Evaluate text over a frame built from rows, as a list of bools."""
    return evaluate_frame(parse(text), make_frame(rows), current).tolist()


# --- examples ------------------------------------------------------------------------------


def test_result_is_a_plain_bool_series_aligned_to_the_frame() -> None:
    rows = [{CHOICE: "yes"}, {}, {CHOICE: "no"}]
    frame = make_frame(rows, index=["r1", "r2", "r3"])
    result = evaluate_frame(parse("${choice} = 'yes'"), frame)
    assert result.dtype == bool
    assert list(result.index) == ["r1", "r2", "r3"]
    assert result.tolist() == [True, False, False]


def test_unanswered_numbers_are_the_empty_string_not_na() -> None:
    rows: list[dict[str, object]] = [{INTEGER: 0}, {INTEGER: None}, {INTEGER: 7}]
    assert frame_holds("${integer} != ''", rows) == [True, False, True]
    assert frame_holds("${integer} = ''", rows) == [False, True, False]
    assert frame_holds("${integer} < 5", rows) == [True, False, False]
    assert frame_holds("not(${integer} >= 5)", rows) == [True, True, False]


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "float64"])
def test_numeric_columns_of_any_numeric_dtype(dtype: str) -> None:
    frame = pd.DataFrame({"age": pd.array([17, None, 40], dtype=dtype)})
    assert evaluate_frame(parse("${age} >= 18"), frame).tolist() == [False, False, True]
    assert evaluate_frame(parse("${age} = ''"), frame).tolist() == [False, True, False]


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_string_columns_of_any_string_dtype(dtype: object) -> None:
    frame = pd.DataFrame({"m": pd.array(["a b", None, "", "c"], dtype=dtype)})
    assert evaluate_frame(parse("selected(${m}, 'b')"), frame).tolist() == [
        True,
        False,
        False,
        False,
    ]
    assert evaluate_frame(parse("count-selected(${m})"), frame).tolist() == [
        True,
        False,
        False,
        True,
    ]
    assert evaluate_frame(parse("${m} = ''"), frame).tolist() == [False, True, True, False]


def test_multiple_choice_and_text_semantics_match_xpath() -> None:
    rows = [
        {MULTI: ["a", "b"], TEXT: " 5 "},
        {MULTI: ["c"], TEXT: "abc"},
        {MULTI: [], TEXT: "10"},
    ]
    assert frame_holds("selected(${multi}, 'a')", rows) == [True, False, False]
    assert frame_holds("count-selected(${multi}) >= 1", rows) == [True, True, False]
    assert frame_holds("${text} = 5", rows) == [True, False, False]
    assert frame_holds("${text} > 2", rows) == [True, False, True]
    assert frame_holds("${text} != 5", rows) == [False, True, True]


def test_dot_reads_the_current_column() -> None:
    rows: list[dict[str, object]] = [{DECIMAL: 2.5}, {DECIMAL: None}, {DECIMAL: 120.0}]
    assert frame_holds(". > 0 and . < 100", rows, current=DECIMAL) == [True, False, False]


def test_constant_conditions_broadcast() -> None:
    rows: list[dict[str, object]] = [{}, {}]
    assert frame_holds("true()", rows) == [True, True]
    assert frame_holds("1 > 2", rows) == [False, False]


def test_an_empty_frame_gives_an_empty_bool_series() -> None:
    result = evaluate_frame(parse("${choice} = 'x'"), make_frame([]))
    assert result.dtype == bool
    assert result.empty


def test_a_missing_question_column_is_named() -> None:
    with pytest.raises(MissingQuestionError, match=r"no column for \$\{nope\}, \$\{zzz\}"):
        evaluate_frame(parse("${zzz} = 1 or ${nope} = 2 or ${choice} = 'x'"), make_frame([{}]))


def test_dot_without_a_current_column_is_refused() -> None:
    with pytest.raises(ValueError, match="current="):
        evaluate_frame(parse(". > 1"), make_frame([{}]))
    with pytest.raises(MissingQuestionError, match="nope"):
        evaluate_frame(parse(". > 1"), make_frame([{}]), current="nope")


def test_a_string_column_holding_numbers_is_refused() -> None:
    frame = pd.DataFrame({"q": pd.Series([1, "a"], dtype=object)})
    with pytest.raises(TypeError, match="'q' holds mixed"):
        evaluate_frame(parse("${q} = 1"), frame)


# --- the property: both evaluators agree ---------------------------------------------------

# Sample answers per question, chosen to hit the conversion rules: numeric strings with
# whitespace, strings XPath does not read as numbers, non-integral and huge numbers, tabs.
CHOICES = ["a", "b", "c", "1", "5"]
SAMPLE_ANSWERS: dict[str, list[object]] = {
    CHOICE: list(CHOICES),
    MULTI: [["a", "b"], ["5"], ["c", "1", "a"], []],
    INTEGER: [-3, 0, 1, 2, 5, 12],
    DECIMAL: [0.0, -1.5, 2.5, 0.1, 3.0, 1e20, 1e-7, 123456.789],
    TEXT: ["", " ", "5", " 3.5 ", "2\n", "abc", "a b", "a\tb ", "0", "-2", ".5", "true", "1e3"],
}
answer_strategies: dict[str, st.SearchStrategy[object]] = {
    CHOICE: st.sampled_from(CHOICES),
    MULTI: st.lists(st.sampled_from(CHOICES), unique=True, max_size=3),
    INTEGER: st.integers(min_value=-3, max_value=12),
    DECIMAL: st.sampled_from(SAMPLE_ANSWERS[DECIMAL]),
    TEXT: st.sampled_from(SAMPLE_ANSWERS[TEXT]),
}


@st.composite
def responses(draw: st.DrawFn) -> dict[str, object]:
    """Draw one response: each question answered, None, or absent from the mapping."""
    row: dict[str, object] = {}
    for question, answers in answer_strategies.items():
        how = draw(st.sampled_from(["answered", "answered", "answered", "none", "absent"]))
        if how == "answered":
            row[question] = draw(answers)
        elif how == "none":
            row[question] = None
    return row


rows_strategy = st.lists(responses(), min_size=1, max_size=6)

selection_refs = st.one_of(st.sampled_from(QUESTIONS).map(Ref), st.just(Current()))
leaves: st.SearchStrategy[Node] = st.one_of(
    st.sampled_from(QUESTIONS).map(Ref),
    st.sampled_from(QUESTIONS).map(Ref),
    st.just(Current()),
    st.sampled_from(["a", "b", "", "5", " 3.5 ", "abc", "it's", "a b", "true"]).map(Literal),
    st.sampled_from([0.0, 1.0, 2.0, -1.5, 2.5, 3.5, 5.0, 0.1, 1e20]).map(Literal),
    st.booleans().map(Literal),
    selection_refs.map(lambda ref: Call("count-selected", (ref,))),
)


def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    """Combine sub-expressions with every operator of the language, comparisons most often."""
    compare = st.builds(Compare, comparison_ops, children, children)
    return st.one_of(
        compare,
        compare,
        st.builds(And, children, children),
        st.builds(Or, children, children),
        st.builds(Not, children),
        st.builds(lambda ref, needle: Call("selected", (ref, needle)), selection_refs, children),
    )


comparison_ops = st.sampled_from(["=", "!=", "<", ">", "<=", ">="])
expressions = st.recursive(leaves, extend, max_leaves=12)
# One operator over values of every type: where the conversion rules are easiest to get wrong.
operands = st.one_of(leaves, st.builds(Compare, comparison_ops, leaves, leaves))
shallow_expressions = st.one_of(
    st.builds(Compare, comparison_ops, operands, operands),
    st.builds(lambda ref, needle: Call("selected", (ref, needle)), selection_refs, operands),
)


def assert_evaluators_agree(node: Node, rows: list[dict[str, object]], current: str) -> None:
    """Check evaluate_frame gives, row by row, what evaluate gives for each response."""
    # Going through the text also checks that to_text and parse round-trip.
    parsed = parse(to_text(node))
    assert parsed == node
    frame = make_frame(rows, index=[10 * i + 3 for i in range(len(rows))])
    result = evaluate_frame(parsed, frame, current)
    assert result.dtype == bool
    assert len(result) == len(rows)
    for i, row in enumerate(rows):
        expected = evaluate(parsed, row, row.get(current))
        assert result.iloc[i] == expected, (to_text(node), row)


@settings(max_examples=300, deadline=None)
@given(node=expressions, rows=rows_strategy, current=st.sampled_from(QUESTIONS))
def test_frame_and_single_evaluators_agree(
    node: Node, rows: list[dict[str, object]], current: str
) -> None:
    assert_evaluators_agree(node, rows, current)


@settings(max_examples=300, deadline=None)
@given(node=shallow_expressions, rows=rows_strategy, current=st.sampled_from(QUESTIONS))
def test_evaluators_agree_on_every_operator_and_operand_type(
    node: Node, rows: list[dict[str, object]], current: str
) -> None:
    assert_evaluators_agree(node, rows, current)


def every_answer_once() -> list[dict[str, object]]:
    """Rows that between them give every question each sample answer and None."""
    pools = {question: [*answers, None] for question, answers in SAMPLE_ANSWERS.items()}
    longest = max(len(pool) for pool in pools.values())
    return [{q: pool[i % len(pool)] for q, pool in pools.items()} for i in range(longest)]


LEAF_VALUES: list[Node] = [
    *(Ref(q) for q in QUESTIONS),
    Current(),
    *(Literal(v) for v in ["a", "", "5", " 3.5 ", "true"]),
    *(Literal(v) for v in [0.0, 1.0, 2.0, 3.5, 1e20]),
    Literal(True),
    Literal(False),
    *(Call("count-selected", (Ref(q),)) for q in (MULTI, TEXT, DECIMAL)),
]


@pytest.mark.parametrize("op", ["=", "!=", "<", ">", "<=", ">="])
def test_evaluators_agree_on_every_pair_of_operands(op: str) -> None:
    rows = every_answer_once()
    for left in LEAF_VALUES:
        for right in LEAF_VALUES:
            assert_evaluators_agree(Compare(op, left, right), rows, TEXT)


def test_evaluators_agree_on_selected_with_every_needle() -> None:
    rows = every_answer_once()
    refs: list[Node] = [*(Ref(q) for q in QUESTIONS), Current()]
    for ref in refs:
        for needle in LEAF_VALUES:
            assert_evaluators_agree(Call("selected", (ref, needle)), rows, DECIMAL)
