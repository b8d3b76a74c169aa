"""Benchmark: `tempcheck kpi --json` and a report build, at 10k, 100k and 1M responses, on SQLite
and on PostgreSQL, each against one SQL GROUP BY.

For each database and size it builds a database of 4 providers x 2 closed rounds of cvs-support
with that many completed responses (about 10 answers each), with bulk inserts (COPY on
PostgreSQL): each round's respondents answer like one of a pool of respondents who walked the
survey's own skip logic, drawn with numpy; organisations' segments are drawn the same way.
Then, each in a fresh subprocess (so that memory does not mix and the peak is the run's own)
and interleaved, a warm-up that is not counted and then three repetitions of:

- `GROUP BY, all rounds`: one hand-written SQL GROUP BY counting KPI ix's numerator and
  denominator for every round;
- `tempcheck kpi --json`: every provider's latest round, every framework, with the changes
  since the previous round and the breakdowns by every segment (the command, run in-process);
- `GROUP BY, one provider`: the same GROUP BY over the report's two rounds;
- `report build`: `tempcheck report build --round N --framework essex-2017 --format xlsx`, the
  first provider's latest round (a quarter of the responses, its previous round for the
  changes): the analysis and the workbook, no fonts needed.

Each run's time is the work's own, in a process that has already imported what it needs (the
process's whole time, start-up included, is shown beside it); its memory is the process's peak
resident set (VmHWM). It prints each run, the medians, the ratios to the GROUP BYs (aim: at most
3x) and the peak memory (aim: under 1 GiB at 1M), then checks that the KPIs counted what SQL
counts (ix per round and per round and type of organisation).

    python bench/bench_kpi.py [--sizes 10k,100k,1M] [--databases sqlite,postgresql]
                              [--repeats 3] [--keep FOLDER]

`--keep` builds SQLite databases in FOLDER and reuses them next time (PostgreSQL's cluster is
always a throwaway one). `make bench` runs every size on both databases.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from servers import (
    Databases,
    databases_option,
    interleaved,
    median,
    ratio,
    run_label,
    size_label,
    sizes_option,
)
from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from collector import db, models
from collector.cli.demo import BAND_WEIGHTS, TYPE_WEIGHTS
from collector.config import Settings
from collector.segments import OUTCOMES
from collector.survey.expr import evaluate
from collector.survey.loader import library_survey
from collector.survey.model import QuestionType, Survey
from collector.survey.store import register

PROVIDERS = 4
ROUNDS = 2
RESPONSE_RATE = 0.78
DISTRICTS = ("North", "South", "East", "West", "Central", "Riverside")
LEANINGS = (0.80, 0.70, 0.62, 0.55)
POOL = 4000  # respondents who walk the skip logic, per round; the rest answer like one of them
CHUNK = 100_000  # rows per insert
FRAMEWORK = "essex-2017"
KINDS = ("baseline", "kpi", "baseline_provider", "report")
NAMES = {
    "baseline": "GROUP BY, all rounds",
    "kpi": "tempcheck kpi --json",
    "baseline_provider": "GROUP BY, one provider",
    "report": "report build (xlsx)",
}
BASELINE_OF = {"kpi": "baseline", "report": "baseline_provider"}

BASELINE_SQL = """
SELECT r.round_id,
       COUNT(*) AS n,
       SUM(CASE WHEN t.good = 2 THEN 1 ELSE 0 END) AS numerator
FROM (
    SELECT a.response_id,
           COUNT(*) AS answered,
           SUM(CASE WHEN (a.question_id = 'ease_of_access' AND a.value IN ('very_easy', 'easy'))
                      OR (a.question_id = 'satisfaction'
                          AND a.value IN ('very_satisfied', 'satisfied'))
                    THEN 1 ELSE 0 END) AS good
    FROM answers a
    WHERE a.question_id IN ('ease_of_access', 'satisfaction')
    GROUP BY a.response_id
) t
JOIN responses r ON r.id = t.response_id
WHERE r.status = 'completed' AND t.answered = 2
GROUP BY r.round_id
ORDER BY r.round_id
"""
# The report's rounds only: the answers of those rounds' responses.
PROVIDER_SQL = BASELINE_SQL.replace(
    "WHERE a.question_id IN",
    "JOIN responses rr ON rr.id = a.response_id\n"
    "    WHERE rr.round_id IN (SELECT id FROM rounds WHERE provider_id = :provider)\n"
    "      AND a.question_id IN",
)


# --- building the database -----------------------------------------------------------------


@dataclass
class Built:
    """What the measurements need to know about a database they did not build."""

    url: str
    provider_id: int  # the report's provider
    round_id: int  # the report's round: that provider's latest


def _rows(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert rows fast: COPY on PostgreSQL, one executemany per chunk on SQLite."""
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            conn.exec_driver_sql(sql, chunk)
            chunk = []
    if chunk:
        conn.exec_driver_sql(sql, chunk)


def _stamp(conn: Connection, moment: datetime) -> Any:
    """Give a UTC time as the driver takes it for a UTCDateTime column."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    # SQLite keeps SQLAlchemy's text form; psycopg's COPY takes the datetime itself.
    return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if conn.dialect.name == "sqlite" else naive


def _answers(rng: random.Random, survey: Survey, p: float) -> list[tuple[str, str]]:
    """Answer the survey like a respondent leaning positive with probability p (skip logic kept)."""
    stored: list[tuple[str, str]] = []
    decoded: dict[str, object] = {}
    for q in survey.answerable_questions():
        if q.relevant_node is not None and not evaluate(q.relevant_node, decoded):
            continue
        values = [c.value for c in q.choices]
        if q.type is QuestionType.SCALE:
            top = rng.random() < p
            value = values[rng.randrange(0, 2)] if top else values[rng.randrange(2, len(values))]
        elif q.type is QuestionType.SINGLE:
            if "yes" in values:
                value = "yes" if rng.random() < max(p, 0.75) else "no"
            else:
                value = values[0] if rng.random() < p else rng.choice(values)
        elif q.type is QuestionType.MULTIPLE:
            options = [v for v in values if v != "none"]
            picked = [v for v in options if rng.random() < p * 0.4]
            if not picked:
                picked = ["none"] if "none" in values else [rng.choice(options)]
            value = " ".join(picked)
        elif q.type is QuestionType.TEXT:
            if rng.random() > 0.2:
                continue
            value = "Thank you for the help."
        else:
            continue
        stored.append((q.id, value))
        decoded[q.id] = q.decode(value)
    return stored


@dataclass
class Pool:
    """Respondents' answers laid end to end: pattern k is rows start[k] to start[k] + length[k]."""

    question: np.ndarray
    value: np.ndarray
    start: np.ndarray
    length: np.ndarray

    @classmethod
    def walk(cls, rng: random.Random, survey: Survey, leaning: float) -> Pool:
        """Have POOL respondents answer the survey."""
        patterns = [_answers(rng, survey, leaning) for _ in range(POOL)]
        length = np.array([len(p) for p in patterns], dtype=np.int64)
        flat = [pair for pattern in patterns for pair in pattern]
        return cls(
            question=np.array([q for q, _ in flat], dtype=object),
            value=np.array([v for _, v in flat], dtype=object),
            start=np.concatenate(([0], np.cumsum(length)[:-1])),
            length=length,
        )

    def rows(self, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Give (which respondent, question, value) for every answer of the picked patterns."""
        lengths = self.length[picked]
        owner = np.repeat(np.arange(len(picked)), lengths)
        first_row = np.cumsum(lengths) - lengths
        index = np.repeat(self.start[picked] - first_row, lengths) + np.arange(lengths.sum())
        return owner, self.question[index], self.value[index]


def build(url: str, responses: int, seed: int = 2017) -> Built:
    """Create the benchmark database at `url` with bulk inserts; show progress."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    walker = random.Random(seed)
    engine = db.make_engine(Settings(database_url=url))
    db.upgrade(engine)
    survey = library_survey("cvs-support")
    now = datetime.now(UTC)
    per_round = responses // (PROVIDERS * ROUNDS)
    orgs_per_provider = max(round(per_round / RESPONSE_RATE), per_round)
    with Session(engine) as session, session.begin():
        survey_row = register(session, survey)
        survey_row.frozen_at = now
        session.flush()
        survey_id = survey_row.id
    types = np.array(list(TYPE_WEIGHTS), dtype=object)
    type_p = np.array(list(TYPE_WEIGHTS.values()), dtype=float)
    bands = np.array(list(BAND_WEIGHTS), dtype=object)
    band_p = np.array(list(BAND_WEIGHTS.values()), dtype=float)
    districts = np.array(DISTRICTS, dtype=object)
    outcome_sets = np.array(
        [
            " ".join(o for o in OUTCOMES if o in chosen)
            for chosen in (
                walker.sample(list(OUTCOMES), k=walker.randint(1, 3)) for _ in range(500)
            )
        ],
        dtype=object,
    )
    org_id = inv_id = resp_id = 0
    answers_total = 0
    report_provider = report_round = 0
    for p in range(PROVIDERS):
        with engine.begin() as conn:
            provider_id = conn.execute(
                insert(models.Provider).returning(models.Provider.id),
                [
                    {
                        "slug": f"bench-cvs-{p + 1}",
                        "name": f"Bench CVS {p + 1}",
                        "kind": "cvs",
                        "district": DISTRICTS[p % len(DISTRICTS)],
                        "created_at": now,
                    }
                ],
            ).scalar_one()
            n = orgs_per_provider
            ids = np.arange(org_id + 1, org_id + n + 1)
            org_id += n
            org_type = types[rng.choice(len(types), n, p=type_p / type_p.sum())]
            band = bands[rng.choice(len(bands), n, p=band_p / band_p.sum())]
            district = districts[rng.integers(0, len(districts), n)]
            outcomes = outcome_sets[rng.integers(0, len(outcome_sets), n)]
            member = rng.random(n) < 0.6
            stamp = _stamp(conn, now)
            _rows(
                conn,
                "organisations",
                (
                    "id",
                    "provider_id",
                    "external_ref",
                    "name",
                    "org_type",
                    "income_band",
                    "district",
                    "outcomes",
                    "is_member",
                    "consent_email",
                    "consent_telegram",
                    "created_at",
                    "updated_at",
                ),
                (
                    (i, provider_id, f"B{i:07d}", f"Group {i}", t, b, d, o, m, True, False)
                    + (stamp, stamp)
                    for i, t, b, d, o, m in zip(
                        ids.tolist(),
                        org_type,
                        band,
                        district,
                        outcomes,
                        member.tolist(),
                        strict=True,
                    )
                ),
            )
        for r in range(ROUNDS):
            opens = now - timedelta(days=30 * (14 - 6 * r))
            pool = Pool.walk(walker, survey, LEANINGS[p % len(LEANINGS)] + 0.04 * r)
            with engine.begin() as conn:
                round_id = conn.execute(
                    insert(models.Round).returning(models.Round.id),
                    [
                        {
                            "provider_id": provider_id,
                            "survey_id": survey_id,
                            "period_label": f"2025/26 H{r + 1}",
                            "slug": f"bench-{p}-{r}",
                            "opens_at": opens,
                            "closes_at": opens + timedelta(days=42),
                            "status": "closed",
                            "audience": {},
                            "open_link": False,
                            "created_at": opens,
                            "closed_at": opens + timedelta(days=42),
                        }
                    ],
                ).scalar_one()
                if p == 0:
                    report_provider, report_round = provider_id, round_id
                invitation_ids = np.arange(inv_id + 1, inv_id + n + 1)
                inv_id += n
                created = _stamp(conn, opens)
                _rows(
                    conn,
                    "invitations",
                    ("id", "round_id", "organisation_id", "token", "created_at"),
                    (
                        (i, round_id, o, f"t{i:031d}", created)
                        for i, o in zip(invitation_ids.tolist(), ids.tolist(), strict=True)
                    ),
                )
                # Who answered: per_round of the provider's organisations, in id order.
                who = np.sort(rng.choice(n, per_round, replace=False))
                response_ids = np.arange(resp_id + 1, resp_id + per_round + 1)
                resp_id += per_round
                minutes = rng.integers(0, 60_000, per_round)
                stamps = {
                    m: _stamp(conn, opens + timedelta(minutes=m)) for m in set(minutes.tolist())
                }
                when = [stamps[m] for m in minutes.tolist()]
                channel = np.where(rng.random(per_round) < 0.85, "web", "telegram")
                _rows(
                    conn,
                    "responses",
                    (
                        "id",
                        "round_id",
                        "invitation_id",
                        "status",
                        "started_at",
                        "updated_at",
                        "completed_at",
                        "channel",
                        "language",
                        "reached_review",
                        "org_type",
                        "income_band",
                        "district",
                        "outcomes",
                        "is_member",
                    ),
                    (
                        (i, round_id, inv, "completed", w, w, w, c, "en", True, t, b, d, o, m)
                        for i, inv, w, c, t, b, d, o, m in zip(
                            response_ids.tolist(),
                            invitation_ids[who].tolist(),
                            when,
                            channel.tolist(),
                            org_type[who],
                            band[who],
                            district[who],
                            outcomes[who],
                            member[who].tolist(),
                            strict=True,
                        )
                    ),
                )
                owner, question, value = pool.rows(rng.integers(0, POOL, per_round))
                answer_response = response_ids[owner].tolist()
                _rows(
                    conn,
                    "answers",
                    ("response_id", "question_id", "value", "answered_at"),
                    (
                        (i, q, v, when[k])
                        for i, q, v, k in zip(
                            answer_response, question, value, owner.tolist(), strict=True
                        )
                    ),
                )
                answers_total += len(answer_response)
            print(
                f"    provider {p + 1}/{PROVIDERS} round {r + 1}/{ROUNDS}: "
                f"{resp_id:,} responses, {answers_total:,} answers so far "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    _settle(engine)
    engine.dispose()
    print(
        f"    ready: {resp_id:,} responses, {answers_total:,} answers, {inv_id:,} invitations, "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return Built(url=url, provider_id=report_provider, round_id=report_round)


def _settle(engine: Any) -> None:
    """Bring the sequences up to the ids given, and the planner's statistics up to date."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("organisations", "invitations", "responses"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        # As autovacuum would soon after a load: statistics, and the visibility map that lets
        # the planner read an index without visiting the table.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def _existing(url: str) -> Built | None:
    """Find the report's provider and round in a database built before, if there is one."""
    engine = db.make_engine(Settings(database_url=url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT provider_id, max(id) FROM rounds WHERE slug LIKE 'bench-0-%' "
                    "GROUP BY provider_id"
                )
            ).first()
    except SQLAlchemyError:  # not there, or not built: build it again
        return None
    finally:
        engine.dispose()
    return Built(url=url, provider_id=row[0], round_id=row[1]) if row else None


# --- one measurement, in its own process -----------------------------------------------------


def measure(kind: str, url: str, built: Built, out: Path) -> dict[str, Any]:
    """Run one measurement in this process and give its time, memory and what it counted."""
    from collector.cli import main

    # What the commands import inside themselves, imported before the clock starts.
    if kind == "kpi":
        import analysis.build
        import analysis.drift
        import analysis.render  # noqa: F401
    elif kind == "report":
        import analysis.publish
        import analysis.render.xlsx  # noqa: F401
    rss_before = _peak_rss_mib()
    started = time.perf_counter()
    counted: dict[str, list[int]] = {}
    if kind.startswith("baseline"):
        engine = db.make_engine(Settings(database_url=url))
        with engine.connect() as conn:
            if kind == "baseline":
                rows = conn.execute(text(BASELINE_SQL)).all()
            else:
                rows = conn.execute(text(PROVIDER_SQL), {"provider": built.provider_id}).all()
        engine.dispose()
        counted = {str(r.round_id): [int(r.n), int(r.numerator)] for r in rows}
    else:
        if kind == "kpi":
            args = ["kpi", "--json"]
            output = out / "kpi.json"
        else:
            output = out / "report.xlsx"
            args = ["report", "build", "--round", str(built.round_id)]
            args += ["--framework", FRAMEWORK, "--format", "xlsx", "--out", str(output), "--force"]
        # What the command prints goes to a file: kpi's JSON, the report's progress lines.
        printed_to = output if kind == "kpi" else out / "report.out"
        with open(printed_to, "w") as printed, contextlib.redirect_stdout(printed):
            main(args, standalone_mode=False)
        if kind == "kpi":
            counted = _counted(json.loads(output.read_text()))
    wall = time.perf_counter() - started
    return {
        "kind": kind,
        "wall_s": wall,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_before_mib": rss_before,
        "counted": counted,
    }


def _counted(payload: dict[str, Any]) -> dict[str, list[int]]:
    """Read ix's n and numerator per round, and per round and type, from the KPIs' JSON."""
    counted: dict[str, list[int]] = {}
    for item in payload["reports"]:
        if item.get("framework", {}).get("id", FRAMEWORK) != FRAMEWORK:
            continue
        for result in item["kpis"]:
            if result["id"] != "ix" or result["overall"]["n"] is None:
                continue
            counted[str(result["round"]["id"])] = [
                result["overall"]["n"],
                result["overall"]["numerator"],
            ]
            if result.get("change"):
                previous = result["change"]["previous"]
                counted[str(result["change"]["round"]["id"])] = [
                    previous["n"],
                    previous["numerator"],
                ]
            for cell in result["breakdowns"]["org_type"]:
                counted[f"{result['round']['id']}/{cell['key']}"] = [cell["n"], cell["numerator"]]
    return counted


def _peak_rss_mib() -> float:
    """Give this process's peak resident memory in MiB.

    Linux: VmHWM, the high-water mark of this process image. Not ru_maxrss, which Linux carries
    over from the parent at fork through exec, so a child of the process that built the
    database would start with the builder's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def _by_type_in_sql(url: str, counted: dict[str, list[int]]) -> dict[str, list[int]]:
    """Count ix per round and type of organisation in SQL, for the rounds the KPIs show."""
    grouped = BASELINE_SQL.replace("SELECT r.round_id,", "SELECT r.round_id, r.org_type,").replace(
        "GROUP BY r.round_id\nORDER BY r.round_id", "GROUP BY r.round_id, r.org_type"
    )
    rounds = {key.split("/")[0] for key in counted if "/" in key}
    engine = db.make_engine(Settings(database_url=url))
    with engine.connect() as conn:
        rows = conn.execute(text(grouped)).all()
    engine.dispose()
    return {
        f"{r.round_id}/{r.org_type}": [int(r.n), int(r.numerator)]
        for r in rows
        if str(r.round_id) in rounds
    }


def _run_child(kind: str, built: Built, folder: Path) -> dict[str, Any]:
    """Run one measurement in a fresh process; give its figures and the process's whole time."""
    env = {**os.environ, "DATABASE_URL": built.url, "TEMPCHECK_INSTANCE": str(folder)}
    command = [sys.executable, __file__, "--measure", kind, "--url", built.url]
    command += ["--provider", str(built.provider_id), "--round", str(built.round_id)]
    command += ["--out", str(folder)]
    started = time.perf_counter()
    # In the folder, so that no .env of the working tree's changes the settings.
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"the {kind} measurement failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    figures = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    figures["process_s"] = elapsed
    return figures


# --- the whole benchmark ---------------------------------------------------------------------


@dataclass
class Summary:
    """The medians of one database and size."""

    database: str
    size: int
    wall: dict[str, float]
    process: dict[str, float]
    peak: dict[str, float]
    same: bool


def bench_one(
    database: str, size: int, databases: Databases, keep: Path | None, repeats: int, folder: Path
) -> Summary:
    """Build (or reuse) one database and run the interleaved measurements on it."""
    label = f"{database} {size_label(size)}"
    print(f"\n{label}: building the database ({size:,} responses)...", flush=True)
    name = f"bench_kpi_{size_label(size).lower()}"
    if keep is not None and database == "sqlite":
        keep.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{keep / (name + '.db')}"
        found = _existing(url)
        if found is not None:
            print(f"    reusing {keep / (name + '.db')}", flush=True)
            built = found
        else:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            built = build(url, size)
    else:
        built = build(databases.url(database, name), size)
    if database == "sqlite":
        # Warm the page cache, so that no measurement pays for the first read.
        Path(built.url.removeprefix("sqlite:///")).read_bytes()
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for repetition, kind in interleaved(KINDS, repeats):
        figures = _run_child(kind, built, folder)
        print(
            f"  {label:16s} {run_label(repetition, repeats):8s} {NAMES[kind]:24s}"
            f"{figures['wall_s']:8.2f} s  (process {figures['process_s']:6.2f} s)  "
            f"peak {figures['peak_rss_mib']:6.0f} MiB",
            flush=True,
        )
        if repetition > 0:
            runs[kind].append(figures)
    kpi_counted = runs["kpi"][0]["counted"]
    overall = {k: v for k, v in kpi_counted.items() if "/" not in k}
    breakdown = {k: v for k, v in kpi_counted.items() if "/" in k}
    same = runs["baseline"][0]["counted"] == overall and (
        _by_type_in_sql(built.url, kpi_counted) == breakdown
    )
    if not same:
        print(f"  SQL {runs['baseline'][0]['counted']}\n  KPIs {kpi_counted}")
    return Summary(
        database=database,
        size=size,
        wall={k: median([r["wall_s"] for r in runs[k]]) for k in KINDS},
        process={k: median([r["process_s"] for r in runs[k]]) for k in KINDS},
        peak={k: max(r["peak_rss_mib"] for r in runs[k]) for k in KINDS},
        same=same,
    )


def report(summaries: Sequence[Summary], repeats: int) -> None:
    """Print the medians and ratios of every database and size."""
    print()
    print(
        f"KPIs vs one SQL GROUP BY: medians of {repeats} interleaved runs after a warm-up, "
        f"{os.cpu_count()} CPUs; peak = the process's peak resident memory"
    )
    print(
        f"{'database':11s}{'size':>6s}  {'what':24s}{'work':>9s}{'process':>10s}{'peak':>10s}"
        f"{'vs GROUP BY':>13s}"
    )
    for s in summaries:
        for kind in KINDS:
            base = BASELINE_OF.get(kind)
            versus = f"{ratio(s.wall[kind], s.wall[base]):11.1f}x" if base else ""
            print(
                f"{s.database:11s}{size_label(s.size):>6s}  {NAMES[kind]:24s}"
                f"{s.wall[kind]:7.2f} s{s.process[kind]:8.2f} s{s.peak[kind]:6.0f} MiB{versus:>13s}"
            )
        print(
            f"{'':19s}ix per round and per type, KPIs vs SQL: "
            f"{'the same' if s.same else 'DIFFERENT'}"
        )
    print("Aims: at most 3x the GROUP BY; under 1024 MiB at 1M.")


def main() -> None:
    """Build the databases, run the measurements in subprocesses, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=sizes_option, default="10k,100k,1M")
    parser.add_argument("--databases", type=databases_option, default="sqlite,postgresql")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Build SQLite databases here, and reuse them.")
    parser.add_argument("--measure", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--provider", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        built = Built(url=args.url, provider_id=args.provider, round_id=args.round)
        print(json.dumps(measure(args.measure, args.url, built, args.out)))
        return

    started = time.perf_counter()
    print(
        f"bench_kpi: {', '.join(NAMES[k] for k in KINDS)}; sizes "
        f"{', '.join(size_label(s) for s in args.sizes)}; {', '.join(args.databases)}",
        flush=True,
    )
    summaries = []
    with (
        tempfile.TemporaryDirectory(prefix="tempcheck-bench-kpi-") as tmp,
        Databases(Path(tmp)) as databases,
    ):
        for database in args.databases:
            for size in args.sizes:
                summaries.append(
                    bench_one(database, size, databases, args.keep, args.repeats, Path(tmp))
                )
    report(summaries, args.repeats)
    print(f"bench_kpi took {(time.perf_counter() - started) / 60:.1f} minutes")
    if not all(s.same for s in summaries):
        sys.exit(1)


if __name__ == "__main__":
    main()
