"""Respondent pages: a start page, one question per page, check your answers, confirmation.

Two ways in share every page: an invitation's link, `/r/<token>`, and a round's open link,
`/s/<slug>` (anonymous: the browser's signed session cookie remembers its response). Each
request is one transaction around `collector.flow`, and the response row holds where the
respondent is, so the same link carries on days later, on another device, or after Telegram.

Every change of state is a POST followed by a redirect. The one GET that moves the respondent
is showing an earlier question (a "change" link, or the browser's back button): it moves the
cursor back to that question and changes no answer.

Each view opens its transaction with `_visit` (which finds the respondent, or counts and
refuses a bad link), does its work with the flow, and renders once the transaction has ended.
Pages that only show something read first, without the write lock, and write only when they
must. When the flow refuses (a closed round, an opted-out group, a sent response), nothing is
kept and `refused` shows why, under the survey's name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask import session as cookie
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, contains_eager, joinedload
from werkzeug.wrappers import Response as HttpResponse

from collector import db, flow, i18n, models
from collector.delivery import ratelimits
from collector.delivery.chats import telegram_link
from collector.errors import CollectorError, NotFound
from collector.i18n import N_
from collector.models import utcnow
from collector.rounds import looks_like_token
from collector.survey.model import Survey
from collector.survey.store import definition
from forms import services
from forms.errors import (
    Message,
    RoundPage,
    TooManyAttempts,
    already_answered,
    message_for,
    remember_language,
    render_message,
)
from forms.qr import qr_image
from forms.security import client_key, csp_nonce
from forms.text import Words

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
        language = language or survey.languages[0]
        organisation = self.invitation.organisation if named and self.invitation else None
        return Frame(
            kind=self.kind,
            key=self.key,
            survey_title=survey.title.get(language),
            description=survey.description.get(language) if survey.description else None,
            minutes=survey.minutes,
            provider=self.round.provider.name,
            organisation=organisation.name if organisation is not None else None,
            opens=i18n.long_date(self.round.opens_at, language),
            closes=i18n.long_date(self.round.ends_at, language),
            language=language,
            languages=tuple(survey.languages),
            started=self.response is not None,
        )

    @property
    def channel(self) -> str:
        """Give the channel this visit answers through: the web, or a round's open link."""
        return "web" if self.invitation is not None else "open_link"

    @property
    def response_id(self) -> int | None:
        """Give the id of the visit's response, if it has one yet."""
        return self.response.id if self.response is not None else None

    def url(self, page: str, **values: Any) -> str:
        """Give the address of one of this respondent's pages."""
        return url_for(f"respond.{self.kind}_{page}", key=self.key, **values)

    def here(self) -> str:
        """Give the address of where the respondent is now."""
        response = self.response
        if response is None:
            return self.url("start")
        if response.status == "completed":
            return self.url("done")
        if response.cursor is None:
            return self.url("check")
        return self.url("question", qid=response.cursor)


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
                (k, v) for k, v in self.context.items() if k not in ("frame", "t")
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


# Finding the respondent -------------------------------------------------------------------


# Everything a page needs, in one query built once. The survey's definition is parsed once per
# process (by its fingerprint), so its JSON is loaded only when it is not in memory yet. The
# recipient comes too: every page checks that it has not opted out.
_BY_TOKEN = (
    select(models.Invitation)
    .where(models.Invitation.token == bindparam("key"))
    .options(
        joinedload(models.Invitation.round)
        .joinedload(models.Round.survey)
        .defer(models.Survey.definition),
        joinedload(models.Invitation.round).joinedload(models.Round.provider),
        joinedload(models.Invitation.response),
        joinedload(models.Invitation.organisation),
        joinedload(models.Invitation.volunteer),
        joinedload(models.Invitation.contact),
    )
)
# The same for a page that changes the response, from the response's side: the flow holds the
# response it loads (see `flow.holding`), so the change is the only other statement it needs.
_HELD_BY_TOKEN = flow.holding(
    select(models.Response)
    .join(models.Response.invitation)
    .where(models.Invitation.token == bindparam("key"))
    .options(
        contains_eager(models.Response.invitation).joinedload(models.Invitation.organisation),
        contains_eager(models.Response.invitation).joinedload(models.Invitation.volunteer),
        contains_eager(models.Response.invitation).joinedload(models.Invitation.contact),
        joinedload(models.Response.round)
        .joinedload(models.Round.survey)
        .defer(models.Survey.definition),
        joinedload(models.Response.round).joinedload(models.Round.provider),
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
_HELD_BY_ID = flow.holding(select(models.Response).where(models.Response.id == bindparam("id")))


def _find(session: Session, kind: str, key: str, *, hold: bool = False) -> Visit | None:
    """Find the round, invitation and response behind an address; None when the link is bad.

    `hold`: load the response so that the flow holds it (for a page that changes it).
    """
    if kind == "r":
        if not looks_like_token(key):
            return None
        held = session.scalar(_HELD_BY_TOKEN, {"key": key}) if hold else None
        if held is not None and held.invitation is not None:
            return Visit(kind, key, held.round, held.invitation, held)
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
        if hold:
            found = session.scalar(_HELD_BY_ID, {"id": remembered})
        else:
            found = session.get(models.Response, remembered)
        if found is not None and found.round_id == round_.id and found.invitation_id is None:
            response = found
    return Visit(kind, key, round_, None, response)


@contextmanager
def _visit(
    kind: str, key: str, *, read_only: bool = False, hold: bool = True
) -> Iterator[tuple[Session, Visit]]:
    """Open the request's transaction and find the visit; commit when the block ends normally.

    `read_only`: take no write lock, and commit nothing: a view that finds it has to write
    after all does its work again in a writing transaction. Otherwise the visit's response is
    held for the flow to change (`hold=False`: a page that does not change one, such as
    starting). When the block raises, nothing is kept: a refusal from the flow (`refused`
    below shows it) rolls back what it had begun.

    A bad link is counted against the client's limit (in a transaction of its own, committed)
    and then refused with NotFound, so the block does not run.
    """
    sessions = services(current_app).glances if read_only else services(current_app).sessions
    with sessions() as session:
        visit = _find(session, kind, key, hold=hold and not read_only)
        if visit is not None:
            yield session, visit
            if not read_only:
                session.commit()
            return
    _count_bad_link()
    raise NotFound("This link is not valid", code="bad_link")


def _count_bad_link() -> None:
    """Count a bad link against the client's limit; past it, say so instead of 'not valid'.

    A valid link always works, even from a client that has used up its limit (a group
    behind the same Wi-Fi as a guesser, say): only bad links are limited, and past the limit
    they are answered "too many attempts".
    """
    with db.transaction(services(current_app).sessions) as session:
        client = client_key()
        if ratelimits.exceeded(session, BAD_LINKS, client):
            raise TooManyAttempts(
                BAD_LINKS.retry_after(utcnow()),
                "There have been too many attempts with links that are not valid from your "
                "connection.",
            )
        ratelimits.hit(session, BAD_LINKS, client)


def _changed(session: Session) -> bool:
    """Tell whether work in a read-only transaction wrote something (it must run again)."""
    return bool(session.dirty or session.new or session.deleted)


def _answering(visit: Visit) -> models.Response | None:
    """Give the response being answered; refuse if the round has closed or the group opted out."""
    response = visit.response
    if response is not None and response.status == "in_progress":
        if visit.invitation is not None:
            flow.ensure_invited(visit.invitation)
        else:
            flow.ensure_open(visit.round)
    return response


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


def _page(template: str, frame: Frame, status: int = 200, **context: Any) -> Page:
    return Page(
        template,
        {"frame": frame, "t": Words(frame.language), **context},
        status,
    )


def _message(visit: Visit, message: Message) -> Page:
    frame = visit.frame()
    return _page("message.html", frame, message.status, message=message, page="start")


def _render(page: Page, response_id: int | None) -> ResponseReturnValue:
    """Render a page once its transaction has committed, with this browser's notice if any."""
    notice = _told(response_id)
    if notice is not None:
        page.context["notice"] = notice
        page.shared = False
    return page.render(), page.status


@dataclass(frozen=True)
class TelegramOffer:
    """ "Answer in Telegram instead": the invitation's deep link, and its QR code (a data URI)."""

    link: str
    qr: str


def _telegram(visit: Visit) -> TelegramOffer | None:
    """Offer the invitation in Telegram, where the bot is configured (never for an open link,
    which has no invitation for the bot to carry on with)."""
    if visit.invitation is None:
        return None
    link = telegram_link(services(current_app).settings, visit.invitation.token)
    return TelegramOffer(link, qr_image(link)) if link else None


def _see_other(url: str) -> HttpResponse:
    return redirect(url, 303)


# Pages ------------------------------------------------------------------------------------


def start(kind: str, key: str) -> ResponseReturnValue:
    """Show the start page: who is asking and why, how long it takes, who sees the answers."""
    with _visit(kind, key, read_only=True) as (session, visit):
        # The language asked for, else the best of the survey's for the browser's settings.
        language = request.args.get("lang") or request.accept_languages.best_match(
            visit.survey().languages
        )
        if visit.response is not None and visit.response.status == "completed":
            page = _message(visit, already_answered())
        else:
            if visit.invitation is not None:
                flow.ensure_invited(visit.invitation)
            else:
                flow.ensure_open(visit.round)
            page = _page(
                "respond/start.html",
                visit.frame(language, named=True),
                page="start",
                telegram=_telegram(visit),
            )
        response_id = visit.response_id
    return _render(page, response_id)


def begin(kind: str, key: str) -> ResponseReturnValue:
    """Start the response (or carry on with the one already started) and go to its page."""
    language = request.form.get("language")
    if language:
        remember_language(language)
    with _visit(kind, key, hold=False) as (session, visit):
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
        return _see_other(visit.here())


def current(kind: str, key: str) -> ResponseReturnValue:
    """Go to wherever the respondent is now."""
    with _visit(kind, key, read_only=True) as (session, visit):
        return _see_other(visit.here())


def question(kind: str, key: str, qid: str) -> ResponseReturnValue:
    """Show a question: the current one, or an earlier one the respondent went back to."""
    # Read first, without the write lock. Going back to an earlier question moves the cursor
    # (as does, rarely, a cursor left on a question no longer asked): then write.
    for read_only in (True, False):
        with _visit(kind, key, read_only=read_only) as (session, visit):
            response = _answering(visit)
            if response is None:
                return _see_other(visit.url("start"))
            if response.status == "completed":
                return _see_other(visit.here())
            if read_only and response.cursor != qid:
                continue
            try:
                view = flow.go_to(session, response, qid)
            except flow.StaleQuestion:
                return _see_other(visit.here())
            if read_only and _changed(session):
                continue
            if not isinstance(view, flow.QuestionView) or view.question_id != qid:
                return _see_other(visit.here())
            page = _question_page(visit, view)
        return _render(page, response.id)
    raise AssertionError("the writing transaction always ends the loop")


def answer(kind: str, key: str, qid: str) -> ResponseReturnValue:
    """Take the answer to a question and go on, or show it again with what was wrong."""
    raw = request.form.getlist("answer")
    with _visit(kind, key) as (session, visit):
        response = visit.response
        if response is None:
            return _see_other(visit.url("start"))
        try:
            view = flow.answer(session, response, qid, raw, channel=visit.channel)
        except flow.AnsweredElsewhere as conflict:
            # Another device or tab moved on first: this answer was not saved, so say so.
            _tell(response, conflict.message)
            return _see_other(visit.here())
        except flow.StaleQuestion:
            # An old page or a second click of the same answer: nothing was lost.
            return _see_other(visit.here())
        if not (isinstance(view, flow.QuestionView) and view.question_id == qid and view.error):
            return _see_other(visit.here())
        page = _question_page(visit, view, raw)
    return _render(page, response.id)


def back(kind: str, key: str) -> ResponseReturnValue:
    """Go to the step before the current one."""
    with _visit(kind, key) as (session, visit):
        response = _answering(visit)
        if response is None:
            return _see_other(visit.url("start"))
        flow.back(session, response)
        return _see_other(visit.here())


def check(kind: str, key: str) -> ResponseReturnValue:
    """Show every answer, each with a link to change it, before sending."""
    # Read first, without the write lock; a cursor left on a question no longer asked moves
    # on (rarely), and then the work is done again, writing.
    for read_only in (True, False):
        with _visit(kind, key, read_only=read_only) as (session, visit):
            response = _answering(visit)
            if response is None:
                return _see_other(visit.url("start"))
            view = flow.view(session, response)
            if read_only and _changed(session):
                continue
            if not isinstance(view, flow.ReviewView):
                return _see_other(visit.here())
            page = _page("respond/check.html", visit.frame(), view=view)
        return _render(page, response.id)
    raise AssertionError("the writing transaction always ends the loop")


def submit(kind: str, key: str) -> ResponseReturnValue:
    """Send the answers: once, however many times the button is pressed."""
    with _visit(kind, key) as (session, visit):
        response = visit.response
        if response is None:
            return _see_other(visit.url("start"))
        view = flow.complete(session, response, channel=visit.channel)
        if not (isinstance(view, flow.QuestionView) and view.error):
            return _see_other(visit.here())
        # A required answer is missing: its question, with why, for this browser only.
        page = _question_page(visit, view)
    return _render(page, response.id)


def done(kind: str, key: str) -> ResponseReturnValue:
    """Confirm that the answers were sent."""
    with _visit(kind, key, read_only=True) as (session, visit):
        response = visit.response
        if response is None:
            return _see_other(visit.url("start"))
        if response.status != "completed":
            return _see_other(visit.here())
        page = _page("respond/done.html", visit.frame(), telegram=_telegram(visit))
    return _render(page, response.id)


def language(kind: str, key: str) -> ResponseReturnValue:
    """Switch the language the survey is shown in."""
    chosen = request.form.get("language", "")
    back_to_start = request.form.get("page") == "start"
    with _visit(kind, key) as (session, visit):
        response = visit.response
        if chosen not in visit.survey().languages:
            raise CollectorError(N_("This survey is not available in that language"), status=400)
        remember_language(chosen)
        start_url = visit.url("start", lang=chosen)
        if response is None or response.status == "completed":
            return _see_other(start_url)
        flow.set_language(session, response, chosen)
        return _see_other(start_url if back_to_start else visit.here())


# Both ways in share every page: an invitation's link /r/<token>... and an open link /s/<slug>...
for _kind in ("r", "s"):
    for _rule, _view, _methods in (
        ("", start, ["GET"]),
        ("/start", begin, ["POST"]),
        ("/q", current, ["GET"]),
        ("/q/<qid>", question, ["GET"]),
        ("/q/<qid>", answer, ["POST"]),
        ("/back", back, ["POST"]),
        ("/check", check, ["GET"]),
        ("/check", submit, ["POST"]),
        ("/done", done, ["GET"]),
        ("/language", language, ["POST"]),
    ):
        bp.add_url_rule(
            f"/{_kind}/<key>{_rule}",
            f"{_kind}_{_view.__name__}",
            _view,
            methods=_methods,
            defaults={"kind": _kind},
        )


@bp.errorhandler(flow.RoundNotOpen)
@bp.errorhandler(flow.OptedOut)
@bp.errorhandler(flow.AlreadyCompleted)
def refused(error: CollectorError) -> ResponseReturnValue:
    """Say why the survey takes no answers here, under the survey's name (nothing was kept)."""
    # The round's dates were loaded with it; closing the view's session did not expire them.
    shown = RoundPage(error) if isinstance(error, flow.RoundNotOpen) else error
    args = request.view_args or {}
    with db.transaction(services(current_app).readers) as session:
        visit = _find(session, args.get("kind", ""), args.get("key", ""))
        page = _message(visit, message_for(shown)) if visit is not None else None
    if page is None:
        return render_message(message_for(shown))
    return page.render(), page.status


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
