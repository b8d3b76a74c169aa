"""Benchmark: `tempcheck backup`, `backup --verify` and `restore` on SQLite and PostgreSQL, at
13,200 responses of a 50-question survey (about 650,000 answers: years of a CVS's rounds),
against the least each database's own tool does.

For each database it builds one closed round with bulk inserts (bench_export's builder), then,
interleaved, a warm-up that is not counted and then the repetitions of:

- `baseline`: SQLite's own online backup of the file (`sqlite3` module, one step, nothing
  else); on PostgreSQL `pg_dump --format=custom` straight to a file;
- `backup`: `collector.backup.create_backup` (the same copy, plus the counts, the checksum and
  the owner-only file);
- `verify`: `verify_backup` of that file (checksum, integrity check, counts);
- `restore`: `restore_backup` into a new, empty database (schema check, the copy put back, the
  register of erasures re-applied).

It prints each run, the medians and each one's ratio to the baseline, and the backup's size.

    python bench/bench_backup.py [--size 13.2k] [--databases sqlite,postgresql] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from bench_export import build
from servers import Databases, databases_option, median, ratio, run_label

from collector import backup, db
from collector.config import Settings

KINDS = ("baseline", "backup", "verify", "restore")


def measure(
    kind: str, url: str, folder: Path, number: int, databases: Databases, name: str
) -> float:
    """Run one `kind` on the database at `url`; give the seconds it took."""
    settings = Settings(database_url=url, instance_path=str(folder / "instance"))
    engine = db.make_engine(settings)
    output = folder / f"{kind}-{number}.backup"
    latest = folder / "latest.backup"
    try:
        started = time.perf_counter()
        if kind == "baseline":
            if engine.dialect.name == "sqlite":
                source = sqlite3.connect(str(engine.url.database))
                target = sqlite3.connect(output)
                source.backup(target)
                target.close()
                source.close()
            else:
                subprocess.run(
                    ["pg_dump", "--format=custom", f"--file={output}"],
                    env=backup._libpq_environment(engine),
                    check=True,
                )
        elif kind == "backup":
            backup.create_backup(engine, latest)
        elif kind == "verify":
            checked = backup.verify_backup(latest)
            assert checked.integrity == "ok", checked.integrity
        else:
            target_url = databases.url(engine.dialect.name, f"{name}_restored_{number}")
            target_settings = Settings(
                database_url=target_url, instance_path=str(folder / "restored")
            )
            target = db.make_engine(target_settings)
            try:
                backup.restore_backup(latest, target, target_settings, actor="bench")
            finally:
                target.dispose()
        return time.perf_counter() - started
    finally:
        output.unlink(missing_ok=True)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="13.2k")
    parser.add_argument("--databases", type=databases_option, default="sqlite,postgresql")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    size = int(float(args.size.lower().rstrip("k")) * 1000)
    started = time.perf_counter()
    summary: list[tuple[str, dict[str, float], float]] = []
    with (
        tempfile.TemporaryDirectory(prefix="tempcheck-bench-backup-") as tmp,
        Databases(Path(tmp)) as databases,
    ):
        for database in args.databases:
            print(f"  {database}, {size:,} responses of 50 questions: building...", flush=True)
            name = f"backup_{size}"
            built = build(databases.url(database, name), size)
            times: dict[str, list[float]] = {k: [] for k in KINDS}
            number = 0
            # The backup is taken before verify and restore read it; the baseline goes first in
            # every other repetition.
            for repetition in range(args.repeats + 1):
                first = ("baseline", "backup") if repetition % 2 == 0 else ("backup", "baseline")
                for kind in (*first, "verify", "restore"):
                    number += 1
                    seconds = measure(kind, built.url, Path(tmp), number, databases, name)
                    print(
                        f"    {run_label(repetition, args.repeats):>7} {kind:<8} {seconds:7.2f} s",
                        flush=True,
                    )
                    if repetition:
                        times[kind].append(seconds)
            medians = {k: median(v) for k, v in times.items()}
            size_mib = (Path(tmp) / "latest.backup").stat().st_size / 2**20
            summary.append((database, medians, size_mib))
    print("\nmedians (ratio to the baseline):")
    for database, medians, size_mib in summary:
        cells = "  ".join(
            f"{k} {medians[k]:.2f} s ({ratio(medians[k], medians['baseline']):.1f}x)" for k in KINDS
        )
        print(f"  {database:<10} {size:,} responses, backup {size_mib:.1f} MiB: {cells}")
    print(f"bench_backup took {(time.perf_counter() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
