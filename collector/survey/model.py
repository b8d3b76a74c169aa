"""Survey definitions in memory: labels, choices, questions, and turning raw input into answers."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from collector import i18n
from collector.errors import CollectorError, NotFound
from collector.i18n import N_
from collector.survey.expr import Node, evaluate, parse

ENGLISH = "en"
MAX_TEXT_LENGTH = 2000

# Multiple-choice answers are stored space-separated (as in XLSForm), so values have no spaces.
CHOICE_VALUE = re.compile(r"[A-Za-z0-9_-]+")
# A question id must be usable inside ${...} in the condition language.
QUESTION_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SURVEY_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")

_INTEGER = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)")
_DECIMAL = re.compile(r"[+-]?(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)")
_MAX_NUMBER_LENGTH = 40
_SEPARATORS = re.compile(r"[\s,]+")


class QuestionType(StrEnum):
    """The kinds of question a survey can ask."""

    SINGLE = "single"
    MULTIPLE = "multiple"
    SCALE = "scale"  # a single choice whose choices are listed in order (best first or worst first)
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"
    NOTE = "note"  # text shown to the respondent, never answered


CHOICE_TYPES = frozenset({QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.SCALE})
NUMBER_TYPES = frozenset({QuestionType.INTEGER, QuestionType.DECIMAL})


@dataclass(frozen=True, init=False)
class Labels:
    """Text in one or more languages, always with English."""

    texts: tuple[tuple[str, str], ...]

    def __init__(self, texts: Mapping[str, str] | str) -> None:
        if isinstance(texts, str):
            texts = {ENGLISH: texts}
        if not texts.get(ENGLISH):
            raise ValueError("a label needs English ('en') text")
        object.__setattr__(self, "texts", tuple(sorted(texts.items())))

    def get(self, lang: str | None = None) -> str:
        """Return the text in a language, falling back to English."""
        english = ""
        for code, text in self.texts:
            if code == lang:
                return text
            if code == ENGLISH:
                english = text
        return english

    @property
    def languages(self) -> frozenset[str]:
        """Return the languages this label has text for."""
        return frozenset(code for code, _ in self.texts)

    def to_dict(self) -> dict[str, str]:
        """Return the texts as a plain language -> text dict."""
        return dict(self.texts)


# The messages for an answer that cannot be stored, in English, keyed by message id; the
# gettext catalogs translate them (collector.i18n).
ANSWER_MESSAGES: dict[str, str] = {
    "select_one": N_("Select an answer"),
    "select_some": N_("Select at least one answer"),
    "enter_number": N_("Enter a number"),
    "enter_text": N_("Enter an answer"),
    "not_a_choice": N_("Select one of the options shown"),
    "only_one_choice": N_("Select only one answer"),
    "only_one_answer": N_("Enter one answer"),
    "not_an_integer": N_("Enter a whole number, like 12"),
    "not_a_number": N_("Enter a number, like 2.5"),
    "too_small": N_("Enter a number of %(min)s or more"),
    "too_large": N_("Enter a number of %(max)s or less"),
    "out_of_range": N_("Enter a number from %(min)s to %(max)s"),
    "too_long": N_("Enter %(max)s characters or fewer"),
    "constraint": N_("Check your answer"),
    "exclusive": N_("Select '%(choice)s' on its own, or only the ones that apply"),
}


class AnswerError(CollectorError):
    """An answer that cannot be stored, with a plain message for the respondent."""

    code = "invalid_answer"
    status = 422

    def __init__(
        self,
        code: str,
        message_id: str | None = None,
        *,
        params: Mapping[str, object] | None = None,
        custom: Labels | None = None,
    ) -> None:
        self.message_id = message_id or code
        self.params = dict(params or {})
        self.custom = custom
        super().__init__(self.message_in(ENGLISH), code=code)

    def message_in(self, lang: str | None = None) -> str:
        """Return the message in a language, falling back to English."""
        if self.custom is not None:
            return self.custom.get(lang)
        values = {
            key: value.get(lang) if isinstance(value, Labels) else value
            for key, value in self.params.items()
        }
        return i18n.translate(lang, ANSWER_MESSAGES[self.message_id], **values)


@dataclass(frozen=True)
class Choice:
    """One option of a choice question.

    `exclusive`: on a multiple-choice question, the choice goes on its own ("None of these").
    """

    value: str
    label: Labels
    exclusive: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the choice as plain data."""
        data: dict[str, Any] = {"value": self.value, "label": self.label.to_dict()}
        if self.exclusive:  # only when set, so that other definitions keep their fingerprints
            data["exclusive"] = True
        return data


@dataclass(frozen=True)
class Question:
    """One question (or note) of a survey, with its choices, conditions and limits."""

    id: str
    type: QuestionType
    label: Labels
    hint: Labels | None = None
    choices: tuple[Choice, ...] = ()
    choice_list: str | None = None
    required: bool = True
    relevant: str | None = None
    constraint: str | None = None
    constraint_message: Labels | None = None
    min: int | float | None = None
    max: int | float | None = None
    relevant_node: Node | None = field(default=None, compare=False, repr=False)
    constraint_node: Node | None = field(default=None, compare=False, repr=False)
    _by_value: dict[str, Choice] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", QuestionType(self.type))
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.type is QuestionType.NOTE:
            object.__setattr__(self, "required", False)
        if self.is_choice and not self.choices:
            raise ValueError(f"question {self.id!r}: a {self.type} question needs choices")
        if self.relevant is not None and self.relevant_node is None:
            object.__setattr__(self, "relevant_node", parse(self.relevant))
        if self.constraint is not None and self.constraint_node is None:
            object.__setattr__(self, "constraint_node", parse(self.constraint))
        object.__setattr__(self, "_by_value", {c.value: c for c in self.choices})

    @property
    def is_choice(self) -> bool:
        """Return whether the answer is picked from choices."""
        return self.type in CHOICE_TYPES

    @property
    def answerable(self) -> bool:
        """Return whether the question takes an answer (everything but a note)."""
        return self.type is not QuestionType.NOTE

    def choice(self, value: str) -> Choice:
        """Return the choice with this value."""
        try:
            return self._by_value[value]
        except KeyError:
            raise NotFound(f"Question {self.id!r} has no choice {value!r}") from None

    def is_relevant(self, answers: Mapping[str, object]) -> bool:
        """Return whether the question should be asked, given the decoded answers so far."""
        return self.relevant_node is None or evaluate(self.relevant_node, answers)

    def coerce(self, raw: str | Sequence[str] | None) -> str | None:
        """Turn raw input into the stored answer, or None when an optional question is skipped."""
        if self.type is QuestionType.NOTE:
            return None
        if self.type is QuestionType.MULTIPLE:
            return self._coerce_multiple(raw)
        text = self._one_input(raw)
        if text == "":
            if self.required:
                raise AnswerError("required", self._required_message())
            return None
        if self.type in (QuestionType.SINGLE, QuestionType.SCALE):
            choice = self._match(text)
            if choice is None:
                raise AnswerError("not_a_choice")
            return choice.value
        if self.type is QuestionType.INTEGER:
            return self._coerce_integer(text)
        if self.type is QuestionType.DECIMAL:
            return self._coerce_decimal(text)
        return self._coerce_text(text)

    def decode(self, stored: str) -> str | int | float | list[str]:
        """Turn a stored answer into the value the condition language expects."""
        if self.type is QuestionType.MULTIPLE:
            return stored.split()
        if self.type is QuestionType.INTEGER:
            return int(stored)
        if self.type is QuestionType.DECIMAL:
            return float(stored)
        return stored

    def check_constraint(
        self, value: str | int | float | list[str] | None, answers: Mapping[str, object]
    ) -> None:
        """Raise AnswerError when an answer (stored or decoded) breaks the question's constraint.

        An exclusive choice chosen with others breaks it too, with the constraint's message
        when the question has one.
        """
        if value is None:
            return
        # decode() is idempotent in effect: a stored string is decoded, a decoded value kept.
        current = self.decode(value) if isinstance(value, str) else value
        if isinstance(current, list) and len(current) > 1:
            for choice in self.choices:
                if choice.exclusive and choice.value in current:
                    raise AnswerError(
                        "constraint",
                        "exclusive",
                        params={"choice": choice.label},
                        custom=self.constraint_message,
                    )
        if self.constraint_node is None:
            return
        # ${this_question} inside its own constraint means the answer being checked.
        with_current = {**answers, self.id: current}
        if not evaluate(self.constraint_node, with_current, current):
            raise AnswerError("constraint", custom=self.constraint_message)

    def validate(
        self, raw: str | Sequence[str] | None, answers: Mapping[str, object]
    ) -> str | None:
        """Coerce raw input and check the constraint; return the stored answer."""
        value = self.coerce(raw)
        self.check_constraint(value, answers)
        return value

    def to_dict(self) -> dict[str, Any]:
        """Return the question as plain data in the YAML definition format."""
        data: dict[str, Any] = {
            "id": self.id,
            "type": str(self.type),
            "label": self.label.to_dict(),
        }
        if self.hint is not None:
            data["hint"] = self.hint.to_dict()
        if self.is_choice:
            if self.choice_list is not None:
                data["choices"] = self.choice_list
            else:
                data["choices"] = [c.to_dict() for c in self.choices]
        if self.answerable:
            data["required"] = self.required
        optional = {
            "relevant": self.relevant,
            "constraint": self.constraint,
            "constraint_message": self.constraint_message and self.constraint_message.to_dict(),
            "min": self.min,
            "max": self.max,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        return data

    def _required_message(self) -> str:
        if self.type in (QuestionType.SINGLE, QuestionType.SCALE):
            return "select_one"
        if self.type in NUMBER_TYPES:
            return "enter_number"
        return "enter_text"

    def _one_input(self, raw: str | Sequence[str] | None) -> str:
        if raw is None:
            return ""
        if isinstance(raw, str):
            return raw.strip()
        items = [item.strip() for item in raw if item.strip()]
        if len(items) > 1:
            if self.is_choice:
                raise AnswerError("not_a_choice", "only_one_choice")
            raise AnswerError("too_many", "only_one_answer")
        return items[0] if items else ""

    def _match(self, text: str) -> Choice | None:
        # Exact values first (buttons and forms send them), then what a person might type.
        if text in self._by_value:
            return self._by_value[text]
        folded = text.casefold()
        by_value = [c for c in self.choices if c.value.casefold() == folded]
        if len(by_value) == 1:
            return by_value[0]
        by_label = [
            c for c in self.choices if any(t.casefold() == folded for _, t in c.label.texts)
        ]
        return by_label[0] if len(by_label) == 1 else None

    def _coerce_multiple(self, raw: str | Sequence[str] | None) -> str | None:
        items = [] if raw is None else [raw] if isinstance(raw, str) else list(raw)
        selected: set[str] = set()
        for item in items:
            item = item.strip()
            if not item:
                continue
            whole = self._match(item)
            if whole is not None:
                selected.add(whole.value)
                continue
            for token in _SEPARATORS.split(item):
                if not token:
                    continue
                choice = self._match(token)
                if choice is None:
                    raise AnswerError("not_a_choice")
                selected.add(choice.value)
        if not selected:
            if self.required:
                raise AnswerError("required", "select_some")
            return None
        return " ".join(c.value for c in self.choices if c.value in selected)

    def _coerce_integer(self, text: str) -> str:
        if len(text) > _MAX_NUMBER_LENGTH or not _INTEGER.fullmatch(text):
            raise AnswerError("not_an_integer")
        number = int(text.replace(",", ""))
        self._check_range(Decimal(number))
        return str(number)

    def _coerce_decimal(self, text: str) -> str:
        if len(text) > _MAX_NUMBER_LENGTH or not _DECIMAL.fullmatch(text):
            raise AnswerError("not_a_number")
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
            raise AnswerError("not_a_number") from None
        self._check_range(number)
        if number == 0:
            return "0"
        return format(number.normalize(), "f")

    def _check_range(self, number: Decimal) -> None:
        low = None if self.min is None else Decimal(str(self.min))
        high = None if self.max is None else Decimal(str(self.max))
        too_small = low is not None and number < low
        too_large = high is not None and number > high
        if not (too_small or too_large):
            return
        params = {"min": _show_number(self.min), "max": _show_number(self.max)}
        code = "too_small" if too_small else "too_large"
        message_id = "out_of_range" if low is not None and high is not None else code
        raise AnswerError(code, message_id, params=params)

    def _coerce_text(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        # Control characters (NUL in particular, which PostgreSQL refuses) are never meant.
        text = "".join(
            ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc"
        ).strip()
        if not text:
            if self.required:
                raise AnswerError("required", "enter_text")
            return text
        if len(text) > MAX_TEXT_LENGTH:
            raise AnswerError("too_long", params={"max": _show_number(MAX_TEXT_LENGTH)})
        return text


@dataclass(frozen=True)
class Survey:
    """A versioned survey definition: its title, languages and questions in order."""

    id: str
    version: int
    title: Labels
    minutes: int
    questions: tuple[Question, ...]
    description: Labels | None = None
    languages: tuple[str, ...] = (ENGLISH,)
    # Languages whose text was machine-drafted and awaits review by a fluent speaker.
    drafts: tuple[str, ...] = ()
    _index: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "questions", tuple(self.questions))
        object.__setattr__(self, "languages", tuple(self.languages))
        object.__setattr__(self, "drafts", tuple(self.drafts))
        unknown = [lang for lang in self.drafts if lang not in self.languages]
        if unknown:
            raise ValueError(f"survey {self.id!r}: drafts {unknown} are not among its languages")
        index = {q.id: q for q in self.questions}
        if len(index) != len(self.questions):
            raise ValueError(f"survey {self.id!r} has duplicate question ids")
        object.__setattr__(self, "_index", index)

    def language_names(self) -> list[str]:
        """Return the language codes, each machine-drafted one marked "(draft)"."""
        return language_names(self.languages, self.drafts)

    def question(self, question_id: str) -> Question:
        """Return the question with this id."""
        try:
            return self._index[question_id]
        except KeyError:
            raise NotFound(f"Survey {self.id!r} has no question {question_id!r}") from None

    def answerable_questions(self) -> tuple[Question, ...]:
        """Return the questions that take an answer, in order."""
        return tuple(q for q in self.questions if q.answerable)

    def decode_answers(self, stored: Mapping[str, str | None]) -> dict[str, object]:
        """Turn stored answers into the values the condition language expects."""
        return {
            qid: self._index[qid].decode(value)
            for qid, value in stored.items()
            if value is not None and qid in self._index
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the definition as plain JSON-able data in the YAML definition format."""
        lists: dict[str, list[dict[str, Any]]] = {}
        for q in self.questions:
            if q.choice_list is not None and q.choice_list not in lists:
                lists[q.choice_list] = [c.to_dict() for c in q.choices]
        data: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "title": self.title.to_dict(),
            "minutes": self.minutes,
            "languages": list(self.languages),
        }
        if self.drafts:  # only when set, so that other definitions keep their fingerprints
            data["drafts"] = list(self.drafts)
        if self.description is not None:
            data["description"] = self.description.to_dict()
        if lists:
            data["choices"] = lists
        data["questions"] = [q.to_dict() for q in self.questions]
        return data

    def fingerprint(self) -> str:
        """Return the sha256 hex digest of the canonical JSON of the definition."""
        canonical = json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def language_names(languages: Sequence[str], drafts: Sequence[str] = ()) -> list[str]:
    """Return language codes, each machine-drafted one (awaiting review) marked "(draft)"."""
    return [f"{lang} (draft)" if lang in drafts else lang for lang in languages]


def _show_number(number: int | float | None) -> str:
    if number is None:
        return ""
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    return f"{number:,}"
