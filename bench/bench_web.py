"""Benchmark: the web forms under load, over HTTP on loopback, on SQLite and on PostgreSQL,
each against a minimal Flask baseline measured in the same run.

For each database it starts `tempcheck serve --threads 8 --workers N` (waitress; N processes,
one per CPU by default) on a fresh database with the demo data and a round of cvs-support for
6,000 more groups, and, beside it, a minimal Flask app served the same way (same processes and
threads, on a database of its own of the same kind, through the same engine settings).
Simulated respondents answer page by page as a browser without JavaScript does: open the page,
send its form with the CSRF token and the session cookie, follow the redirect.

1. Throughput: 50 respondents with no pause between pages, for 15 seconds, each starting a new
   invitation when it finishes one. Figure: answers stored per second (rows added to the
   answers table over the run). Baseline: the bare insert, the minimal app's one POST route
   inserting one row, driven by 50 clients with no pause for as long. Aim: at least 0.5x.
2. Latency: 200 respondents, each pausing about 2 s (1.5 to 2.5 s) between pages, each
   completing one survey. Figure: p50, p95 and p99 page latency, where a page is the time from
   sending a form to having the next page (the POST and its redirected GET), or opening the
   link. Baseline: the same flow on the minimal app (the same pages in the same order, each a
   form with a CSRF token in a signed session cookie, POST-redirect-GET, each answer stored as
   one row, a check-your-answers page that reads them back). Aim: p99 under 250 ms.

Each is run interleaved: a warm-up of both sides that is not counted (5 s of the throughput
load; 50 respondents pausing 0.5 s), then three repetitions, the baseline first in every other
one. It prints every run's figure, the medians and the ratios.

    python bench/bench_web.py [--databases sqlite,postgresql] [--repeats 3] [--seconds 15]
                              [--clients 50] [--respondents 200]

Traffic goes to 127.0.0.1 only; every run is bounded in count and time (about 5 minutes per
database with the defaults). `make bench` runs it on both databases.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from servers import (
    Databases,
    databases_option,
    free_port,
    interleaved,
    median,
    percentile,
    ratio,
    run_label,
    start_server,
    stop_server,
    wait_until_up,
)
from sqlalchemy import Engine, select, text

from collector import db, models, rounds
from collector.cli import demo
from collector.config import Settings
from collector.models import utcnow
from collector.survey.loader import library_survey
from collector.survey.store import register

BENCH_GROUPS = 6000  # enough for ten times today's answer rate
THREADS = 8  # `tempcheck serve --threads`, and the baseline's waitress
WORKERS = os.cpu_count() or 1  # `tempcheck serve --workers`, and the baseline's
PAUSE = (1.5, 2.5)
LATENCY_LIMIT_SECONDS = 90.0
WARM_UP_SECONDS = 5.0
WARM_UP_RESPONDENTS = 50
WARM_UP_PAUSE = (0.3, 0.7)
SIDES = ("baseline", "tempcheck")

# One respondent's answers to cvs-support (the "yes" path, so every question is asked).
ANSWERS: dict[str, list[str]] = {
    "intro": [],
    "used_support": ["yes"],
    "support_kinds": ["funding", "training"],
    "ease_of_access": ["easy"],
    "satisfaction": ["satisfied"],
    "capacity_increased": ["yes_a_little"],
    "outcomes_contributed": ["healthy_lifestyles", "good_lives"],
    "aware_outcomes": ["winter_preparedness"],
    "awareness_raised": ["winter_preparedness"],
    "informed_strategies": ["well_informed"],
    "informed_district": ["not_very_well_informed"],
    "comments": ["Friendly and quick to reply."],
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_COOKIE = re.compile(r"^([^=;\s]+)=([^;]*)")


# HTTP ---------------------------------------------------------------------------------------


@dataclass
class Reply:
    """One HTTP response, read whole."""

    status: int
    location: str | None
    body: str


class Client:
    """A respondent's browser: its cookies, and one connection per request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, object] | None = None) -> Reply:
        """Send one request and read the reply, keeping the cookies it sets."""
        headers = {"Connection": "close"}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text_ = response.read().decode()
            for value in response.headers.get_all("Set-Cookie") or []:
                match = _COOKIE.match(value)
                if match:
                    self.cookies[match.group(1)] = match.group(2)
            return Reply(response.status, response.headers.get("Location"), text_)
        finally:
            connection.close()


# Respondents --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the respondents did, shared between threads."""

    pages: list[float] = field(default_factory=list)
    completed: int = 0
    errors: list[str] = field(default_factory=list)
    ran_out: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, seconds: float) -> None:
        with self.lock:
            self.pages.append(seconds)

    def error(self, text_: str) -> None:
        with self.lock:
            self.errors.append(text_)


def answer_survey(
    port: int, token: str, tally: Tally, pause: Callable[[], None], stop: Callable[[], bool]
) -> None:
    """Complete cvs-support for one invitation, page by page; give up quietly at `stop`."""
    client = Client(port)
    started = time.perf_counter()
    page = client.request("GET", f"/r/{token}")
    tally.page(time.perf_counter() - started)
    location: str | None = f"/r/{token}/start"
    form: dict[str, object] = {"language": "en"}
    while location is not None:
        if page.status != 200:
            tally.error(f"{page.status} on the page before {location}")
            return
        if stop():
            return
        pause()
        csrf = _CSRF.search(page.body)
        if csrf is None:
            tally.error(f"no form before {location}")
            return
        started = time.perf_counter()
        sent = client.request("POST", location, {"csrf_token": csrf.group(1), **form})
        if sent.status != 303 or sent.location is None:
            tally.error(f"{sent.status} from POST {location.split('/')[-1]}")
            return
        page = client.request("GET", sent.location)
        tally.page(time.perf_counter() - started)
        if sent.location.endswith("/done"):
            with tally.lock:
                tally.completed += 1
            return
        if sent.location.endswith("/check"):
            location, form = sent.location, {}
        else:
            location = sent.location
            form = {"answer": ANSWERS[sent.location.rsplit("/", 1)[1]]}


def run_respondents(
    port: int,
    tokens: list[str],
    clients: int,
    *,
    seconds: float,
    pause: Callable[[], None],
    surveys_each: int | None = None,
    stagger: float = 0.0,
) -> Tally:
    """Run `clients` respondent threads until `seconds` pass or their surveys are done.

    Each takes its invitations from `tokens` (removing them: an invitation is answered once)."""
    tally = Tally()
    pool_lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def stop() -> bool:
        return time.monotonic() >= deadline

    def respondent(n: int) -> None:
        time.sleep(stagger * n / max(clients, 1))
        done = 0
        while not stop() and (surveys_each is None or done < surveys_each):
            with pool_lock:
                if not tokens:
                    tally.ran_out = True
                    return
                token = tokens.pop()
            try:
                answer_survey(port, token, tally, pause, stop)
            except OSError as error:
                tally.error(f"{type(error).__name__}: {error}")
            done += 1

    threads = [threading.Thread(target=respondent, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def run_inserts(port: int, clients: int, seconds: float) -> Tally:
    """Drive the baseline's bare-insert route with no pause, for `seconds`."""
    tally = Tally()
    deadline = time.monotonic() + seconds

    def client() -> None:
        http_client = Client(port)
        while time.monotonic() < deadline:
            try:
                status = http_client.request("POST", "/hit", {"value": "x"}).status
            except OSError as error:
                tally.error(f"{type(error).__name__}: {error}")
                continue
            if status != 201:
                tally.error(f"{status} from POST /hit")
                continue
            with tally.lock:
                tally.completed += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


# The baseline app ---------------------------------------------------------------------------

BASELINE_TABLES = (
    "CREATE TABLE hits (id {serial} PRIMARY KEY, value TEXT NOT NULL, at TIMESTAMP)",
    "CREATE TABLE responses (id {serial} PRIMARY KEY, token TEXT NOT NULL UNIQUE, "
    "started_at TIMESTAMP NOT NULL, completed_at TIMESTAMP)",
    "CREATE TABLE answers (id {serial} PRIMARY KEY, token TEXT NOT NULL, "
    "question_id TEXT NOT NULL, value TEXT NOT NULL, answered_at TIMESTAMP NOT NULL, "
    "UNIQUE (token, question_id))",
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{{ title }}</h1>
{% if hint %}<p>{{ hint }}</p>{% endif %}
{% for row in rows %}<p>{{ row[0] }}: {{ row[1] }}</p>{% endfor %}
{% if action %}<form method="post" action="{{ action }}" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf }}">
{% for value, label in choices %}<div><input type="{{ kind }}" id="c{{ loop.index }}"
 name="{{ name }}" value="{{ value }}"><label for="c{{ loop.index }}">{{ label }}</label></div>
{% endfor %}{% if kind == "text" %}<textarea name="answer" rows="4"></textarea>{% endif %}
<button type="submit">Continue</button></form>{% endif %}
</main></body></html>"""


def baseline_app(url: str, secret_key: str) -> Any:
    """Build the minimal app: the bare insert, and the respondent's flow without the engine."""
    from flask import Flask, abort, redirect, render_template_string, request, session

    survey = library_survey("cvs-support")
    order = list(ANSWERS)
    questions = {q.id: q for q in survey.questions if q.id in ANSWERS}
    engine = db.make_engine(Settings(database_url=url))
    app = Flask("baseline")
    app.secret_key = secret_key  # the same in every worker, as tempcheck's SECRET_KEY is

    def page(title: str, **context: Any) -> str:
        values = {"hint": None, "rows": (), "action": None, "choices": (), "kind": "radio"}
        return render_template_string(PAGE, title=title, **{**values, **context})

    def form_checked(token: str) -> None:
        if session.get("token") != token or request.form.get("csrf_token") != session["csrf"]:
            abort(400)

    def see_other(path: str) -> Any:
        return redirect(path, code=303)

    @app.post("/hit")
    def hit() -> tuple[str, int]:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO hits (value, at) VALUES (:value, CURRENT_TIMESTAMP)"),
                {"value": secrets.token_hex(8)},
            )
        return "ok", 201

    @app.get("/")
    def up() -> str:
        return "up"

    @app.get("/r/<token>")
    def start(token: str) -> str:
        session["token"], session["csrf"] = token, secrets.token_urlsafe(24)
        choices = [("en", "English"), ("cy", "Cymraeg")]
        return page(
            survey.title.get("en"),
            action=f"/r/{token}/start",
            csrf=session["csrf"],
            choices=choices,
            name="language",
        )

    @app.post("/r/<token>/start")
    def begin(token: str) -> Any:
        form_checked(token)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO responses (token, started_at) VALUES (:t, CURRENT_TIMESTAMP)"),
                {"t": token},
            )
        return see_other(f"/r/{token}/q/{order[0]}")

    @app.get("/r/<token>/q/<qid>")
    def question(token: str, qid: str) -> str:
        if session.get("token") != token or qid not in questions:
            abort(404)
        q = questions[qid]
        kind = {"multiple": "checkbox", "text": "text"}.get(q.type.value, "radio")
        return page(
            q.label.get("en"),
            hint=q.hint.get("en") if q.hint else None,
            action=f"/r/{token}/q/{qid}",
            csrf=session["csrf"],
            choices=[(c.value, c.label.get("en")) for c in q.choices],
            kind=kind,
            name="answer",
        )

    @app.post("/r/<token>/q/<qid>")
    def answer(token: str, qid: str) -> Any:
        form_checked(token)
        value = " ".join(request.form.getlist("answer"))
        if value:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO answers (token, question_id, value, answered_at) "
                        "VALUES (:t, :q, :v, CURRENT_TIMESTAMP)"
                    ),
                    {"t": token, "q": qid, "v": value},
                )
        following = order.index(qid) + 1
        if following < len(order):
            return see_other(f"/r/{token}/q/{order[following]}")
        return see_other(f"/r/{token}/check")

    @app.get("/r/<token>/check")
    def check(token: str) -> str:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT question_id, value FROM answers WHERE token = :t ORDER BY id"),
                {"t": token},
            ).all()
        return page(
            "Check your answers",
            rows=[(questions[r[0]].label.get("en"), r[1]) for r in rows],
            action=f"/r/{token}/check",
            csrf=session["csrf"],
        )

    @app.post("/r/<token>/check")
    def submit(token: str) -> Any:
        form_checked(token)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE responses SET completed_at = CURRENT_TIMESTAMP WHERE token = :t"),
                {"t": token},
            )
        return see_other(f"/r/{token}/done")

    @app.get("/r/<token>/done")
    def done(token: str) -> str:
        return page("Thank you", hint="Your answers have been sent.")

    return app


def baseline_server(port: int, url: str, threads: int, workers: int) -> None:
    """Serve the baseline app with waitress, configured as `tempcheck serve` configures it."""
    from forms.server import (
        BUFFERED_BODY_BYTES,
        CONNECTION_LIMIT,
        IDLE_SECONDS,
        Workers,
        serve_one,
    )

    secret_key = secrets.token_hex(32)
    options = {
        "threads": threads,
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": IDLE_SECONDS,
        "max_request_body_size": BUFFERED_BODY_BYTES,
    }
    if workers == 1:
        serve_one(
            lambda: baseline_app(url, secret_key), {**options, "host": "127.0.0.1", "port": port}
        )
    else:
        Workers(lambda: baseline_app(url, secret_key), options, "127.0.0.1", port, workers).run()


# Setting up -------------------------------------------------------------------------------


def build_tempcheck(settings: Settings) -> list[str]:
    """Create the demo data and a round of cvs-support for more groups; give its tokens."""
    engine = db.make_engine(settings)
    db.upgrade(engine)
    factory = db.make_sessionmaker(engine)
    with db.transaction(factory) as session:
        demo.build(session)
        provider = models.Provider(slug="bench-cvs", name="Bench CVS", district="Loopback")
        session.add(provider)
        session.add_all(
            models.Organisation(
                provider=provider,
                external_ref=f"B{n:05d}",
                name=f"Bench group {n}",
                org_type="community_group",
                income_band="under_10k",
                district="Loopback",
                outcomes="healthy_lifestyles",
            )
            for n in range(BENCH_GROUPS)
        )
        session.flush()
        round_ = rounds.create_round(
            session,
            provider=provider,
            survey=register(session, library_survey("cvs-support")),
            period_label="Bench",
            opens_at=utcnow() - timedelta(days=1),
            closes_at=utcnow() + timedelta(days=30),
        )
        rounds.open_round(session, round_)
        tokens = list(
            session.scalars(
                select(models.Invitation.token).where(models.Invitation.round_id == round_.id)
            )
        )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return tokens


def build_baseline(url: str) -> None:
    """Create the baseline app's tables."""
    engine = db.make_engine(Settings(database_url=url))
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as conn:
        for statement in BASELINE_TABLES:
            conn.execute(text(statement.format(serial=serial)))
    engine.dispose()


def count_rows(engine: Engine, table: str) -> int:
    """Count a table's rows (on SQLite a WAL read, beside the server's writes)."""
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


# Running ----------------------------------------------------------------------------------


@dataclass
class Side:
    """One of the two servers: where it listens, its database, its invitations."""

    name: str
    port: int
    engine: Engine
    tokens: list[str]


@dataclass
class Figures:
    """One database's figures: throughput per run, and latency per run, per side."""

    database: str
    rates: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SIDES})
    pages: dict[str, list[list[float]]] = field(default_factory=lambda: {s: [] for s in SIDES})
    completed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    errors: list[str] = field(default_factory=list)


def throughput(side: Side, clients: int, seconds: float) -> tuple[float, Tally]:
    """Run the throughput load on one side; give rows stored per second."""
    table = "answers" if side.name == "tempcheck" else "hits"
    before = count_rows(side.engine, table)
    started = time.monotonic()
    if side.name == "tempcheck":
        tally = run_respondents(side.port, side.tokens, clients, seconds=seconds, pause=_no_pause)
    else:
        tally = run_inserts(side.port, clients, seconds)
    elapsed = time.monotonic() - started
    return (count_rows(side.engine, table) - before) / elapsed, tally


def latency(side: Side, respondents: int, pause: tuple[float, float]) -> Tally:
    """Have `respondents` each complete one survey, pausing between pages."""
    return run_respondents(
        side.port,
        side.tokens,
        respondents,
        seconds=LATENCY_LIMIT_SECONDS,
        pause=lambda: time.sleep(random.uniform(*pause)),
        surveys_each=1,
        stagger=2.0,
    )


def _no_pause() -> None:
    pass


def bench_database(database: str, databases: Databases, folder: Path, args: Any) -> Figures:
    """Set up both servers on one kind of database and run both loads, interleaved."""
    print(f"\n{database}: building the demo data and {BENCH_GROUPS:,} more invitations...")
    url = databases.url(database, "bench_web")
    settings = Settings(database_url=url, instance_path=str(folder))
    tokens = build_tempcheck(settings)
    random.Random(7).shuffle(tokens)
    baseline_url = databases.url(database, "bench_web_baseline")
    build_baseline(baseline_url)
    figures = Figures(database)

    ports = {name: free_port() for name in SIDES}
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TEMPCHECK_INSTANCE": str(folder),
        "SECRET_KEY": secrets.token_hex(32),
        "BASE_URL": f"http://127.0.0.1:{ports['tempcheck']}",
    }
    threads, workers = str(args.threads), str(args.workers)
    commands = {
        "baseline": [sys.executable, __file__, "--baseline-server", str(ports["baseline"])]
        + [baseline_url, threads, workers],
        "tempcheck": [str(bin_dir / "tempcheck"), "serve", "--threads", threads]
        + ["--workers", workers, "--port", str(ports["tempcheck"])],
    }
    servers = {}
    sides = {
        "baseline": Side(
            "baseline",
            ports["baseline"],
            db.make_engine(Settings(database_url=baseline_url)),
            [secrets.token_urlsafe(24) for _ in range(len(tokens))],
        ),
        "tempcheck": Side("tempcheck", ports["tempcheck"], db.make_engine(settings), tokens),
    }
    try:
        for name in SIDES:
            # Run from the folder, so that no .env of the working tree changes the settings.
            servers[name] = start_server(
                commands[name], env, folder / f"{name}-{database}.log", cwd=folder
            )
        for name in SIDES:
            wait_until_up(ports[name], "/")

        print(
            f"{database}: throughput, {args.clients} clients with no pause, "
            f"{args.seconds:.0f} s a run",
            flush=True,
        )
        for repetition, name in interleaved(SIDES, args.repeats):
            seconds = WARM_UP_SECONDS if repetition == 0 else args.seconds
            rate, tally = throughput(sides[name], args.clients, seconds)
            if name == "tempcheck":
                what, done = "answers stored/s", f"{len(tally.pages)} pages"
            else:
                what, done = "bare inserts/s  ", f"{tally.completed} requests"
            print(
                f"  {database:10s} {run_label(repetition, args.repeats):8s} {name:9s} "
                f"{rate:8.1f} {what}  ({done}, {len(tally.errors)} errors"
                f"{', RAN OUT OF INVITATIONS' if tally.ran_out else ''})",
                flush=True,
            )
            figures.errors += tally.errors
            if repetition > 0:
                figures.rates[name].append(rate)

        print(
            f"{database}: latency, {args.respondents} respondents pausing about 2 s "
            "between pages, one survey each",
            flush=True,
        )
        for repetition, name in interleaved(SIDES, args.repeats):
            warm_up = repetition == 0
            tally = latency(
                sides[name],
                WARM_UP_RESPONDENTS if warm_up else args.respondents,
                WARM_UP_PAUSE if warm_up else PAUSE,
            )
            ms = [s * 1000 for s in tally.pages]
            print(
                f"  {database:10s} {run_label(repetition, args.repeats):8s} {name:9s} "
                f"p50 {percentile(ms, 50):5.0f} ms  p95 {percentile(ms, 95):5.0f} ms  "
                f"p99 {percentile(ms, 99):5.0f} ms  ({len(ms)} pages, {tally.completed} "
                f"surveys, {len(tally.errors)} errors"
                f"{', RAN OUT OF INVITATIONS' if tally.ran_out else ''})",
                flush=True,
            )
            figures.errors += tally.errors
            if not warm_up:
                figures.pages[name].append(ms)
                figures.completed[name] += tally.completed
    finally:
        for server in servers.values():
            stop_server(server)
        for side in sides.values():
            side.engine.dispose()
    return figures


def report(all_figures: list[Figures], args: Any) -> None:
    """Print the medians and ratios."""
    print()
    print(
        f"Web forms: waitress, {args.workers} processes of {args.threads} threads a side, "
        f"loopback, {os.cpu_count()} CPUs; "
        f"medians of {args.repeats} interleaved runs after a warm-up"
    )
    for f in all_figures:
        rates = {s: median(f.rates[s]) for s in SIDES}
        print(f"{f.database}:")
        print(
            f"  throughput: tempcheck {rates['tempcheck']:.1f} answers stored/s, bare insert "
            f"{rates['baseline']:.1f} rows/s: {ratio(rates['tempcheck'], rates['baseline']):.2f}x"
            " (aim: at least 0.50x)"
        )
        for name in SIDES:
            # Each percentile is the median of the runs' percentiles.
            p = {q: median([percentile(run, q) for run in f.pages[name]]) for q in (50, 95, 99)}
            label = "tempcheck" if name == "tempcheck" else "same-flow baseline"
            print(
                f"  latency, {label:18s}: p50 {p[50]:5.0f} ms  p95 {p[95]:5.0f} ms  "
                f"p99 {p[99]:5.0f} ms  ({sum(len(r) for r in f.pages[name])} pages, "
                f"{f.completed[name]} surveys)"
            )
        if f.errors:
            print(f"  errors: {len(f.errors)}, e.g. {f.errors[:3]}")
    print("Aim: p99 under 250 ms at 200 respondents.")


def main() -> None:
    """Run both loads on every database asked for, and print the figures."""
    if len(sys.argv) == 6 and sys.argv[1] == "--baseline-server":
        baseline_server(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", type=databases_option, default="sqlite,postgresql")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0, help="Each throughput run.")
    parser.add_argument("--clients", type=int, default=50, help="Throughput's clients.")
    parser.add_argument("--respondents", type=int, default=200, help="Latency's respondents.")
    parser.add_argument("--threads", type=int, default=THREADS, help="Each server's threads.")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help="Each server's processes (`serve --workers`)."
    )
    args = parser.parse_args()
    started = time.monotonic()
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="tempcheck-bench-web-") as tmp,
        Databases(Path(tmp)) as databases,
    ):
        for database in args.databases:
            results.append(bench_database(database, databases, Path(tmp), args))
    report(results, args)
    print(f"bench_web took {(time.monotonic() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
