"""The condition language: parsing, errors with positions, and the single-response evaluator."""

from __future__ import annotations

import math

import pytest

from collector.errors import CollectorError
from collector.survey.expr import (
    MAX_DEPTH,
    And,
    Call,
    Compare,
    Current,
    ExprError,
    Literal,
    Not,
    Or,
    Ref,
    evaluate,
    format_number,
    literal_comparisons,
    parse,
    references,
    to_number,
    to_text,
    uses_current,
    value_of,
)

# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${a} = 'x'", Compare("=", Ref("a"), Literal("x"))),
        ('${a} != "x"', Compare("!=", Ref("a"), Literal("x"))),
        ("${age} >= 18", Compare(">=", Ref("age"), Literal(18.0))),
        ("${t}<=-3", Compare("<=", Ref("t"), Literal(-3.0))),
        (". > 2.5", Compare(">", Current(), Literal(2.5))),
        (".5 < .", Compare("<", Literal(0.5), Current())),
        ("true()", Literal(True)),
        ("false( )", Literal(False)),
        ("not(${a})", Not(Ref("a"))),
        ("selected(${m}, 'x')", Call("selected", (Ref("m"), Literal("x")))),
        ("selected(., 'x')", Call("selected", (Current(), Literal("x")))),
        (
            "count-selected(${m}) > 1",
            Compare(">", Call("count-selected", (Ref("m"),)), Literal(1.0)),
        ),
        ("((${a}))", Ref("a")),
        ('"it\'s"', Literal("it's")),
    ],
)
def test_parse_builds_the_ast(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_whitespace_is_insignificant() -> None:
    assert parse("  ${a}='x'\n and\t${b} != 1 ") == parse("${a} = 'x' and ${b} != 1")


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (Compare("=", Ref(q), Literal(1.0)) for q in "abc")
    assert parse("${a} = 1 or ${b} = 1 and ${c} = 1") == Or(a, And(b, c))
    assert parse("${a} = 1 and ${b} = 1 or ${c} = 1") == Or(And(a, b), c)


def test_parentheses_override_precedence() -> None:
    a, b, c = (Compare("=", Ref(q), Literal(1.0)) for q in "abc")
    assert parse("(${a} = 1 or ${b} = 1) and ${c} = 1") == And(Or(a, b), c)


def test_and_and_or_are_left_associative() -> None:
    a, b, c = Ref("a"), Ref("b"), Ref("c")
    assert parse("${a} and ${b} and ${c}") == And(And(a, b), c)
    assert parse("${a} or ${b} or ${c}") == Or(Or(a, b), c)


def test_comparison_binds_tighter_than_and() -> None:
    assert parse("${a} = 1 and ${b}") == And(Compare("=", Ref("a"), Literal(1.0)), Ref("b"))


def test_a_parenthesised_comparison_may_be_compared() -> None:
    inner = Compare("=", Ref("a"), Ref("b"))
    assert parse("(${a} = ${b}) = true()") == Compare("=", inner, Literal(True))


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("${a} = 'x')", "unexpected ')' at position 10", 10),
        ("${a} = 'x' ${b}", "unexpected reference ${b} at position 11", 11),
        ("${a} = 1 2", "unexpected number 2 at position 9", 9),
        ("${a} =", "unexpected end of expression at position 6", 6),
        ("${a} = 'x", "unterminated string starting at position 7", 7),
        ('${a} = "x', "unterminated string starting at position 7", 7),
        ("foo(${a})", "unknown function foo() at position 0", 0),
        ("${a} = 1 or string-length(${b}) > 2", "unknown function string-length()", 12),
        ("(${a} = 1", "missing ')' to close '(' at position 0", 9),
        ("not(${a} = 1", "missing ')' to close '(' at position 3", 12),
        ("selected(${a}, 'x' ${b})", "missing ')' to close '(' at position 8", 19),
        ("${1a} = 1", "bad reference at position 0: expected a question id", 0),
        ("${} = 1", "bad reference at position 0", 0),
        ("${a = 1", "bad reference at position 0: expected '}' after '${a'", 0),
        ("${a b} = 1", "bad reference at position 0", 0),
        ("$a = 1", "unexpected character '$' at position 0", 0),
        ("${a} = 1 #", "unexpected character '#' at position 9", 9),
        ("${a} - 1", "unexpected character '-' at position 5", 5),
        ("", "empty expression at position 0", 0),
        ("   ", "empty expression at position 0", 0),
        ("${a} = yes", "unexpected name 'yes' at position 7 (text values need quotes", 7),
        ("${a} = 1 AND ${b} = 2", "(operators are lowercase: 'and')", 9),
        ("${a} = ${b} = 1", "unexpected '=' at position 12 (comparisons cannot be chained", 12),
        ("${a} < 1 > 0", "comparisons cannot be chained", 9),
        ("not ${a}", "expected '(' after 'not'", 4),
        ("true", "unexpected end of expression at position 4", 4),
        ("selected(${a})", "selected() takes 2 arguments, got 1, at position 0", 0),
        ("count-selected(${a}, 'x')", "count-selected() takes 1 argument, got 2", 0),
        ("true(1)", "true() takes 0 arguments, got 1", 0),
        ("not()", "not() takes 1 argument, got 0", 0),
        ("selected('a b', 'a')", "selected() needs a question reference", 0),
        ("${a} = 1 and", "unexpected end of expression at position 12", 12),
        ("and ${a}", "unexpected name 'and' at position 0", 0),
        (")", "unexpected ')' at position 0", 0),
        ("${a} = 1.2.3", "unexpected number .3 at position 10", 10),
    ],
)
def test_bad_conditions_are_reported_with_their_position(
    text: str, fragment: str, position: int
) -> None:
    with pytest.raises(ExprError) as caught:
        parse(text)
    assert fragment in str(caught.value)
    assert caught.value.position == position
    assert caught.value.text == text


def test_expr_error_is_a_coded_collector_error() -> None:
    with pytest.raises(CollectorError) as caught:
        parse("${a} = 'x')")
    assert caught.value.code == "bad_condition"
    assert str(caught.value) == "unexpected ')' at position 10 (no '(' to close) in: ${a} = 'x')"


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(ExprError, match="nested more than"):
        parse("(" * 1000 + "1" + ")" * 1000)
    with pytest.raises(ExprError, match="nested more than"):
        parse(" and ".join(["${a}"] * (MAX_DEPTH + 5)))
    assert parse("(" * 50 + "1" + ")" * 50) == Literal(1.0)


# --- inspection ----------------------------------------------------------------------------


def test_references_lists_question_ids() -> None:
    node = parse("${a} = 'x' and (selected(${b}, 'y') or count-selected(${c}) > ${a}) and . = 1")
    assert references(node) == {"a", "b", "c"}
    assert uses_current(node)
    assert not uses_current(parse("${a} = 1"))


def test_literal_comparisons_finds_choice_values_in_source_order() -> None:
    node = parse(
        "${a} = 'x' or 'y' != ${b} or selected(${c}, 'z') or ${d} = 1 or ${e} < 'q'"
        " or . = 'w' or selected(., 'v') or ${f} = ${g}"
    )
    assert literal_comparisons(node) == [("a", "x"), ("b", "y"), ("c", "z")]


@pytest.mark.parametrize(
    "text",
    [
        "${a} = 'x' or ${b} = 1 and not(${c} != \"it's\")",
        "(${a} or ${b}) and (${c} or ${d} and ${e})",
        "${a} and (${b} and ${c})",
        "(${a} = 1) = true() or selected(., ${b})",
        "count-selected(${m}) >= 0.000001 or ${x} < -12345678901234567890",
    ],
)
def test_to_text_round_trips(text: str) -> None:
    node = parse(text)
    assert parse(to_text(node)) == node


# --- the single-response evaluator ---------------------------------------------------------


def holds(text: str, current: object = None, **answers: object) -> bool:
    """Evaluate text against keyword answers."""
    return evaluate(parse(text), answers, current)


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        # strings
        ("${c} = 'yes'", {"c": "yes"}, True),
        ("${c} = 'yes'", {"c": "no"}, False),
        ("${c} != 'yes'", {"c": "no"}, True),
        ("${c} = ${d}", {"c": "x", "d": "x"}, True),
        # numbers win over strings in = and !=
        ("${n} = 5", {"n": 5}, True),
        ("${n} = '5'", {"n": 5}, True),
        ("${t} = 5", {"t": " 5.0 "}, True),
        ("${t} = 5", {"t": "5 apples"}, False),
        ("${t} != 5", {"t": "abc"}, True),  # NaN != x is true
        ("${n} = 2.5", {"n": 2.5}, True),
        # booleans win over numbers and strings
        ("${t} = true()", {"t": "no"}, True),
        ("${n} = true()", {"n": 5}, True),
        ("${n} = false()", {"n": 0}, True),
        ("(${n} > 1) = (${m} > 1)", {"n": 5, "m": 7}, True),
        # relational operators always compare numbers
        ("${n} < 10", {"n": 3}, True),
        ("${n} > 10", {"n": 3}, False),
        ("${n} <= 3", {"n": 3}, True),
        ("${n} >= 3.5", {"n": 3}, False),
        ("${t} > 2", {"t": "10"}, True),  # not a string comparison
        ("${t} < 2", {"t": "abc"}, False),
        ("${t} >= 2", {"t": "abc"}, False),
        ("true() > 0", {}, True),
        # and / or / not convert to boolean
        ("${c} and ${n}", {"c": "x", "n": 1}, True),
        ("${c} and ${n}", {"c": "x", "n": 0}, False),
        ("${c} or ${n}", {"c": "", "n": 0}, False),
        ("not(${c})", {"c": ""}, True),
        ("not(${n} = 1)", {"n": 2}, True),
        # selected / count-selected
        ("selected(${m}, 'b')", {"m": ["a", "b"]}, True),
        ("selected(${m}, 'c')", {"m": ["a", "b"]}, False),
        ("selected(${m}, 'a b')", {"m": ["a", "b"]}, False),
        ("selected(${m}, ' b ')", {"m": ("a", "b")}, True),
        ("selected(${c}, 'yes')", {"c": "yes"}, True),
        ("selected(${c}, 'ye')", {"c": "yes"}, False),
        ("selected(${n}, 3)", {"n": 3}, True),
        ("count-selected(${m}) = 2", {"m": ["a", "b"]}, True),
        ("count-selected(${m}) = 2", {"m": "a  b"}, True),
        ("count-selected(${m}) = 0", {"m": []}, True),
        # a bare value is converted to boolean
        ("${c}", {"c": "x"}, True),
        ("${n}", {"n": 0}, False),
        ("'0'", {}, True),
        ("0", {}, False),
    ],
)
def test_each_operator_follows_xpath(text: str, answers: dict[str, object], expected: bool) -> None:
    assert holds(text, **answers) is expected


@pytest.mark.parametrize("unanswered", [{}, {"n": None}, {"n": math.nan}])
def test_an_unanswered_question_is_the_empty_string(unanswered: dict[str, object]) -> None:
    assert holds("${n} = ''", **unanswered)
    assert not holds("${n} != ''", **unanswered)
    assert not holds("${n} = 0", **unanswered)  # number('') is NaN
    assert holds("${n} != 0", **unanswered)
    assert not holds("${n} < 1", **unanswered)
    assert not holds("${n} >= 0", **unanswered)
    assert not holds("${n}", **unanswered)
    assert holds("not(${n})", **unanswered)
    assert not holds("selected(${n}, '')", **unanswered)
    assert holds("count-selected(${n}) = 0", **unanswered)


def test_an_answered_number_is_not_the_empty_string() -> None:
    assert holds("${n} != ''", n=0)
    assert not holds("${n} = ''", n=0)


def test_an_empty_multiple_choice_selection_is_unanswered() -> None:
    assert holds("${m} = ''", m=[])
    assert value_of(Ref("m"), {"m": ["a", "b"]}) == "a b"


def test_dot_is_the_current_questions_value() -> None:
    assert holds(". >= 18 and . < 120", current=30)
    assert not holds(". >= 18", current=12)
    assert holds(". = ''", current=None)
    assert holds("selected(., 'b') and count-selected(.) <= 2", current=["a", "b"])
    assert holds(". != ${other}", current="x", other="y")


def test_answers_of_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError, match="dict"):
        holds("${a} = 1", a={"x": 1})


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (3.0, "3"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (1e20, "1e+20"),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
    ],
)
def test_numbers_become_strings_without_a_trailing_point_zero(number: float, text: str) -> None:
    assert format_number(number) == text


@pytest.mark.parametrize(
    ("text", "number"),
    [(" 5 ", 5.0), ("-2.5", -2.5), (".5", 0.5), ("5.", 5.0), ("1e3", math.nan), ("+1", math.nan)],
)
def test_strings_become_numbers_by_xpath_rules(text: str, number: float) -> None:
    result = to_number(text)
    assert result == number or (math.isnan(result) and math.isnan(number))
