"""Benchmark: a round's raw responses exported to CSV, XLSX and Parquet (`collector.exports`),
at 13,200 and 132,000 responses of a 50-question survey, against a baseline that only reads
the same answers from the database and writes them to CSV unshaped.

For each database and size it builds one closed round of a synthetic 50-question survey (30
scales, 10 single choices, 5 multiple choices of four, 3 numbers, 2 free texts) with that many
completed responses from as many organisations, with bulk inserts (COPY on PostgreSQL). Then,
each in a fresh subprocess (so the peak memory is the run's own) and interleaved, a warm-up that
is not counted and then the repetitions of:

- `baseline`: every answer of the round, read in one streamed query, written to a CSV file as
  (response, question, value) rows: the least any export has to do;
- `csv`, `xlsx`, `parquet`: `tempcheck export responses --format F` run in-process (the
  export's own code, its audit record included).

It prints each run, the medians, each format's ratio to the baseline, and each run's peak
memory (VmHWM), and compares the peak at the two sizes: memory is flat when the larger round's
peak is close to the smaller's though it has ten times the rows. The aim: XLSX of 132,000
responses in under 60 s, memory flat. It checks that each file has one row per response.

    python bench/bench_export.py [--sizes 13.2k,132k] [--databases sqlite,postgresql]
                                 [--repeats 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_kpi import _peak_rss_mib, _rows, _settle, _stamp
from servers import Databases, databases_option, interleaved, median, ratio, run_label
from sqlalchemy import create_engine, insert, text
from sqlalchemy.orm import Session

from collector import db, models
from collector.config import Settings
from collector.survey.loader import load_survey_text
from collector.survey.store import register

KINDS = ("baseline", "csv", "xlsx", "parquet")
SCALE = ("very_good", "good", "neither", "poor", "very_poor")
KINDS_OF_HELP = ("funding", "training", "governance", "volunteers")
COMMENTS = (
    "Really helpful, thank you.",
    "=cmd|' /C calc'!A0",  # text that looks like a formula: written as text
    "We would like more evening sessions, as most of our volunteers work in the day.",
    "",
)


def survey_yaml() -> str:
    """Give the benchmark's 50-question survey."""
    lines = [
        "id: bench-fifty",
        "version: 1",
        "title: Fifty questions",
        "minutes: 10",
        "choices:",
        "  scale:",
        *(f"    - {{value: {v}, label: {v.replace('_', ' ').capitalize()}}}" for v in SCALE),
        "  yes_no:",
        '    - {value: "yes", label: "Yes"}',
        '    - {value: "no", label: "No"}',
        "  help:",
        *(f"    - {{value: {v}, label: {v.capitalize()}}}" for v in KINDS_OF_HELP),
        "questions:",
    ]
    for n in range(1, 51):
        if n <= 30:
            lines += [f"  - id: q{n}", "    type: scale", "    choices: scale"]
        elif n <= 40:
            lines += [f"  - id: q{n}", "    type: single", "    choices: yes_no"]
        elif n <= 45:
            lines += [f"  - id: q{n}", "    type: multiple", "    choices: help"]
        elif n <= 48:
            lines += [f"  - id: q{n}", "    type: integer", "    min: 0", "    max: 10000"]
        else:
            lines += [f"  - id: q{n}", "    type: text", "    required: false"]
        lines.append(f"    label: Question {n}")
    return "\n".join(lines) + "\n"


def _value(n: int, k: int) -> str | None:
    if n <= 30:
        return SCALE[(k * 7 + n) % 5]
    if n <= 40:
        return ("yes", "no")[(k + n) % 2]
    if n <= 45:
        return " ".join(v for i, v in enumerate(KINDS_OF_HELP) if (k >> i) & 1) or "funding"
    if n <= 48:
        return str((k * 13 + n) % 400)
    return COMMENTS[(k + n) % 4] or None


@dataclass
class Built:
    url: str
    round_id: int
    responses: int


def build(url: str, responses: int) -> Built:
    """Create the database with one closed round of `responses` responses; show progress."""
    started = time.perf_counter()
    engine = db.make_engine(Settings(database_url=url))
    db.upgrade(engine)
    now = datetime.now(UTC)
    opens = now - timedelta(days=60)
    with Session(engine) as session, session.begin():
        survey_row = register(session, load_survey_text(survey_yaml(), source="bench.yaml"))
        survey_row.frozen_at = now
        session.flush()
        survey_id = survey_row.id
    with engine.begin() as conn:
        provider_id = conn.execute(
            insert(models.Provider).returning(models.Provider.id),
            [
                {
                    "slug": "bench-cvs",
                    "name": "Bench CVS",
                    "kind": "cvs",
                    "district": "North",
                    "created_at": now,
                }
            ],
        ).scalar_one()
        round_id = conn.execute(
            insert(models.Round).returning(models.Round.id),
            [
                {
                    "provider_id": provider_id,
                    "survey_id": survey_id,
                    "period_label": "2026/27 H1",
                    "slug": "bench-export",
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
        stamp = _stamp(conn, now)
        when = _stamp(conn, opens + timedelta(days=3))
        ids = range(1, responses + 1)
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
                (
                    i,
                    provider_id,
                    f"B{i:07d}",
                    f"Group {i}",
                    "community_group",
                    "under_10k",
                    "North",
                    "good_lives",
                    True,
                    True,
                    False,
                    stamp,
                    stamp,
                )
                for i in ids
            ),
        )
        _rows(
            conn,
            "invitations",
            ("id", "round_id", "organisation_id", "token", "created_at"),
            ((i, round_id, i, f"t{i:031d}", stamp) for i in ids),
        )
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
                (
                    i,
                    round_id,
                    i,
                    "completed",
                    when,
                    when,
                    when,
                    "web",
                    "en",
                    True,
                    "community_group",
                    "under_10k",
                    "North",
                    "good_lives",
                    True,
                )
                for i in ids
            ),
        )
        print(f"    {responses:,} responses ({time.perf_counter() - started:.0f} s)", flush=True)
        _rows(
            conn,
            "answers",
            ("response_id", "question_id", "value", "answered_at"),
            (
                (i, f"q{n}", value, when)
                for i in ids
                for n in range(1, 51)
                if (value := _value(n, i)) is not None
            ),
        )
    _settle(engine)
    engine.dispose()
    print(f"    ready in {time.perf_counter() - started:.0f} s", flush=True)
    return Built(url, round_id, responses)


def measure(kind: str, url: str, round_id: int, out: Path) -> dict[str, Any]:
    """Run one export (or the baseline) in this process; give its time, rows and peak memory."""
    from click.testing import CliRunner

    from collector.cli import main

    target = out / f"export.{'csv' if kind == 'baseline' else kind}"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    if kind == "baseline":
        engine = create_engine(url)
        rows = 0
        with engine.connect() as conn, target.open("w", newline="") as handle:
            writer = csv.writer(handle)
            result = conn.execution_options(stream_results=True, yield_per=20_000).execute(
                text(
                    "SELECT a.response_id, a.question_id, a.value FROM answers a "
                    "JOIN responses r ON r.id = a.response_id WHERE r.round_id = :round "
                    "ORDER BY a.response_id"
                ),
                {"round": round_id},
            )
            for row in result:
                writer.writerow(row)
                rows += 1
        engine.dispose()
    else:
        result = CliRunner().invoke(
            main,
            [
                "export",
                "responses",
                "--round",
                str(round_id),
                "--format",
                kind,
                "--out",
                str(target),
            ],
            env={"DATABASE_URL": url},
            catch_exceptions=False,
        )
        if result.exit_code != 0:
            raise SystemExit(result.output)
        rows = int(result.output.split("Wrote ")[1].split()[0])
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_mib": _peak_rss_mib(),
        "size_mib": target.stat().st_size / 2**20,
    }


def _child(kind: str, built: Built, folder: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--measure",
        kind,
        "--url",
        built.url,
        "--round",
        str(built.round_id),
        "--out",
        str(folder),
    ]
    env = {**os.environ, "TEMPCHECK_INSTANCE": str(folder)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder)
    if done.returncode != 0:
        sys.exit(f"the {kind} run failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="13.2k,132k")
    parser.add_argument("--databases", type=databases_option, default="sqlite,postgresql")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--measure", choices=KINDS)
    parser.add_argument("--url")
    parser.add_argument("--round", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.url, args.round, args.out)))
        return
    sizes = [int(float(s.lower().rstrip("k")) * 1000) for s in args.sizes.split(",")]
    started = time.perf_counter()
    summary: list[tuple[str, int, dict[str, float], dict[str, float]]] = []
    with (
        tempfile.TemporaryDirectory(prefix="tempcheck-bench-export-") as tmp,
        Databases(Path(tmp)) as databases,
    ):
        for database in args.databases:
            for size in sizes:
                print(f"  {database}, {size:,} responses of 50 questions: building...", flush=True)
                built = build(databases.url(database, f"export_{size}"), size)
                times: dict[str, list[float]] = {k: [] for k in KINDS}
                peaks: dict[str, list[float]] = {k: [] for k in KINDS}
                for repetition, kind in interleaved(KINDS, args.repeats):
                    got = _child(kind, built, Path(tmp))
                    expected = size * 50 - size * 2 // 4 if kind == "baseline" else size
                    wrong = (
                        ""
                        if kind == "baseline" or got["rows"] == expected
                        else (f"  WRONG: {got['rows']} rows, expected {expected}")
                    )
                    print(
                        f"    {run_label(repetition, args.repeats):>7} {kind:<8} "
                        f"{got['seconds']:7.1f} s  peak {got['peak_mib']:6.0f} MiB  "
                        f"file {got['size_mib']:6.1f} MiB{wrong}",
                        flush=True,
                    )
                    if wrong:
                        sys.exit(1)
                    if repetition:
                        times[kind].append(got["seconds"])
                        peaks[kind].append(got["peak_mib"])
                medians = {k: median(v) for k, v in times.items()}
                peak = {k: max(v) for k, v in peaks.items()}
                summary.append((database, size, medians, peak))
    print("\nmedians (ratio to the baseline, peak memory):")
    for database, size, medians, peak in summary:
        cells = "  ".join(
            f"{k} {medians[k]:.1f} s ({ratio(medians[k], medians['baseline']):.1f}x, "
            f"{peak[k]:.0f} MiB)"
            for k in KINDS
        )
        print(f"  {database:<10} {size:>7,}: {cells}")
    for database in args.databases:
        rows = [(size, peak) for d, size, _, peak in summary if d == database]
        if len(rows) >= 2:
            (small, low), (large, high) = rows[0], rows[-1]
            grown = "  ".join(f"{k} {high[k] / low[k]:.2f}x" for k in KINDS[1:])
            print(
                f"  {database}: peak memory at {large:,} over {small:,} responses "
                f"({large / small:.0f}x the rows): {grown}"
            )
    print(f"bench_export took {(time.perf_counter() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
