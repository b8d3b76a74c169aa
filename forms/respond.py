"""Respondent pages: a start page, one question per page, check your answers, confirmation.

Two ways in share every page: an invitation's link, `/r/<token>`, and a round's open link,
`/s/<slug>` (anonymous: the browser's signed session cookie remembers its response). Each
request is one transaction around `collector.flow`, and the response row holds where the
respondent is, so the same link carries on days later, on another device, or after Telegram.

Every change of state is a POST followed by a redirect. The one GET that moves the respondent
is showing an earlier question (a "change" link, or the browser's back button): it moves the
cursor back to that question and changes no answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask import session as cookie
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload, sessionmaker
from werkzeug.wrappers import Response as HttpResponse

from collector import db, flow, models, ratelimits
from collector.errors import NotFound
from collector.localtime import long_date
from collector.models import utcnow
from collector.rounds import looks_like_token
from collector.survey.model import Survey
from collector.survey.store import definition
from forms import services
from forms.errors import Message, RoundPage, TooManyAttempts, already_answered, message_for
from forms.security import client_key, csp_nonce
from forms.text import LANGUAGE_NAMES, Words

bp = Blueprint("respond", __name__)

# Tokens have 192 bits: these limits are not what keeps them safe, they stop the hammering.
BAD_LINKS = ratelimits.Limit("bad_link", limit=20, window=timedelta(minutes=10))
# Generous, because a poster at an event puts many phones behind one Wi-Fi address.
OPEN_STARTS = ratelimits.Limit("open_start", limit=30, window=timedelta(hours=1))
OPEN_COOKIE = "open"
# A message for this browser's next page (an answer another device made stale), kept in its
# own signed session cookie: never on the response, which every device shares.
NOTICE_COOKIE = "notice"


@dataclass(frozen=True)
class Frame:
    """What every respondent page shows around the question: who asks, when, in which language."""

    kind: str  # "r": an invitation's link; "s": a round's open link
    key: str
    survey_title: str
    description: str | None
    minutes: int
    provider: str
    organisation: str | None
    opens: str
    closes: str
    language: str
    languages: tuple[str, ...]
    started: bool

    def url(self, page: str, **values: Any) -> str:
        """Give the address of one of this respondent's pages."""
        return url_for(f"respond.{self.kind}_{page}", key=self.key, **values)

    @property
    def anonymous(self) -> bool:
        """Tell whether this is an open link, with no invitation behind it."""
        return self.kind == "s"


@dataclass
class Visit:
    """A respondent's way in, found from the address: the round, invitation and response."""

    kind: str
    key: str
    round: models.Round
    invitation: models.Invitation | None
    response: models.Response | None
    read_only: bool = False  # in a transaction that must not write

    def survey(self) -> Survey:
        """Give the round's survey definition."""
        return definition(self.round.survey)

    def frame(self, language: str | None = None, *, named: bool = False) -> Frame:
        """Collect what the page shows about the survey, as plain values.

        `named`: include the invited organisation's name (the start page says whom it asks).
        """
        survey = self.survey()
        if self.response is not None:
            language = self.response.language
        elif language not in survey.languages:
            language = survey.languages[0]
        organisation = self.invitation.organisation if named and self.invitation else None
        return Frame(
            kind=self.kind,
            key=self.key,
            survey_title=survey.title.get(language),
            description=survey.description.get(language) if survey.description else None,
            minutes=survey.minutes,
            provider=self.round.provider.name,
            organisation=organisation.name if organisation is not None else None,
            opens=long_date(self.round.opens_at),
            closes=long_date(self.round.ends_at),
            language=language or survey.languages[0],
            languages=tuple(survey.languages),
            started=self.response is not None,
        )

    def here(self) -> str:
        """Give the address of where the respondent is now."""
        frame_url = _page_url(self.kind, self.key)
        response = self.response
        if response is None:
            return frame_url("start")
        if response.status == "completed":
            return frame_url("done")
        if response.cursor is None:
            return frame_url("check")
        return frame_url("question", qid=response.cursor)


@dataclass
class Page:
    """A page to render once the transaction has committed."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    # Pages that are the same for every respondent but for the link, the CSRF token and the
    # script nonce are rendered once per process and reused (see `_render`).
    shared: bool = False

    def render(self) -> str:
        """Render the page, from the cache when it is shared."""
        if not self.shared:
            return render_template(self.template, **self.context)
        frame: Frame = self.context["frame"]
        cache_key = (
            self.template,
            replace(frame, key=_KEY),
            *sorted(
                (k, v) for k, v in self.context.items() if k not in ("frame", "t", "language_names")
            ),
        )
        with _cache_lock:
            html = _cache.get(cache_key)
            if html is not None:
                _cache.move_to_end(cache_key)
        if html is None:
            html = render_template(
                self.template,
                **{**self.context, "frame": cache_key[1]},
                csrf_token=lambda: _CSRF,
                csp_nonce=lambda: _NONCE,
            )
            with _cache_lock:
                _cache[cache_key] = html
                while len(_cache) > CACHE_PAGES:
                    _cache.popitem(last=False)
        return (
            html.replace(_KEY, frame.key)
            .replace(_CSRF, generate_csrf())
            .replace(_NONCE, csp_nonce())
        )


# Stand-ins while rendering a shared page: letters and digits only, so nothing escapes them.
_KEY, _CSRF, _NONCE = "Zz0link0zZ", "Zz0csrf0zZ", "Zz0nonce0zZ"
CACHE_PAGES = 512
_cache: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_cache_lock = threading.Lock()


class _Moved(Exception):
    """Send the respondent to another page instead."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class _NeedsWrite(Exception):
    """Work tried in a read-only transaction needs to write: run it again in a writing one."""


class _Refused(Exception):
    """The flow refused the action: show this page, after rolling back."""

    def __init__(self, page: Page) -> None:
        super().__init__(page.template)
        self.page = page


Outcome = Page | HttpResponse
Work = Callable[[Session, Visit], Outcome]


def _page_url(kind: str, key: str) -> Callable[..., str]:
    def build(page: str, **values: Any) -> str:
        return url_for(f"respond.{kind}_{page}", key=key, **values)

    return build


def _pages(rule: str, endpoint: str, methods: list[str]) -> Callable[[Callable[..., Any]], Any]:
    """Register a view under both ways in: /r/<token>... and /s/<slug>..."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        for kind in ("r", "s"):
            bp.add_url_rule(
                f"/{kind}/<key>{rule}",
                f"{kind}_{endpoint}",
                view,
                methods=methods,
                defaults={"kind": kind},
            )
        return view

    return register


# Finding the respondent -------------------------------------------------------------------


def _count_bad_link(session: Session) -> None:
    """Count a bad link against the client's limit; past it, say so instead of 'not valid'.

    A valid link always works, even from a client that has used up its limit (a group
    behind the same Wi-Fi as a guesser, say): only bad links are limited, and past the limit
    they are answered "too many attempts".
    """
    client = client_key()
    if ratelimits.exceeded(session, BAD_LINKS, client):
        raise TooManyAttempts(
            BAD_LINKS.retry_after(utcnow()),
            "There have been too many attempts with links that are not valid from your connection.",
        )
    ratelimits.hit(session, BAD_LINKS, client)


# Everything a page needs, in one query built once. The survey's definition is parsed once per
# process (by its fingerprint), so its JSON is loaded only when it is not in memory yet.
_BY_TOKEN = (
    select(models.Invitation)
    .where(models.Invitation.token == bindparam("key"))
    .options(
        joinedload(models.Invitation.round)
        .joinedload(models.Round.survey)
        .defer(models.Survey.definition),
        joinedload(models.Invitation.round).joinedload(models.Round.provider),
        joinedload(models.Invitation.response),
    )
)
_BY_SLUG = (
    select(models.Round)
    .where(models.Round.slug == bindparam("key"))
    .options(
        joinedload(models.Round.survey).defer(models.Survey.definition),
        joinedload(models.Round.provider),
    )
)


def _find(session: Session, kind: str, key: str) -> Visit | None:
    if kind == "r":
        if not looks_like_token(key):
            return None
        invitation = session.scalar(_BY_TOKEN, {"key": key})
        if invitation is None:
            return None
        return Visit(kind, key, invitation.round, invitation, invitation.response)
    round_ = session.scalar(_BY_SLUG, {"key": key})
    if round_ is None or not round_.open_link:
        return None
    response = None
    remembered = cookie.get(OPEN_COOKIE, {}).get(key)
    if isinstance(remembered, int):
        found = session.get(models.Response, remembered)
        if found is not None and found.round_id == round_.id and found.invitation_id is None:
            response = found
    return Visit(kind, key, round_, None, response)


def _remember(slug: str, response_id: int) -> None:
    """Keep an open-link response in the browser's signed session cookie."""
    known = dict(cookie.get(OPEN_COOKIE, {}))
    known[slug] = response_id
    cookie[OPEN_COOKIE] = known
    cookie.permanent = True


def _tell(response: models.Response, text: str) -> None:
    """Keep a message for this browser's next page about the response (and no other browser)."""
    cookie[NOTICE_COOKIE] = {"response": response.id, "text": text}


def _told(response_id: int | None) -> str | None:
    """Give (once) the message kept for this browser about the response, if there is one."""
    kept = cookie.get(NOTICE_COOKIE)
    if not isinstance(kept, dict) or response_id is None or kept.get("response") != response_id:
        return None
    cookie.pop(NOTICE_COOKIE, None)
    text = kept.get("text")
    return text if isinstance(text, str) else None


def _run(kind: str, key: str, work: Work, *, read_only: bool = False) -> ResponseReturnValue:
    """Find the visit and do the work in one transaction; render after it has committed.

    `read_only`: try first without taking the write lock; work that turns out to need a
    write (a bad link to count, a cursor to move) raises `_NeedsWrite` and runs again.
    """
    if read_only:
        try:
            return _attempt(kind, key, work, services(current_app).readers)
        except _NeedsWrite:
            pass
    return _attempt(kind, key, work, services(current_app).sessions)


def _attempt(
    kind: str, key: str, work: Work, sessions: sessionmaker[Session]
) -> ResponseReturnValue:
    read_only = sessions is services(current_app).readers
    outcome: Outcome | None = None
    response_id: int | None = None
    try:
        with db.transaction(sessions) as session:
            visit = _find(session, kind, key)
            if visit is None:
                if read_only:
                    raise _NeedsWrite()
                _count_bad_link(session)
            else:
                visit.read_only = read_only
                try:
                    outcome = work(session, visit)
                except _Moved as moved:
                    outcome = redirect(moved.url, 303)
                except (flow.RoundNotOpen, flow.OptedOut, flow.AlreadyCompleted) as error:
                    # Build the page (with the survey's name) while the session is open, then
                    # roll back whatever the refused action had begun.
                    shown = RoundPage(error) if isinstance(error, flow.RoundNotOpen) else error
                    raise _Refused(_message(visit, message_for(shown))) from error
                if read_only and (session.dirty or session.new or session.deleted):
                    raise _NeedsWrite()
                response_id = visit.response.id if visit.response is not None else None
    except _Refused as refused:
        outcome = refused.page
    if outcome is None:
        # Said only after the commit, so that the bad attempt is counted.
        raise NotFound("This link is not valid", code="bad_link")
    if isinstance(outcome, Page):
        notice = _told(response_id)
        if notice is not None:
            outcome.context["notice"] = notice
            outcome.shared = False
        return outcome.render(), outcome.status
    return outcome


def _started(visit: Visit) -> models.Response:
    """Give the visit's response, or send the respondent to the start page."""
    if visit.response is None:
        raise _Moved(_page_url(visit.kind, visit.key)("start"))
    return visit.response


def _answering(visit: Visit) -> models.Response:
    """Give the response being answered; refuse if the round has closed or the group opted out."""
    response = _started(visit)
    if response.status == "in_progress":
        if visit.invitation is not None:
            flow.ensure_invited(visit.invitation)
        else:
            flow.ensure_open(visit.round)
    return response


def _page(template: str, frame: Frame, status: int = 200, **context: Any) -> Page:
    return Page(
        template,
        {"frame": frame, "t": Words(frame.language), "language_names": LANGUAGE_NAMES, **context},
        status,
    )


def _message(visit: Visit, message: Message) -> Page:
    frame = visit.frame()
    return _page("message.html", frame, message.status, message=message, page="start")


# Pages ------------------------------------------------------------------------------------


@_pages("", "start", ["GET"])
def start(kind: str, key: str) -> ResponseReturnValue:
    """Show the start page: who is asking and why, how long it takes, who sees the answers."""
    language = request.args.get("lang")

    def work(session: Session, visit: Visit) -> Outcome:
        if visit.response is not None and visit.response.status == "completed":
            return _message(visit, already_answered())
        if visit.invitation is not None:
            flow.ensure_invited(visit.invitation)
        else:
            flow.ensure_open(visit.round)
        return _page("respond/start.html", visit.frame(language, named=True), page="start")

    return _run(kind, key, work, read_only=True)


@_pages("/start", "begin", ["POST"])
def begin(kind: str, key: str) -> ResponseReturnValue:
    """Start the response (or carry on with the one already started) and go to its page."""
    language = request.form.get("language")

    def work(session: Session, visit: Visit) -> Outcome:
        if visit.invitation is not None:
            visit.response = flow.start(session, visit.invitation, channel="web", language=language)
        elif visit.response is None:
            # An open link: one response per browser, and a limit on new ones per client.
            flow.ensure_open(visit.round)
            client = client_key()
            if ratelimits.exceeded(session, OPEN_STARTS, client):
                raise TooManyAttempts(
                    OPEN_STARTS.retry_after(utcnow()),
                    "Too many surveys have been started from your connection.",
                )
            visit.response = flow.start_anonymous(session, visit.round, language=language)
            ratelimits.hit(session, OPEN_STARTS, client)
            _remember(key, visit.response.id)
        return redirect(visit.here(), 303)

    return _run(kind, key, work)


@_pages("/q", "current", ["GET"])
def current(kind: str, key: str) -> ResponseReturnValue:
    """Go to wherever the respondent is now."""
    return _run(kind, key, lambda session, visit: redirect(visit.here(), 303), read_only=True)


@_pages("/q/<qid>", "question", ["GET"])
def question(kind: str, key: str, qid: str) -> ResponseReturnValue:
    """Show a question: the current one, or an earlier one the respondent went back to."""

    def work(session: Session, visit: Visit) -> Outcome:
        response = _answering(visit)
        if response.status == "completed":
            return redirect(visit.here(), 303)
        if response.cursor != qid and visit.read_only:
            raise _NeedsWrite()  # going back to an earlier question moves the cursor
        try:
            view = flow.go_to(session, response, qid)
        except flow.StaleQuestion:
            return redirect(visit.here(), 303)
        if not isinstance(view, flow.QuestionView) or view.question_id != qid:
            return redirect(visit.here(), 303)
        return _question_page(visit, view)

    return _run(kind, key, work, read_only=True)


@_pages("/q/<qid>", "answer", ["POST"])
def answer(kind: str, key: str, qid: str) -> ResponseReturnValue:
    """Take the answer to a question and go on, or show it again with what was wrong."""
    raw = request.form.getlist("answer")

    def work(session: Session, visit: Visit) -> Outcome:
        response = _started(visit)
        try:
            view = flow.answer(session, response, qid, raw)
        except flow.AnsweredElsewhere as conflict:
            # Another device or tab moved on first: this answer was not saved, so say so.
            _tell(response, conflict.message)
            return redirect(visit.here(), 303)
        except flow.StaleQuestion:
            # An old page or a second click of the same answer: nothing was lost.
            return redirect(visit.here(), 303)
        if isinstance(view, flow.QuestionView) and view.question_id == qid and view.error:
            return _question_page(visit, view, raw)
        return redirect(visit.here(), 303)

    return _run(kind, key, work)


@_pages("/back", "back", ["POST"])
def back(kind: str, key: str) -> ResponseReturnValue:
    """Go to the step before the current one."""

    def work(session: Session, visit: Visit) -> Outcome:
        flow.back(session, _answering(visit))
        return redirect(visit.here(), 303)

    return _run(kind, key, work)


@_pages("/check", "check", ["GET"])
def check(kind: str, key: str) -> ResponseReturnValue:
    """Show every answer, each with a link to change it, before sending."""

    def work(session: Session, visit: Visit) -> Outcome:
        response = _answering(visit)
        view = flow.view(session, response)
        if not isinstance(view, flow.ReviewView):
            return redirect(visit.here(), 303)
        return _page("respond/check.html", visit.frame(), view=view)

    return _run(kind, key, work, read_only=True)


@_pages("/check", "submit", ["POST"])
def submit(kind: str, key: str) -> ResponseReturnValue:
    """Send the answers: once, however many times the button is pressed."""

    def work(session: Session, visit: Visit) -> Outcome:
        view = flow.complete(session, _started(visit))
        if isinstance(view, flow.QuestionView) and view.error:
            # A required answer is missing: its question, with why, for this browser only.
            return _question_page(visit, view)
        return redirect(visit.here(), 303)

    return _run(kind, key, work)


@_pages("/done", "done", ["GET"])
def done(kind: str, key: str) -> ResponseReturnValue:
    """Confirm that the answers were sent."""

    def work(session: Session, visit: Visit) -> Outcome:
        response = _started(visit)
        if response.status != "completed":
            return redirect(visit.here(), 303)
        return _page("respond/done.html", visit.frame())

    return _run(kind, key, work, read_only=True)


@_pages("/language", "language", ["POST"])
def language(kind: str, key: str) -> ResponseReturnValue:
    """Switch the language the survey is shown in."""
    chosen = request.form.get("language", "")
    back_to_start = request.form.get("page") == "start"

    def work(session: Session, visit: Visit) -> Outcome:
        response = visit.response
        start_url = _page_url(kind, key)("start", lang=chosen)
        if response is None or response.status == "completed":
            return redirect(start_url, 303)
        flow.set_language(session, response, chosen)
        return redirect(start_url if back_to_start else visit.here(), 303)

    return _run(kind, key, work)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Say what tempcheck is, for someone who arrives without a link."""
    return render_template("index.html", frame=None, t=Words("en"))


# Building the question page ---------------------------------------------------------------


def _question_page(visit: Visit, view: flow.QuestionView, raw: list[str] | None = None) -> Page:
    """Build a question page; after an error, show what the respondent sent, not what is saved."""
    frame = visit.frame()
    words = Words(frame.language)
    if raw is not None:
        selected = {value for value in raw if value}
        typed = raw[0] if raw else ""
    else:
        selected = {choice.value for choice in view.choices if choice.selected}
        typed = view.value or ""
    label, hint = view.label, view.hint
    if not view.required and view.type != "note":
        label = f"{view.label} {words.optional}"
        if hint and hint.strip(" .").casefold() in ("optional", words.optional.strip("()")):
            hint = None  # the label says so already
    page = _page(
        "respond/question.html",
        frame,
        view=replace(view, response_id=0),  # the page does not show it; the cache need not
        label=label,
        hint=hint,
        selected=frozenset(selected),
        typed=typed,
        error=view.error,
        progress=words("progress", position=view.position, total=view.total),
        exclusive=frozenset(c.value for c in view.choices if c.exclusive),
    )
    # Choices are the same for everyone; what someone typed, or an error, is theirs alone.
    page.shared = view.error is None and (view.type in _SHARED_TYPES or not typed)
    return page


_SHARED_TYPES = frozenset({"single", "multiple", "scale", "note"})
