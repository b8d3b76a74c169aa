"""Errors as pages: every CollectorError, and the HTTP errors, become a plain page for people.

A bad link, a closed round or a stale form is a page that says what happened and what to
do; never a stack trace. Unexpected errors are logged with their traceback (tokens redacted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Flask, jsonify, render_template, request
from flask import session as cookie
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from collector import flow, i18n
from collector.errors import CollectorError, ControlCharacters, NotFound
from collector.i18n import N_
from forms.text import Words

_RESPONDENT_PATH = re.compile(r"^/(r|s)/([A-Za-z0-9_-]+)")
# The respondent's language, in the signed session cookie (see `remember_language`).
LANGUAGE_COOKIE = "language"


class TooManyAttempts(CollectorError):
    """The client has used up a rate limit; it may try again after `retry_after` seconds."""

    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RoundPage(CollectorError):
    """A round is not taking answers; carries its dates, read before the rollback."""

    def __init__(self, error: flow.RoundNotOpen) -> None:
        super().__init__(error.template, code=error.code, status=403, values=error.values)
        round_ = error.round
        self.opens = round_.opens_at
        # A round closed early stopped taking answers then, not on its planned close.
        self.closes = round_.ends_at
        if error.code == "round_closed":
            # Gone for good: the round will not take answers again.
            self.status = 410


@dataclass
class Message:
    """A page with a heading and a few paragraphs.

    Its texts are English, and those marked N_ are given in the respondent's language, with
    the placeholders they name filled from `values` (see collector.i18n).
    """

    title: str
    paragraphs: list[str] = field(default_factory=list)
    status: int = 200
    link: tuple[str, str] | None = None  # (href, text)
    headers: dict[str, str] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)


def already_answered(status: int = 200) -> Message:
    """Say that the response was sent already."""
    return Message(
        N_("You have already answered this survey"),
        [N_("Thank you. Your answers have been sent, and nothing more can change them.")],
        status,
    )


def forbidden() -> Message:
    """Say that the signed-in account may not use this page (not the web framework's words)."""
    return Message(
        "You cannot use this page",
        [
            "You are signed in, but this page is not for your account: the console's pages are "
            "for a provider's staff, the funder pages for its funders, and some pages for "
            "administrators only.",
            "If you need it for your work, ask your tempcheck administrator.",
        ],
        403,
        link=("/console/", "Go to your pages"),
    )


def render_message(message: Message, *, language: str | None = None) -> ResponseReturnValue:
    """Render a message page with its status and headers (JSON under /api/, for programs).

    On a respondent's page, in the language the respondent chose (see `remember_language`).
    """
    if request.path.startswith("/api/"):
        title, *paragraphs = (
            i18n.translate(i18n.ENGLISH, text, **message.values)
            for text in (message.title, *message.paragraphs)
        )
        error = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
        text = " ".join([title + ".", *paragraphs]).strip()
        return jsonify(error=error, message=text), message.status, message.headers
    if language is None:
        chosen = cookie.get(LANGUAGE_COOKIE) if _RESPONDENT_PATH.match(request.path) else None
        language = chosen if isinstance(chosen, str) else i18n.ENGLISH
    body = render_template("message.html", message=message, t=Words(language), frame=None)
    return body, message.status, message.headers


def remember_language(language: str) -> None:
    """Keep the respondent's language in the browser's signed session, for the pages that
    know nothing of the survey (an expired form, a link that is not valid)."""
    if cookie.get(LANGUAGE_COOKIE) != language:
        cookie[LANGUAGE_COOKIE] = language


def message_for(error: CollectorError) -> Message:
    """Give the page for a collector error."""
    if isinstance(error, NotFound):
        return Message(
            N_("This link is not valid"),
            [
                N_("Check that you copied the whole link from your email or message."),
                N_("If it still does not work, ask the organisation that sent it for a new link."),
            ],
            404,
        )
    if isinstance(error, flow.AlreadyCompleted):
        return already_answered(409)
    if isinstance(error, RoundPage):
        dates = {**error.values, "from": error.opens, "to": error.closes}
        if error.code == "round_closed":
            return Message(
                N_("This survey has closed"),
                [error.template, N_("It was open from %(from)s to %(to)s.")],
                error.status,
                values=dates,
            )
        return Message(
            N_("This survey is not open yet"),
            [error.template, N_("It will be open from %(from)s to %(to)s.")],
            error.status,
            values=dates,
        )
    if isinstance(error, flow.OptedOut):
        return Message(N_("You will not be asked again"), [error.template], error.status)
    if isinstance(error, TooManyAttempts):
        minutes = max(1, round(error.retry_after / 60))
        return Message(
            "Too many attempts",
            [error.message, f"Wait {minutes} minute{'s' if minutes != 1 else ''} and try again."],
            429,
            headers={"Retry-After": str(error.retry_after)},
        )
    if isinstance(error, ControlCharacters):
        return Message(
            N_("We could not take what you sent"),
            [
                error.message,
                N_(
                    "Nothing was saved. Go back, type the text again (or paste it as plain "
                    "text) and try again. Your earlier answers are saved."
                ),
            ],
            error.status,
            link=_survey_link(),
        )
    return Message(N_("Sorry, we could not do that"), [error.message], error.status)


def _survey_link() -> tuple[str, str] | None:
    match = _RESPONDENT_PATH.match(request.path)
    if match is None:
        return None
    return f"/{match.group(1)}/{match.group(2)}", N_("Go back to the survey")


def init_app(app: Flask) -> None:
    """Register the handlers that turn errors into pages."""

    @app.errorhandler(CollectorError)
    def collector_error(error: CollectorError) -> ResponseReturnValue:
        """Show a collector error as a page."""
        return render_message(message_for(error))

    @app.errorhandler(CSRFError)
    def expired_form(error: CSRFError) -> ResponseReturnValue:
        """Refuse a form without a valid CSRF token, and offer a way back."""
        return render_message(
            Message(
                N_("This page has expired"),
                [
                    N_(
                        "We could not take what you sent, because the page it came from was too "
                        "old or was not one of ours. Your earlier answers are saved."
                    ),
                ],
                400,
                link=_survey_link(),
            )
        )

    @app.errorhandler(413)
    def too_large(error: HTTPException) -> ResponseReturnValue:
        """Refuse an oversized request politely."""
        return render_message(
            Message(
                N_("What you sent is too long"),
                [
                    N_(
                        "We could not take your answer because it was much longer than we "
                        "accept. Go back, shorten it and try again. Your earlier answers are saved."
                    ),
                ],
                413,
                link=_survey_link(),
            )
        )

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> ResponseReturnValue:
        """Apologise; the traceback is already logged."""
        return render_message(
            Message(
                N_("Sorry, there is a problem with the service"),
                [N_("Try again later. Your answers so far are saved.")],
                500,
            )
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        """Show other HTTP errors (page not found, wrong method) as plain pages."""
        status = error.code or 500
        if status == 404:
            return render_message(
                Message(
                    N_("Page not found"),
                    [N_("If you typed the web address, check it is correct.")],
                    404,
                )
            )
        if status == 403:
            return render_message(forbidden())
        allow = {k: v for k, v in error.get_headers() if k == "Allow"}
        return render_message(Message(error.name, [error.description or ""], status, headers=allow))
