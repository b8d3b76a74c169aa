"""The condition language: the XLSForm/ODK expression subset, parsed once into an AST.

Conditions drive skip logic (``relevant``), answer constraints and KPI numerators and
denominators. The grammar, lowest precedence first::

    expr       := and ("or" and)*
    and        := comparison ("and" comparison)*
    comparison := primary (("=" | "!=" | "<" | ">" | "<=" | ">=") primary)?
    primary    := "${" question_id "}" | "." | string | number
                | "(" expr ")" | function "(" [expr ("," expr)*] ")"
    function   := "true" | "false" | "not" | "selected" | "count-selected"

Comparisons do not chain (``${a} = ${b} = ${c}`` is an error: XPath would compare a boolean
with ``${c}``, which is never what a form author means). ``and`` and ``or`` are left-associative.

Values follow XPath 1.0: a reference is a string, a number or, for an unanswered question, the
empty string; a multiple-choice answer is its selected values joined by single spaces. This module
holds the parser and the evaluator for one response; ``analysis.conditions`` evaluates the same
AST over a pandas DataFrame, and a property test keeps the two in agreement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TypeAlias

from collector.errors import CollectorError

__all__ = [
    "MAX_DEPTH",
    "And",
    "Call",
    "Compare",
    "Current",
    "ExprError",
    "Literal",
    "Node",
    "Not",
    "Or",
    "Ref",
    "Value",
    "evaluate",
    "format_number",
    "literal_comparisons",
    "parse",
    "references",
    "to_boolean",
    "to_number",
    "to_string",
    "to_text",
    "uses_current",
    "value_of",
]

# Deeper expressions are refused so that parsing and evaluation never hit Python's recursion
# limit; real forms stay far below this.
MAX_DEPTH = 100

COMPARISON_OPS = frozenset({"=", "!=", "<", ">", "<=", ">="})
EQUALITY_OPS = frozenset({"=", "!="})
# name -> number of arguments
FUNCTIONS: dict[str, int] = {
    "true": 0,
    "false": 0,
    "not": 1,
    "selected": 2,
    "count-selected": 1,
}

QUESTION_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What XPath number() accepts after stripping whitespace: no exponent, no '+', ASCII digits only.
NUMBER_TEXT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")
_NUMBER_TOKEN = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">", "(", ")", ",")
# Integer-valued numbers below this print without a decimal point (exact in a float64).
_INTEGER_LIMIT = 2.0**53


class ExprError(CollectorError):
    """A condition that cannot be parsed, with the offending position in its text."""

    code = "bad_condition"

    def __init__(self, message: str, *, text: str, position: int) -> None:
        super().__init__(message)
        self.text = text
        self.position = position


# --- AST -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, number or boolean constant."""

    value: str | float | bool


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to another question's answer: ``${name}``."""

    name: str


@dataclass(frozen=True, slots=True)
class Current:
    """The current question's value: ``.``."""


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison: ``left op right`` with op one of = != < > <= >=."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class And:
    """Both operands are true."""

    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    """Either operand is true."""

    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    """The operand is false: ``not(...)``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Call:
    """``selected(ref, value)`` or ``count-selected(ref)``; ref is a Ref or Current."""

    name: str
    args: tuple[Node, ...]


Node: TypeAlias = Literal | Ref | Current | Compare | And | Or | Not | Call
Value: TypeAlias = str | float | bool


# --- tokenizer -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ref, dot, string, number, name, op, end
    text: str  # the source text of the token
    value: str | float
    position: int

    def describe(self) -> str:
        if self.kind == "end":
            return "end of expression"
        if self.kind == "name":
            return f"name {self.text!r}"
        if self.kind in ("op", "dot"):
            return repr(self.text)
        if self.kind == "ref":
            return f"reference {self.text}"
        return f"{self.kind} {self.text}"


def _error(problem: str, text: str, position: int) -> ExprError:
    return ExprError(f"{problem} in: {text}", text=text, position=position)


def _tokens(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "$":
            token = _reference(text, i)
            yield token
            i += len(token.text)
        elif ch in "'\"":
            end = text.find(ch, i + 1)
            if end < 0:
                raise _error(f"unterminated string starting at position {i}", text, i)
            yield _Token("string", text[i : end + 1], text[i + 1 : end], i)
            i = end + 1
        elif m := _NUMBER_TOKEN.match(text, i):
            yield _Token("number", m.group(), float(m.group()), i)
            i = m.end()
        elif ch == ".":
            yield _Token("dot", ".", ".", i)
            i += 1
        elif m := _NAME.match(text, i):
            yield _Token("name", m.group(), m.group(), i)
            i = m.end()
        else:
            for op in _OPERATORS:
                if text.startswith(op, i):
                    yield _Token("op", op, op, i)
                    i += len(op)
                    break
            else:
                raise _error(f"unexpected character {ch!r} at position {i}", text, i)
    yield _Token("end", "", "", n)


def _reference(text: str, start: int) -> _Token:
    if not text.startswith("${", start):
        raise _error(
            f"unexpected character '$' at position {start} (references look like ${{question_id}})",
            text,
            start,
        )
    m = QUESTION_ID.match(text, start + 2)
    if m is None:
        raise _error(
            f"bad reference at position {start}: expected a question id after '${{'", text, start
        )
    if not text.startswith("}", m.end()):
        raise _error(
            f"bad reference at position {start}: expected '}}' after {text[start : m.end()]!r}",
            text,
            start,
        )
    return _Token("ref", text[start : m.end() + 1], m.group(), start)


# --- parser --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_tokens(text))
        self.i = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def unexpected(self, hint: str = "") -> ExprError:
        token = self.token
        problem = f"unexpected {token.describe()} at position {token.position}"
        return _error(problem + (f" ({hint})" if hint else ""), self.text, token.position)

    def is_keyword(self, word: str) -> bool:
        return self.token.kind == "name" and self.token.text == word

    def nest(self, position: int) -> None:
        # Guards the parser's own recursion; _depth() below guards the evaluators'.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(
                f"expression nested more than {MAX_DEPTH} levels deep at position {position}",
                self.text,
                position,
            )

    def parse(self) -> Node:
        if not self.text.strip():
            raise ExprError("empty expression at position 0", text=self.text, position=0)
        node = self.parse_or()
        if self.token.kind != "end":
            hint = ""
            if self.token.kind == "name" and self.token.text.lower() in ("and", "or"):
                hint = f"operators are lowercase: {self.token.text.lower()!r}"
            elif self.token.kind == "op" and self.token.text == ")":
                hint = "no '(' to close"
            raise self.unexpected(hint)
        if _depth(node) > MAX_DEPTH:
            raise _error(f"expression nested more than {MAX_DEPTH} levels deep", self.text, 0)
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.is_keyword("or"):
            self.advance()
            node = Or(node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_comparison()
        while self.is_keyword("and"):
            self.advance()
            node = And(node, self.parse_comparison())
        return node

    def parse_comparison(self) -> Node:
        node = self.parse_primary()
        if self.token.kind == "op" and self.token.text in COMPARISON_OPS:
            op = self.advance().text
            node = Compare(op, node, self.parse_primary())
            if self.token.kind == "op" and self.token.text in COMPARISON_OPS:
                raise self.unexpected("comparisons cannot be chained; join them with 'and'")
        return node

    def parse_primary(self) -> Node:
        token = self.token
        if token.kind == "ref":
            self.advance()
            return Ref(str(token.value))
        if token.kind == "dot":
            self.advance()
            return Current()
        if token.kind in ("string", "number"):
            self.advance()
            return Literal(token.value)
        if token.kind == "op" and token.text == "(":
            self.advance()
            self.nest(token.position)
            node = self.parse_or()
            self.expect_close(token)
            self.depth -= 1
            return node
        if token.kind == "name":
            following = self.tokens[self.i + 1]
            if following.kind == "op" and following.text == "(" and token.text not in ("and", "or"):
                return self.parse_call()
            if token.text in FUNCTIONS:
                self.advance()
                raise self.unexpected(f"expected '(' after {token.text!r}")
            if token.text not in ("and", "or"):
                raise self.unexpected(f"text values need quotes: '{token.text}'")
        raise self.unexpected("expected a value")

    def expect_close(self, opening: _Token) -> None:
        if self.token.kind == "op" and self.token.text == ")":
            self.advance()
            return
        found = self.token
        raise _error(
            f"missing ')' to close '(' at position {opening.position}: "
            f"found {found.describe()} at position {found.position}",
            self.text,
            found.position,
        )

    def parse_call(self) -> Node:
        name_token = self.advance()
        name = name_token.text
        if name not in FUNCTIONS:
            raise _error(
                f"unknown function {name}() at position {name_token.position}",
                self.text,
                name_token.position,
            )
        opening = self.advance()
        self.nest(opening.position)
        args: list[Node] = []
        if not (self.token.kind == "op" and self.token.text == ")"):
            args.append(self.parse_or())
            while self.token.kind == "op" and self.token.text == ",":
                self.advance()
                args.append(self.parse_or())
        self.expect_close(opening)
        self.depth -= 1
        arity = FUNCTIONS[name]
        if len(args) != arity:
            plural = "argument" if arity == 1 else "arguments"
            raise _error(
                f"{name}() takes {arity} {plural}, got {len(args)}, at position "
                f"{name_token.position}",
                self.text,
                name_token.position,
            )
        if name == "true":
            return Literal(True)
        if name == "false":
            return Literal(False)
        if name == "not":
            return Not(args[0])
        if not isinstance(args[0], Ref | Current):
            raise _error(
                f"{name}() needs a question reference such as ${{q}} or '.' as its first "
                f"argument, at position {name_token.position}",
                self.text,
                name_token.position,
            )
        return Call(name, tuple(args))


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """Parse a condition into its AST, raising ExprError with the position of any mistake."""
    return _Parser(text).parse()


# --- inspection ----------------------------------------------------------------------------


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Compare | And | Or):
        return (node.left, node.right)
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()


def _depth(node: Node) -> int:
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in _children(current))
    return deepest


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in _children(node):
        yield from _walk(child)


def references(node: Node) -> set[str]:
    """Return the question ids the condition refers to with ${...}."""
    return {n.name for n in _walk(node) if isinstance(n, Ref)}


def uses_current(node: Node) -> bool:
    """Tell whether the condition uses '.', the current question's value."""
    return any(isinstance(n, Current) for n in _walk(node))


def literal_comparisons(node: Node) -> list[tuple[str, str]]:
    """List (question id, string literal) pairs compared with = / != or tested by selected()."""
    pairs: list[tuple[str, str]] = []
    for n in _walk(node):
        if isinstance(n, Compare) and n.op in EQUALITY_OPS:
            for ref, lit in ((n.left, n.right), (n.right, n.left)):
                if isinstance(ref, Ref) and isinstance(lit, Literal) and isinstance(lit.value, str):
                    pairs.append((ref.name, lit.value))
        elif isinstance(n, Call) and n.name == "selected":
            ref, lit = n.args
            if isinstance(ref, Ref) and isinstance(lit, Literal) and isinstance(lit.value, str):
                pairs.append((ref.name, lit.value))
    return pairs


_PARENTHESISE: dict[str, tuple[type, ...]] = {
    # (parent type, side) -> child types that need parentheses to keep the same tree
    "or-left": (),
    "or-right": (Or,),
    "and-left": (Or,),
    "and-right": (Or, And),
    "compare": (Or, And, Compare),
}


def to_text(node: Node) -> str:
    """Render the AST back to condition text that parses to the same AST."""

    def sub(child: Node, place: str) -> str:
        text = to_text(child)
        return f"({text})" if isinstance(child, _PARENTHESISE[place]) else text

    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, bool):
            return "true()" if value else "false()"
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{value} cannot be written as a literal")
            return format(Decimal(repr(value)), "f")
        if "'" not in value:
            return f"'{value}'"
        if '"' not in value:
            return f'"{value}"'
        raise ValueError(f"{value!r} holds both quote characters and cannot be a literal")
    if isinstance(node, Ref):
        return f"${{{node.name}}}"
    if isinstance(node, Current):
        return "."
    if isinstance(node, Compare):
        return f"{sub(node.left, 'compare')} {node.op} {sub(node.right, 'compare')}"
    if isinstance(node, And):
        return f"{sub(node.left, 'and-left')} and {sub(node.right, 'and-right')}"
    if isinstance(node, Or):
        return f"{sub(node.left, 'or-left')} or {sub(node.right, 'or-right')}"
    if isinstance(node, Not):
        return f"not({to_text(node.operand)})"
    return f"{node.name}({', '.join(to_text(arg) for arg in node.args)})"


# --- values (XPath 1.0 conversions) --------------------------------------------------------


def format_number(x: float) -> str:
    """Convert a number to a string as XPath string() does (integers without '.0')."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == math.floor(x) and abs(x) < _INTEGER_LIMIT:
        return str(int(x))
    return repr(x)


def to_number(value: Value) -> float:
    """Convert a value to a number as XPath number() does (NaN for anything not a decimal)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    text = value.strip()
    return float(text) if NUMBER_TEXT.fullmatch(text) else math.nan


def to_string(value: Value) -> str:
    """Convert a value to a string as XPath string() does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_number(value)
    return value


def to_boolean(value: Value) -> bool:
    """Convert a value to a boolean as XPath boolean() does."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    return value != ""


def answer_value(answer: object) -> Value:
    """Turn a stored answer (str, number, list of choices or None) into its expression value."""
    if answer is None:
        return ""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, int | float):  # bool is an int: true counts as 1
        number = float(answer)
        # NaN is how numeric frames spell "unanswered"; treat it the same way here.
        return "" if math.isnan(number) else number
    if isinstance(answer, list | tuple):
        return " ".join(str(choice) for choice in answer)
    raise TypeError(f"cannot use an answer of type {type(answer).__name__} in a condition")


# --- single-response evaluator -------------------------------------------------------------


def value_of(node: Node, answers: Mapping[str, object], current: object = None) -> Value:
    """Evaluate a sub-expression for one response to its XPath value."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Ref):
        return answer_value(answers.get(node.name))
    if isinstance(node, Current):
        return answer_value(current)
    if isinstance(node, Compare):
        left = value_of(node.left, answers, current)
        right = value_of(node.right, answers, current)
        return _compare(node.op, left, right)
    if isinstance(node, And):
        return to_boolean(value_of(node.left, answers, current)) and to_boolean(
            value_of(node.right, answers, current)
        )
    if isinstance(node, Or):
        return to_boolean(value_of(node.left, answers, current)) or to_boolean(
            value_of(node.right, answers, current)
        )
    if isinstance(node, Not):
        return not to_boolean(value_of(node.operand, answers, current))
    tokens = to_string(value_of(node.args[0], answers, current)).split()
    if node.name == "count-selected":
        return float(len(tokens))
    needle = to_string(value_of(node.args[1], answers, current)).strip()
    return needle in tokens


def _compare(op: str, left: Value, right: Value) -> bool:
    if op in EQUALITY_OPS:
        # XPath 1.0 order: a boolean operand wins over a number, a number over a string.
        if isinstance(left, bool) or isinstance(right, bool):
            equal = to_boolean(left) == to_boolean(right)
        elif isinstance(left, float) or isinstance(right, float):
            equal = to_number(left) == to_number(right)  # NaN equals nothing
        else:
            equal = left == right
        return equal if op == "=" else not equal
    x, y = to_number(left), to_number(right)
    if op == "<":
        return x < y
    if op == ">":
        return x > y
    if op == "<=":
        return x <= y
    return x >= y


def evaluate(node: Node, answers: Mapping[str, object], current: object = None) -> bool:
    """Tell whether the condition holds for one response's answers (and '.' = current)."""
    return to_boolean(value_of(node, answers, current))
