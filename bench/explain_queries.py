"""EXPLAIN every query of the answer path and the KPI path on a national-scale database, and
name the ones that read a whole big table.

On bench_kpi's database (4 providers x 2 rounds, 1M completed responses, ~8.7M answers, 1.3M
invitations by default), with the first provider's latest round opened again so that its
unanswered invitations can be answered, it records every SQL statement that

- the answer path sends: respondents completing cvs-support through the web app (Flask's test
  client, page by page as bench_web's respondents do: open the link, start, every question,
  check, submit), and one stopping being asked (the opt-out link in an invitation), and
- the KPI path sends: `tempcheck kpi --json` and `tempcheck report build --format xlsx`,

then asks the database for each statement's plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
PostgreSQL) and prints it, marking a full scan of a table of more than 10,000 rows. A scan the
query means to do (a KPI reading every answer of its rounds) is still marked: read the plan.

    python bench/explain_queries.py [--size 1M] [--databases sqlite,postgresql] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_kpi import FRAMEWORK, Built, build
from bench_web import _CSRF, ANSWERS
from servers import Databases, databases_option, size_label, sizes_option
from sqlalchemy import Engine, event, text

from collector import db
from collector.config import Settings

BIG = 10_000
RESPONDENTS = 3


@dataclass
class Recorded:
    """The distinct statements one path sent, each with the parameters it was first sent with."""

    statements: dict[str, Any] = field(default_factory=dict)

    def add(self, statement: str, parameters: Any, many: bool) -> None:
        if many and parameters:
            parameters = parameters[0]
        self.statements.setdefault(statement, parameters)


@contextlib.contextmanager
def recording() -> Iterator[Recorded]:
    """Record what every engine sends while the block runs."""
    recorded = Recorded()

    def before(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        recorded.add(statement, parameters, many)

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield recorded
    finally:
        event.remove(Engine, "before_cursor_execute", before)


def reopen(engine: Engine, built: Built) -> list[str]:
    """Open the report's round again; give tokens of some of its unanswered invitations."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE rounds SET status = 'open', closed_at = NULL, "
                "closes_at = :future WHERE id = :id"
            ),
            {"future": _far_future(engine), "id": built.round_id},
        )
        rows = conn.execute(
            text(
                "SELECT i.token FROM invitations i LEFT JOIN responses r "
                "ON r.invitation_id = i.id WHERE i.round_id = :id AND r.id IS NULL "
                "ORDER BY i.id LIMIT :n"
            ),
            {"id": built.round_id, "n": RESPONDENTS + 2},
        ).all()
    return [r[0] for r in rows]


def _far_future(engine: Engine) -> Any:
    from datetime import datetime

    moment = datetime(2099, 1, 1)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if engine.dialect.name == "sqlite" else moment


def answer(client: Any, token: str) -> None:
    """Complete cvs-support for one invitation through the web app, as a browser would."""
    page = client.get(f"/r/{token}")
    location: str | None = f"/r/{token}/start"
    form: dict[str, Any] = {"language": "en"}
    while location is not None:
        csrf = _CSRF.search(page.get_data(as_text=True))
        if page.status_code != 200 or csrf is None:
            raise RuntimeError(f"{page.status_code} without a form before {location}")
        sent = client.post(location, data={"csrf_token": csrf.group(1), **form})
        if sent.status_code != 303:
            raise RuntimeError(f"{sent.status_code} from POST {location}")
        where = sent.headers["Location"]
        page = client.get(where)
        if where.endswith("/done"):
            return
        if where.endswith("/check"):
            location, form = where, {}
        else:
            location, form = where, {"answer": ANSWERS[where.rsplit("/", 1)[1]]}


def answer_path(url: str, folder: Path, tokens: list[str]) -> Recorded:
    """Record the statements of respondents completing the survey on the web."""
    from forms import create_app

    settings = Settings(
        database_url=url,
        instance_path=str(folder),
        secret_key=secrets.token_hex(32),
        base_url="http://127.0.0.1",
    )
    app = create_app(settings)
    answer(app.test_client(), tokens[0])  # the first warms the app's caches, unrecorded
    with recording() as recorded:
        for token in tokens[1:-1]:
            answer(app.test_client(), token)
        opt_out(app.test_client(), tokens[-1])
    return recorded


def opt_out(client: Any, token: str) -> None:
    """Stop being asked, from the link in an invitation, as a browser would."""
    page = client.get(f"/r/{token}/opt-out")
    csrf = _CSRF.search(page.get_data(as_text=True))
    if page.status_code != 200 or csrf is None:
        raise RuntimeError(f"{page.status_code} without a form on the opt-out page")
    sent = client.post(f"/r/{token}/opt-out", data={"csrf_token": csrf.group(1)})
    if sent.status_code != 303:
        raise RuntimeError(f"{sent.status_code} from the opt-out")


def kpi_path(url: str, folder: Path, built: Built) -> Recorded:
    """Record the statements of `tempcheck kpi --json` and a report build."""
    import os

    from collector.cli import main

    os.environ["DATABASE_URL"] = url
    os.environ["TEMPCHECK_INSTANCE"] = str(folder)
    with recording() as recorded, contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115
        main(["kpi", "--json"], standalone_mode=False)
        main(
            ["report", "build", "--round", str(built.round_id), "--framework", FRAMEWORK]
            + ["--format", "xlsx", "--out", str(folder / "report.xlsx"), "--force"],
            standalone_mode=False,
        )
    return recorded


def big_tables(engine: Engine) -> set[str]:
    """Name the tables with more than BIG rows."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        return {
            name
            for name in inspect(conn).get_table_names()
            if conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one() > BIG
        }


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """Give the database's plan for a statement, one line per step."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters or ())
            lines = [row[3] for row in cursor.fetchall()]
        else:
            cursor.execute("EXPLAIN " + statement, parameters or None)
            lines = [row[0] for row in cursor.fetchall()]
        raw.rollback()
        return lines
    finally:
        raw.close()


def full_scans(database: str, plan: list[str], big: set[str]) -> list[str]:
    """Give the plan's steps that read all of a big table."""
    found = []
    for line in plan:
        if database == "sqlite":
            match = re.match(r"SCAN (\w+)(?: AS \w+)?(?! USING)", line.strip())
            if match and match.group(1) in big and "USING" not in line:
                found.append(line.strip())
        else:
            match = re.search(r"Seq Scan on (\w+)", line)
            if match and match.group(1) in big:
                found.append(line.strip())
    return found


def show(database: str, path: str, recorded: Recorded, engine: Engine, big: set[str]) -> int:
    """Print every statement's plan; give how many read a big table whole."""
    print(f"\n{database}: the {path} ({len(recorded.statements)} distinct statements)")
    flagged = 0
    for statement, parameters in recorded.statements.items():
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in ("SELECT", "UPDATE", "DELETE", "WITH", "INSERT"):
            continue
        if verb == "INSERT" and " SELECT " not in statement.upper():
            continue
        plan = explain(engine, statement, parameters)
        scans = full_scans(database, plan, big)
        flagged += bool(scans)
        one_line = " ".join(statement.split())
        cut = one_line[:160] + ("..." if len(one_line) > 160 else "")
        print(f"  {'FULL SCAN ' if scans else ''}{cut}")
        for line in plan:
            print(f"      {line}")
    return flagged


def main() -> None:
    """Build or reuse the database, record both paths, EXPLAIN what they sent."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=sizes_option, default="1M")
    parser.add_argument("--databases", type=databases_option, default="sqlite,postgresql")
    parser.add_argument("--keep", type=Path, help="Build the SQLite database here, and reuse it.")
    args = parser.parse_args()
    size = args.size[0]
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="tempcheck-bench-explain-") as tmp,
        Databases(Path(tmp)) as databases,
    ):
        folder = Path(tmp)
        for database in args.databases:
            name = f"bench_explain_{size_label(size).lower()}"
            if args.keep and database == "sqlite":
                args.keep.mkdir(parents=True, exist_ok=True)
                path = args.keep / f"{name}.db"
                path.unlink(missing_ok=True)
                url = f"sqlite:///{path}"
            else:
                url = databases.url(database, name)
            print(f"\n{database}: building {size:,} responses...", flush=True)
            built = build(url, size)
            engine = db.make_engine(Settings(database_url=url))
            tokens = reopen(engine, built)
            big = big_tables(engine)
            answered = answer_path(url, folder, tokens)
            kpis = kpi_path(url, folder, built)
            flagged = show(database, "answer path", answered, engine, big)
            flagged_kpi = show(database, "KPI path", kpis, engine, big)
            print(
                f"\n{database}: full scans of a table over {BIG:,} rows "
                f"({', '.join(sorted(big))}): answer path {flagged}, KPI path {flagged_kpi}"
            )
            engine.dispose()
    print(f"explain_queries took {(time.monotonic() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
