"""Load survey definitions from YAML (or stored plain data) and report every problem at once."""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from collector.errors import NotFound, ProblemsError
from collector.survey.expr import ExprError, Node, literal_comparisons, parse, references
from collector.survey.expr import uses_current as expr_uses_current
from collector.survey.model import (
    CHOICE_TYPES,
    CHOICE_VALUE,
    ENGLISH,
    LANGUAGE_CODE,
    NUMBER_TYPES,
    QUESTION_ID,
    SURVEY_ID,
    Choice,
    Labels,
    Question,
    QuestionType,
    Survey,
)

SURVEY_KEYS = (
    "id",
    "version",
    "title",
    "description",
    "minutes",
    "languages",
    "drafts",
    "choices",
    "questions",
)
QUESTION_KEYS = (
    "id",
    "type",
    "label",
    "hint",
    "choices",
    "required",
    "relevant",
    "constraint",
    "constraint_message",
    "min",
    "max",
)
CHOICE_KEYS = ("value", "label", "exclusive")


class SurveyDefinitionError(ProblemsError):
    """A survey definition with problems; `problems` lists every one of them."""

    code = "bad_definition"
    what = "the survey definition"


def load_survey(path: str | os.PathLike[str]) -> Survey:
    """Load and validate a survey definition from a YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SurveyDefinitionError([f"{path.name}: the file is not UTF-8 text"]) from None
    except OSError as exc:
        raise SurveyDefinitionError([f"{path.name}: cannot read the file ({exc})"]) from None
    return load_survey_text(text, source=path.name)


def load_survey_text(text: str, source: str = "<string>") -> Survey:
    """Load and validate a survey definition from YAML text."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        if isinstance(exc, _DuplicateKey):
            raise SurveyDefinitionError([f"{source}: {where}{exc.problem}"]) from None
        problem = exc.problem or exc.context or "not valid YAML"
        raise SurveyDefinitionError([f"{source}: {where}YAML syntax error: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise SurveyDefinitionError([f"{source}: YAML syntax error: {exc}"]) from None
    return survey_from_data(data, source)


def survey_from_data(data: object, source: str = "<data>") -> Survey:
    """Validate plain data (parsed YAML or Survey.to_dict()) and build the survey."""
    return _Checker(source).survey(data)


def survey_from_dict(data: Mapping[str, Any]) -> Survey:
    """Rebuild and re-validate a survey from the plain data of Survey.to_dict()."""
    return survey_from_data(data, source=f"stored survey {data.get('id')!r}")


def library_path() -> Path:
    """Return the folder of the built-in survey definitions."""
    return Path(__file__).resolve().parent / "library"


def library_surveys() -> dict[str, Survey]:
    """Return the built-in surveys by id."""
    return dict(_library())


def library_survey(survey_id: str) -> Survey:
    """Return one built-in survey by id."""
    surveys = _library()
    if survey_id not in surveys:
        known = ", ".join(sorted(surveys))
        raise NotFound(f"No built-in survey {survey_id!r} (the library has: {known})")
    return surveys[survey_id]


@functools.cache
def _library() -> Mapping[str, Survey]:
    surveys: dict[str, Survey] = {}
    problems: list[str] = []
    for path in sorted(library_path().glob("*.yaml")):
        try:
            survey = load_survey(path)
        except SurveyDefinitionError as exc:
            problems.extend(exc.problems)
            continue
        if survey.id != path.stem:
            problems.append(f"{path.name}: the file name must match the survey id {survey.id!r}")
        surveys[survey.id] = survey
    if problems:
        raise SurveyDefinitionError(problems)
    return surveys


class _DuplicateKey(yaml.constructor.ConstructorError):
    """The same key twice in one mapping: PyYAML would silently keep the last one."""


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key; construct_mapping reports it
            continue
        if duplicate:
            raise _DuplicateKey(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class _Draft:
    """What the first pass learnt about one question, for the checks that span questions."""

    index: int
    where: str
    kwargs: dict[str, Any]
    values: tuple[str, ...] | None = None
    conditions: dict[str, str] = field(default_factory=dict)


class _Checker:
    """Walks one definition, collecting every problem before deciding."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.labels: list[tuple[str, str, Labels]] = []
        self.used_lists: set[str] = set()

    def problem(self, where: str, message: str) -> None:
        prefix = f"{self.source}: {where}: " if where else f"{self.source}: "
        self.problems.append(prefix + message)

    def survey(self, data: object) -> Survey:
        if not isinstance(data, Mapping):
            self.problem("", "the definition must be a mapping with id, version, title, questions")
            raise SurveyDefinitionError(self.problems)
        self.unknown_keys("", data, SURVEY_KEYS)
        survey_id = self.survey_id(data.get("id"))
        version = self.positive_int(data, "version")
        minutes = self.positive_int(data, "minutes")
        title = self.labels_of("", "title", data.get("title"), required=True)
        description = self.labels_of("", "description", data.get("description"), required=False)
        languages = self.languages(data.get("languages", [ENGLISH]))
        drafts = self.drafts(data.get("drafts", []), languages)
        lists = self.choice_lists(data.get("choices", {}))
        questions = self.questions(data.get("questions"), lists)
        self.check_languages(languages)
        if self.problems:
            raise SurveyDefinitionError(self.problems)
        assert survey_id is not None and version is not None and minutes is not None
        assert title is not None and questions is not None
        return Survey(
            id=survey_id,
            version=version,
            title=title,
            description=description,
            minutes=minutes,
            languages=languages,
            drafts=drafts,
            questions=questions,
        )

    # -- top level ---------------------------------------------------------------------------

    def survey_id(self, value: object) -> str | None:
        if value is None:
            self.problem("", "missing 'id'")
        elif not isinstance(value, str) or not SURVEY_ID.fullmatch(value):
            self.problem(
                "",
                f"id {value!r} must be a slug of lower-case letters, digits and single hyphens, "
                "like 'cvs-support'",
            )
        else:
            return value
        return None

    def positive_int(self, data: Mapping[str, Any], key: str) -> int | None:
        value = data.get(key)
        if value is None:
            self.problem("", f"missing {key!r}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem("", f"{key} must be a whole number of 1 or more, not {value!r}")
        else:
            return value
        return None

    def languages(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem("", "languages must be a list of language codes, like [en, cy]")
            return (ENGLISH,)
        codes: list[str] = []
        for code in value:
            if not LANGUAGE_CODE.fullmatch(code):
                self.problem("", f"languages: {code!r} is not a language code like 'en' or 'cy'")
            elif code in codes:
                self.problem("", f"languages: {code!r} is listed twice")
            else:
                codes.append(code)
        if ENGLISH not in codes:
            self.problem("", "languages must include 'en'")
        # English first: it is the fallback and the language of the definition's source.
        return (ENGLISH, *(c for c in codes if c != ENGLISH))

    def drafts(self, value: object, languages: tuple[str, ...]) -> tuple[str, ...]:
        """Read `drafts:`, the languages whose text was machine-drafted and awaits review."""
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem("", "drafts must be a list of language codes, like [cy]")
            return ()
        codes: list[str] = []
        for code in value:
            if code not in languages:
                listed = ", ".join(languages)
                self.problem(
                    "", f"drafts: {code!r} is not one of the survey's languages ({listed})"
                )
            elif code in codes:
                self.problem("", f"drafts: {code!r} is listed twice")
            else:
                codes.append(code)
        return tuple(codes)

    def check_languages(self, languages: tuple[str, ...]) -> None:
        for lang in languages[1:]:
            for where, what, labels in self.labels:
                if lang not in labels.languages:
                    self.problem(
                        where, f"{what} has no {lang!r} text, but {lang!r} is declared in languages"
                    )

    # -- labels and choices ------------------------------------------------------------------

    def labels_of(self, where: str, what: str, value: object, *, required: bool) -> Labels | None:
        if value is None:
            if required:
                self.problem(where, f"missing {what}")
            return None
        if isinstance(value, bool):
            self.problem(where, f"{what} must be text (put yes/no/true/false in quotes)")
            return None
        if isinstance(value, str | int | float):
            value = {ENGLISH: value}
        if not isinstance(value, Mapping):
            self.problem(where, f"{what} must be text or a mapping of language to text")
            return None
        texts: dict[str, str] = {}
        for lang, text in value.items():
            if not isinstance(lang, str) or not LANGUAGE_CODE.fullmatch(lang):
                self.problem(where, f"{what}: {lang!r} is not a language code like 'en' or 'cy'")
            elif isinstance(text, bool) or not isinstance(text, str | int | float):
                self.problem(where, f"{what} in {lang!r} must be text")
            elif not str(text).strip():
                self.problem(where, f"{what} in {lang!r} is empty")
            else:
                texts[lang] = str(text)
        if ENGLISH not in texts:
            if ENGLISH not in value:  # otherwise its English text was reported above
                self.problem(where, f"{what} has no English ('en') text")
            return None
        labels = Labels(texts)
        self.labels.append((where, what, labels))
        return labels

    def choice_lists(self, value: object) -> dict[str, tuple[Choice, ...] | None]:
        if not isinstance(value, Mapping):
            self.problem("", "choices must be a mapping of list name to a list of choices")
            return {}
        lists: dict[str, tuple[Choice, ...] | None] = {}
        for name, items in value.items():
            lists[str(name)] = self.choices(f"choice list {str(name)!r}", items)
        return lists

    def choices(self, where: str, items: object) -> tuple[Choice, ...] | None:
        """Return the choices, or None when the list has problems (already reported)."""
        if not isinstance(items, list) or not items:
            self.problem(where, "must be a non-empty list of choices")
            return None
        before = len(self.problems)
        choices: list[Choice] = []
        seen: set[str] = set()
        for position, item in enumerate(items, start=1):
            if not isinstance(item, Mapping):
                self.problem(where, f"choice {position} must be a mapping with value and label")
                continue
            raw = item.get("value")
            if raw is None:
                self.problem(where, f"choice {position} has no value")
                continue
            if isinstance(raw, bool) or not isinstance(raw, str | int):
                self.problem(
                    where,
                    f"choice {position}: value {raw!r} must be text "
                    "(YAML reads unquoted yes/no/on/off as true/false: put them in quotes)",
                )
                continue
            value = str(raw)
            at = f"{where}: choice {value!r}"
            self.unknown_keys(at, item, CHOICE_KEYS)
            if not CHOICE_VALUE.fullmatch(value):
                self.problem(where, f"choice value {value!r} may use only letters, digits, _ and -")
            if value in seen:
                self.problem(where, f"duplicate choice value {value!r}")
            seen.add(value)
            label = self.labels_of(at, "label", item.get("label"), required=True)
            exclusive = item.get("exclusive", False)
            if not isinstance(exclusive, bool):
                self.problem(at, f"exclusive must be true or false, not {exclusive!r}")
            if label is not None:
                choices.append(Choice(value=value, label=label, exclusive=exclusive is True))
        if len(self.problems) > before:
            return None
        return tuple(choices)

    # -- questions ---------------------------------------------------------------------------

    def questions(
        self, value: object, lists: dict[str, tuple[Choice, ...] | None]
    ) -> tuple[Question, ...] | None:
        if value is None:
            self.problem("", "missing 'questions'")
            return None
        if not isinstance(value, list) or not value:
            self.problem("", "questions must be a non-empty list")
            return None
        drafts: dict[str, _Draft] = {}
        for position, item in enumerate(value, start=1):
            draft = self.question(position, item, lists, drafts)
            if draft is not None:
                drafts[draft.kwargs["id"]] = draft
        for name in lists:
            if name not in self.used_lists:
                self.problem(f"choice list {name!r}", "is not used by any question")
        for draft in drafts.values():
            self.conditions(draft, drafts)
        if drafts and not any(d.kwargs["type"] is not QuestionType.NOTE for d in drafts.values()):
            self.problem("", "the survey has no questions to answer, only notes")
        if self.problems:
            return None
        return tuple(Question(**draft.kwargs) for draft in drafts.values())

    def question(
        self,
        position: int,
        item: object,
        lists: dict[str, tuple[Choice, ...] | None],
        drafts: dict[str, _Draft],
    ) -> _Draft | None:
        if not isinstance(item, Mapping):
            self.problem(f"question {position}", "must be a mapping with id, type and label")
            return None
        qid = item.get("id")
        valid_id = isinstance(qid, str) and QUESTION_ID.fullmatch(qid) is not None
        where = f"question {qid!r}" if valid_id else f"question {position}"
        self.unknown_keys(where, item, QUESTION_KEYS)
        if qid is None:
            self.problem(where, "missing id")
        elif not valid_id:
            self.problem(
                where,
                f"id {qid!r} must start with a letter or _ and use only letters, digits and _",
            )
        elif qid in drafts:
            self.problem(where, f"duplicate question id (question {drafts[qid].index + 1} too)")
            valid_id = False

        qtype = self.question_type(where, item.get("type"))
        label = self.labels_of(where, "label", item.get("label"), required=True)
        hint = self.labels_of(where, "hint", item.get("hint"), required=False)
        kwargs: dict[str, Any] = {"id": qid, "type": qtype, "label": label, "hint": hint}
        values = self.question_choices(where, qtype, item.get("choices"), lists, kwargs)

        required = item.get("required")
        if required is not None and not isinstance(required, bool):
            self.problem(where, f"required must be true or false, not {required!r}")
        elif qtype is QuestionType.NOTE and required:
            self.problem(where, "a note cannot be required")
        elif required is not None:
            kwargs["required"] = required

        conditions: dict[str, str] = {}
        for key in ("relevant", "constraint"):
            text = item.get(key)
            if text is None:
                continue
            if not isinstance(text, str) or not text.strip():
                self.problem(where, f"{key} must be a condition, like \"${{q}} = 'yes'\"")
                continue
            conditions[key] = text
            kwargs[key] = text
        if "constraint" in item and qtype is QuestionType.NOTE:
            self.problem(where, "a note cannot have a constraint")
        message = item.get("constraint_message")
        # An exclusive choice is a constraint too: the message says how to put it right.
        exclusive = any(c.exclusive for c in kwargs.get("choices", ()))
        if message is not None and "constraint" not in item and not exclusive:
            self.problem(where, "constraint_message without a constraint")
        kwargs["constraint_message"] = self.labels_of(
            where, "constraint_message", message, required=False
        )
        self.limits(where, qtype, item, kwargs)

        # Keep a question with other problems, so conditions that refer to it are still checked.
        if not valid_id:
            return None
        return _Draft(position - 1, where, kwargs, values, conditions)

    def question_type(self, where: str, value: object) -> QuestionType | None:
        if value is None:
            self.problem(where, "missing type")
            return None
        try:
            return QuestionType(str(value))
        except ValueError:
            known = ", ".join(QuestionType)
            self.problem(where, f"unknown type {value!r} (use one of: {known})")
            return None

    def question_choices(
        self,
        where: str,
        qtype: QuestionType | None,
        value: object,
        lists: dict[str, tuple[Choice, ...] | None],
        kwargs: dict[str, Any],
    ) -> tuple[str, ...] | None:
        if isinstance(value, str):
            self.used_lists.add(value)
        if qtype is None:
            return None
        if qtype not in CHOICE_TYPES:
            if value is not None:
                self.problem(where, "choices are only for single, multiple and scale questions")
            return None
        if value is None:
            self.problem(where, f"a {qtype} question needs choices")
            return None
        choices: tuple[Choice, ...] | None
        if isinstance(value, str):
            if value not in lists:
                self.problem(where, f"unknown choice list {value!r}{_suggest(value, lists)}")
                return None
            choices = lists[value]
            kwargs["choice_list"] = value
        elif isinstance(value, list):
            choices = self.choices(where, value)
        else:
            self.problem(where, "choices must name a choice list or be a list of choices")
            return None
        if choices is None:
            return None
        exclusive = [c.value for c in choices if c.exclusive]
        if exclusive and qtype is not QuestionType.MULTIPLE:
            self.problem(
                where,
                f"choice {exclusive[0]!r} is exclusive, but only a multiple question's choices "
                "can be (a single or scale question takes one answer anyway)",
            )
        kwargs["choices"] = choices
        return tuple(c.value for c in choices)

    def limits(
        self,
        where: str,
        qtype: QuestionType | None,
        item: Mapping[str, Any],
        kwargs: dict[str, Any],
    ) -> None:
        present = [key for key in ("min", "max") if item.get(key) is not None]
        if not present or qtype is None:
            return
        if qtype not in NUMBER_TYPES:
            self.problem(where, "min and max are only for integer and decimal questions")
            return
        for key in present:
            value = item[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.problem(where, f"{key} must be a number, not {value!r}")
            elif qtype is QuestionType.INTEGER and not isinstance(value, int):
                self.problem(where, f"{key} must be a whole number for an integer question")
            else:
                kwargs[key] = value
        low, high = kwargs.get("min"), kwargs.get("max")
        if low is not None and high is not None and low > high:
            self.problem(where, f"min ({low}) is greater than max ({high})")

    def conditions(self, draft: _Draft, drafts: dict[str, _Draft]) -> None:
        for key, text in draft.conditions.items():
            try:
                node = parse(text)
            except ExprError as exc:
                self.problem(draft.where, f"{key} is not valid: {exc}")
                continue
            draft.kwargs[f"{key}_node"] = node
            self.condition_references(draft, key, node, drafts)

    def condition_references(
        self, draft: _Draft, key: str, node: Node, drafts: dict[str, _Draft]
    ) -> None:
        where, own_id = draft.where, draft.kwargs["id"]
        if key == "relevant" and expr_uses_current(node):
            self.problem(where, "relevant cannot use '.' (it stands for the question's own answer)")
        for ref in sorted(references(node)):
            other = drafts.get(ref)
            if other is None:
                self.problem(
                    where, f"{key} refers to unknown question {ref!r}{_suggest(ref, drafts)}"
                )
            elif ref == own_id:
                if key == "relevant":
                    self.problem(where, "relevant refers to the question itself")
            elif other.index > draft.index:
                self.problem(where, f"{key} refers to question {ref!r}, which comes later")
            elif other.kwargs["type"] is QuestionType.NOTE:
                self.problem(where, f"{key} refers to note {ref!r}, which has no answer")
        for ref, literal in literal_comparisons(node):
            other = drafts.get(ref)
            if other is None or other.values is None or literal in other.values:
                continue
            options = ", ".join(other.values)
            self.problem(
                where,
                f"{key} compares {ref!r} with {literal!r}, which is not one of its choices "
                f"({options})",
            )

    def unknown_keys(self, where: str, data: Mapping[Any, Any], known: Iterable[str]) -> None:
        known = tuple(known)
        for key in data:
            if key not in known:
                self.problem(where, f"unknown key {key!r}{_suggest(str(key), known)}")


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
