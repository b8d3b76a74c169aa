"""Benchmark: how long the `tempcheck` command takes to start, against a bare click command.

Every command pays for what `collector.cli` imports before it does anything, `tempcheck --help`
included. Times, each a fresh interpreter and interleaved (a warm-up that is not counted, then
the repetitions, the order reversed every other time):

- baseline: a click group with one command printing its --help (the interpreter and click);
- `tempcheck --help`;
- `tempcheck kpi --help` (the group's settings are read first);
- with `--other PATH`, `tempcheck --help` from another checkout's source (say, main's, from
  `git archive`), to compare before and after a change.

    python bench/bench_startup.py [--repeats 9] [--other PATH]

It also lists the heavy libraries that `import collector.cli` loads (there should be none).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from servers import interleaved, median, ratio, run_label

BARE_CLICK = """
import click

@click.group()
def main():
    "A bare command."

@main.command()
def hello():
    "Say hello."

main()
"""
TEMPCHECK = "import sys; from collector.cli import main; sys.argv[0] = 'tempcheck'; main()"
HEAVY = ("pandas", "numpy", "matplotlib", "weasyprint", "openpyxl", "flask", "telegram", "zxcvbn")


def _time(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    """Time the start-ups, interleaved, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--other", type=Path, help="Another checkout to time too.")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="tempcheck-bench-startup-") as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{folder / 'startup.db'}",
            "TEMPCHECK_INSTANCE": str(folder),
        }
        commands = {
            "bare click --help": ([python, "-c", BARE_CLICK, "--help"], env),
            "tempcheck --help": ([python, "-c", TEMPCHECK, "--help"], env),
            "tempcheck kpi --help": ([python, "-c", TEMPCHECK, "kpi", "--help"], env),
        }
        if args.other:
            other_env = {**env, "PYTHONPATH": str(args.other.resolve())}
            commands[f"tempcheck --help ({args.other})"] = (
                [python, "-c", TEMPCHECK, "--help"],
                other_env,
            )
        times: dict[str, list[float]] = {name: [] for name in commands}
        for repetition, name in interleaved(list(commands), args.repeats):
            command, command_env = commands[name]
            seconds = _time(command, command_env, folder)
            print(f"  {run_label(repetition, args.repeats):8s} {name:40s} {seconds:6.3f} s")
            if repetition > 0:
                times[name].append(seconds)
        probe = "import json, sys, collector.cli; print(json.dumps(sorted(sys.modules)))"
        loaded = json.loads(
            subprocess.run(
                [python, "-c", probe], env=env, cwd=folder, check=True, capture_output=True
            ).stdout
        )
    heavy = sorted({m.split(".")[0] for m in loaded} & set(HEAVY))
    base = median(times["bare click --help"])
    print()
    print(f"Start-up, medians of {args.repeats} interleaved runs, {os.cpu_count()} CPUs:")
    for name, runs in times.items():
        print(f"  {name:40s} {median(runs):6.3f} s  {ratio(median(runs), base):5.1f}x the bare")
    print(f"  heavy libraries `import collector.cli` loads: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
