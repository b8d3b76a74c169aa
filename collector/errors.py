"""Typed, coded errors raised by the collector and shown to people as plain messages."""

from __future__ import annotations

from collections.abc import Mapping

from collector import i18n
from collector.controls import CONTROL


class CollectorError(Exception):
    """An error with a stable code, a human message and the HTTP status a web caller should use.

    The message is English. One a respondent may read is written as a template marked for the
    catalogs, `N_("This survey opens on %(opens)s.")`, with its `values` apart (dates as
    datetimes), so that `message_in(language)` can give it in the respondent's language.
    """

    code: str = "collector_error"
    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        values: Mapping[str, object] | None = None,
    ) -> None:
        self.template = message
        self.values = dict(values or {})
        self.message = self.message_in(i18n.ENGLISH)
        super().__init__(self.message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def message_in(self, language: str | None) -> str:
        """Give the message in `language`, or in English where the catalogs have no words."""
        return i18n.translate(language, self.template, **self.values)

    def __str__(self) -> str:
        return self.message


class NotFound(CollectorError):
    """Something asked for does not exist (or may not be revealed to exist)."""

    code = "not_found"
    status = 404


class Conflict(CollectorError):
    """The action clashes with the current state, e.g. answering a completed response."""

    code = "conflict"
    status = 409


class ProblemsError(CollectorError):
    """Every problem found in a definition file at once, so a fix can address them all."""

    what = "the definition"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = "\n".join(f"- {p}" for p in self.problems)
            message = f"{len(self.problems)} problems in {self.what}:\n{lines}"
        super().__init__(message)


class ControlCharacters(CollectorError):
    """What was sent holds a control character (a NUL, say), which nothing here can store.

    Every channel refuses the same ones, `collector.controls.CONTROL` (which says why): C0
    controls other than tab, newline and carriage return, and DEL.
    """

    code = "control_characters"
    status = 400
    PATTERN = CONTROL

    def __init__(self) -> None:
        super().__init__(
            "What you sent contains an invisible control character (such as a NUL or a "
            "vertical tab), which we cannot store. This can happen when text is pasted from "
            "another program."
        )

    @classmethod
    def found_in(cls, *texts: str) -> bool:
        """Tell whether any of `texts` holds a control character that is refused."""
        return any(cls.PATTERN.search(text) for text in texts)
