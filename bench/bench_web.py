"""Benchmark: the web forms under load, over HTTP on loopback, against a minimal baseline.

Starts `tempcheck serve --threads 8` (waitress) on a fresh SQLite database with
the demo data and a round of cvs-support for 1,500 more groups, and drives it with simulated
respondents who answer page by page as a browser without JavaScript does: open the page, send
its form with the CSRF token and the session cookie, follow the redirect.

1. Throughput: 50 respondents with no pause between pages, for 20 seconds, each starting a new
   invitation when it finishes one. Figure: answers stored per second (rows added to the
   answers table, over the phase's time). Baseline, measured in the same run: a minimal Flask
   app under gunicorn (2 sync workers, as `tempcheck serve` ran before waitress), whose one
   POST route inserts one row into SQLite through the same engine settings (WAL, BEGIN
   IMMEDIATE), driven by 50 clients with no pause for 10 seconds. Aim: at least half the
   baseline's rate.
2. Latency: 200 respondents, each pausing about 2 s (1.5 to 2.5 s) between pages, each
   completing one survey. Figure: p50 and p99 page latency, where a page is the time from
   sending a form to having the next page (the POST and its redirected GET), or opening the
   link. Aim: p99 under 250 ms.

Traffic goes to 127.0.0.1 only; every phase is bounded in count and time (about 2 minutes in
all). Run with `make bench` or `.venv/bin/python bench/bench_web.py`.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from servers import free_port, wait_until_up
from sqlalchemy import select

from collector import db, models, rounds
from collector.cli import demo
from collector.config import Settings
from collector.models import utcnow
from collector.survey.loader import library_survey
from collector.survey.store import register

BENCH_GROUPS = 1500
THROUGHPUT_CLIENTS = 50
THROUGHPUT_SECONDS = 20.0
BASELINE_SECONDS = 10.0
LATENCY_CLIENTS = 200
LATENCY_PAUSE = (1.5, 2.5)
LATENCY_LIMIT_SECONDS = 75.0
WORKERS = 2  # the baseline's gunicorn workers
THREADS = 8  # `tempcheck serve --threads`

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
_COOKIE = re.compile(r"^(tempcheck=[^;]*)")


# HTTP ---------------------------------------------------------------------------------------


@dataclass
class Reply:
    """One HTTP response, read whole."""

    status: int
    location: str | None
    body: str


class Client:
    """A respondent's browser: one connection per request (as the baseline's sync workers do)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie: str | None = None

    def request(self, method: str, path: str, form: dict[str, object] | None = None) -> Reply:
        """Send one request and read the reply, keeping the session cookie."""
        headers = {"Connection": "close"}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookie:
            headers["Cookie"] = self.cookie
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            for value in response.headers.get_all("Set-Cookie") or []:
                match = _COOKIE.match(value)
                if match:
                    self.cookie = match.group(1)
            return Reply(response.status, response.headers.get("Location"), text)
        finally:
            connection.close()


# Respondents --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the respondents did, shared between threads."""

    pages: list[float] = field(default_factory=list)
    completed: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, seconds: float) -> None:
        with self.lock:
            self.pages.append(seconds)

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


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
    """Run `clients` respondent threads until `seconds` pass or their surveys are done."""
    tally = Tally()
    pool = list(tokens)
    pool_lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def stop() -> bool:
        return time.monotonic() >= deadline

    def respondent(n: int) -> None:
        time.sleep(stagger * n / max(clients, 1))
        done = 0
        while not stop() and (surveys_each is None or done < surveys_each):
            with pool_lock:
                if not pool:
                    return
                token = pool.pop()
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


# The baseline app -------------------------------------------------------------------------


def baseline_server(port: int, database: str) -> None:
    """Serve the minimal baseline app with gunicorn (2 sync workers), in this process."""
    from flask import Flask
    from gunicorn.app.base import BaseApplication
    from sqlalchemy import text

    settings = Settings(database_url=f"sqlite:///{database}")

    def create() -> Flask:
        app = Flask("baseline")
        engine = db.make_engine(settings)

        @app.post("/hit")
        def hit() -> tuple[str, int]:
            with engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO hits (value, at) VALUES (:value, CURRENT_TIMESTAMP)"),
                    {"value": secrets.token_hex(8)},
                )
            return "ok", 201

        @app.get("/")
        def up() -> str:
            return "up"

        return app

    class Baseline(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": WORKERS,
                "worker_class": "sync",
                "accesslog": "-",
                "errorlog": "-",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return create()

    Baseline().run()


def run_baseline(port: int, clients: int, seconds: float) -> int:
    """Drive the baseline's POST route with no pause; give the number of requests that worked."""
    deadline = time.monotonic() + seconds
    ok = [0] * clients

    def client(n: int) -> None:
        http_client = Client(port)
        while time.monotonic() < deadline:
            if http_client.request("POST", "/hit", {"value": "x"}).status == 201:
                ok[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(ok)


# Setting up -------------------------------------------------------------------------------


def build_database(settings: Settings) -> list[str]:
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
    engine.dispose()
    return tokens


def count_rows(database: Path, table: str) -> int:
    """Count a table's rows with a plain read (WAL lets it run beside the server)."""
    with sqlite3.connect(database) as connection:
        return int(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def start_server(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server process with its output going to a log file."""
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop a server process (gunicorn shuts down its workers on SIGTERM)."""
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def percentile(values: list[float], q: float) -> float:
    """Give the q-th percentile (0..100) of the values."""
    ordered = sorted(values)
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    """Run the three phases and print the figures."""
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline-server":
        baseline_server(int(sys.argv[2]), sys.argv[3])
        return
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="tempcheck-bench-web-") as tmp:
        folder = Path(tmp)
        database = folder / "web.db"
        settings = Settings(database_url=f"sqlite:///{database}", instance_path=str(folder))
        print("Building the demo database and 1,500 more invitations...", flush=True)
        tokens = build_database(settings)
        random.Random(7).shuffle(tokens)
        latency_tokens, throughput_tokens = tokens[:LATENCY_CLIENTS], tokens[LATENCY_CLIENTS:]

        # The baseline first, on a database of its own.
        baseline_db = folder / "baseline.db"
        with sqlite3.connect(baseline_db) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE hits (id INTEGER PRIMARY KEY, value TEXT NOT NULL, at TIMESTAMP)"
            )
        port = free_port()
        server = start_server(
            [sys.executable, __file__, "--baseline-server", str(port), str(baseline_db)],
            dict(os.environ),
            folder / "baseline.log",
        )
        try:
            wait_until_up(port)
            print(
                f"Baseline: {THROUGHPUT_CLIENTS} clients, {BASELINE_SECONDS:.0f} s...", flush=True
            )
            started = time.monotonic()
            run_baseline(port, THROUGHPUT_CLIENTS, BASELINE_SECONDS)
            elapsed = time.monotonic() - started
            baseline_rate = count_rows(baseline_db, "hits") / elapsed
        finally:
            stop_server(server)

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "TEMPCHECK_INSTANCE": str(folder),
            "SECRET_KEY": secrets.token_hex(32),
            "BASE_URL": f"http://127.0.0.1:{port}",
        }
        server = start_server(
            [str(bin_dir / "tempcheck"), "serve", "--threads", str(THREADS), "--port", str(port)],
            env,
            folder / "serve.log",
        )
        try:
            wait_until_up(port)
            print(
                f"Throughput: {THROUGHPUT_CLIENTS} respondents, no pause, "
                f"{THROUGHPUT_SECONDS:.0f} s...",
                flush=True,
            )
            before = count_rows(database, "answers")
            started = time.monotonic()
            fast = run_respondents(
                port,
                throughput_tokens,
                THROUGHPUT_CLIENTS,
                seconds=THROUGHPUT_SECONDS,
                pause=lambda: None,
            )
            elapsed = time.monotonic() - started
            answers_rate = (count_rows(database, "answers") - before) / elapsed

            print(
                f"Latency: {LATENCY_CLIENTS} respondents pausing about 2 s between pages...",
                flush=True,
            )
            slow = run_respondents(
                port,
                latency_tokens,
                LATENCY_CLIENTS,
                seconds=LATENCY_LIMIT_SECONDS,
                pause=lambda: time.sleep(random.uniform(*LATENCY_PAUSE)),
                surveys_each=1,
                stagger=2.0,
            )
        finally:
            stop_server(server)

    ratio = answers_rate / baseline_rate if baseline_rate else float("nan")
    p50 = percentile(slow.pages, 50) * 1000
    p99 = percentile(slow.pages, 99) * 1000
    print()
    print(f"Web forms (waitress, {THREADS} threads, SQLite, loopback, {os.cpu_count()} CPUs)")
    print(
        f"  answers stored per second, {THROUGHPUT_CLIENTS} respondents, no pause: "
        f"{answers_rate:8.1f}  ({fast.completed} surveys completed, {len(fast.pages)} pages)"
    )
    print(
        f"  baseline: minimal Flask POST inserting one row, gunicorn {WORKERS} sync: "
        f"{baseline_rate:8.1f} rows/s"
    )
    print(f"  ratio: {ratio:.2f} of the baseline (aim: at least 0.50)")
    print(
        f"  page latency, {LATENCY_CLIENTS} respondents pausing ~2 s: "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(slow.pages)} pages, "
        f"{slow.completed} surveys completed (aim: p99 under 250 ms)"
    )
    errors = fast.errors + slow.errors
    if errors:
        print(f"  errors: {len(errors)}, e.g. {errors[:3]}")


if __name__ == "__main__":
    main()
