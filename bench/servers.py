"""What the benchmarks share: servers (a free port, waiting until one answers, starting and
stopping one), a throwaway PostgreSQL cluster, the databases a benchmark runs on, interleaved
repetitions and their figures.

The benchmarks run as scripts (`python bench/bench_web.py`), so this folder is on their path.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

DATABASES = ("sqlite", "postgresql")


# Servers ------------------------------------------------------------------------------------


def free_port() -> int:
    """Give a TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, path: str = "/login", timeout: float = 60) -> None:
    """Wait until the server on `port` answers a GET of `path` (any status will do)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=15) as page:
                page.read()
            return
        except urllib.error.HTTPError:  # it answered, if not with a page
            return
        except OSError:  # refused, or not answering yet
            time.sleep(0.2)
    raise RuntimeError(f"no server on port {port} after {timeout:.0f} s")


def start_server(
    command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a server process with its output going to a log file."""
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop a server process (waitress and gunicorn both stop on SIGTERM)."""
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# PostgreSQL ---------------------------------------------------------------------------------


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        raise SystemExit(
            "PostgreSQL server binaries are missing: `make system-deps` installs Debian's "
            "postgresql package (or run with --databases sqlite)."
        )
    return candidates[0].parent


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a throwaway PostgreSQL cluster on a free port; give its admin URL; remove it after.

    Debian's server binaries, trust authentication on loopback, a temporary data folder, and
    durability off (fsync, synchronous_commit, full_page_writes), as the tests run it: SQLite
    in WAL mode with synchronous=NORMAL does not wait for the disk at each commit either.
    """
    bindir = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="tempcheck-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = free_port()
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    *("-D", str(data), "-U", "postgres", "-A", "trust"),
                    *("--no-sync", "-E", "UTF8", "--locale=C"),
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(data), "-o", options]
                + ["-l", str(folder / "log"), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    """Create (afresh) a database called `name` on the server; give its URL."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


class Databases:
    """Fresh databases for a benchmark: SQLite files in a folder, or databases on a throwaway
    PostgreSQL cluster started on first use and removed when the block ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stack = ExitStack()
        self._server: str | None = None

    def __enter__(self) -> Databases:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def url(self, database: str, name: str) -> str:
        """Give the URL of a new, empty database called `name` on `database`."""
        if database == "sqlite":
            path = self.folder / f"{name}.db"
            path.unlink(missing_ok=True)
            return f"sqlite:///{path}"
        if self._server is None:
            print("  starting a throwaway PostgreSQL cluster...", flush=True)
            self._server = self._stack.enter_context(postgres_cluster())
        return create_database(self._server, name)


# Options ------------------------------------------------------------------------------------


def databases_option(value: str) -> list[str]:
    """Read `--databases sqlite,postgresql`."""
    chosen = [v.strip().lower() for v in value.split(",") if v.strip()]
    chosen = ["postgresql" if v in ("pg", "postgres") else v for v in chosen]
    unknown = [v for v in chosen if v not in DATABASES]
    if unknown or not chosen:
        raise ValueError(f"databases are {', '.join(DATABASES)}, not {value!r}")
    return chosen


def sizes_option(value: str) -> list[int]:
    """Read `--sizes 10k,100k,1M` (plain numbers, k and M)."""
    sizes = []
    for item in value.split(","):
        item = item.strip().replace("_", "")
        factor = {"k": 1_000, "m": 1_000_000}.get(item[-1:].lower(), 1)
        number = item[:-1] if factor > 1 else item
        if not number.isdigit() or int(number) * factor <= 0:
            raise ValueError(f"sizes are like 10k,100k,1M, not {value!r}")
        sizes.append(int(number) * factor)
    return sizes


def size_label(n: int) -> str:
    """Write 10000 as 10k and 1000000 as 1M."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


# Repetitions and figures --------------------------------------------------------------------


def interleaved(sides: Sequence[str], repeats: int) -> Iterator[tuple[int, str]]:
    """Give (repetition, side) in the order to run them: repetition 0, the warm-up, first (not to
    be counted), then `repeats` repetitions of every side, the order reversed every other time
    so that neither side always runs first while the machine's load drifts."""
    for repetition in range(repeats + 1):
        order = list(sides) if repetition % 2 == 0 else list(reversed(sides))
        for side in order:
            yield repetition, side


def run_label(repetition: int, repeats: int) -> str:
    """Name a repetition: warm-up, or 1/3."""
    return "warm-up" if repetition == 0 else f"{repetition}/{repeats}"


def median(values: Sequence[float]) -> float:
    """Give the median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Give the q-th percentile (1..99) of the values, or NaN for fewer than two."""
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[int(q) - 1]


def ratio(a: float, b: float) -> float:
    """Give a / b, or NaN when b is not positive."""
    return a / b if b > 0 else float("nan")
