"""Benchmark: a few slow clients against `tempcheck serve`, over HTTP on loopback.

Issue 12, item 6: three connections sending a POST body one byte every 2 seconds tied up both
sync gunicorn workers of the old `tempcheck serve` until their 30-second timeout, and the site
stopped answering. This starts a server on a fresh SQLite database, opens SLOW_CLIENTS such
connections (a POST to /login announcing a 1,000-byte body, then one byte every 2 s), and
meanwhile fetches /login once every 0.5 s, one request after another, for WINDOW seconds. It
prints how long those ordinary GETs took (median, slowest) and how many got no answer within
GET_TIMEOUT seconds, for:

1. the old way: gunicorn, 2 sync workers, timeout 30 s (as `tempcheck serve` ran before), in
   this script's own process;
2. the new way: `tempcheck serve` (waitress), as installed;
3. the new way again with MANY_SLOW_CLIENTS of them.

Traffic goes to 127.0.0.1 only; about two minutes in all. Run with `make bench` or
`.venv/bin/python bench/bench_slow_clients.py`.
"""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from servers import free_port, wait_until_up

from collector import db
from collector.config import Settings

SLOW_CLIENTS = 3
MANY_SLOW_CLIENTS = 50
BYTE_EVERY = 2.0
WINDOW = 35.0
GET_EVERY = 0.5
GET_TIMEOUT = 40.0
ANNOUNCED_BODY = 1000


@dataclass
class Figures:
    """How the ordinary GETs fared while the slow clients were sending."""

    seconds: list[float] = field(default_factory=list)
    unanswered: int = 0

    def line(self) -> str:
        """Describe the figures in one line."""
        if not self.seconds:
            return f"no GET answered ({self.unanswered} gave up after {GET_TIMEOUT:.0f} s)"
        median = statistics.median(self.seconds) * 1000
        return (
            f"{len(self.seconds)} GETs answered, median {median:.0f} ms, "
            f"slowest {max(self.seconds):.1f} s, {self.unanswered} unanswered"
            f" within {GET_TIMEOUT:.0f} s"
        )


def slow_client(port: int, stop: threading.Event) -> None:
    """Send a POST's headers, then its body one byte every BYTE_EVERY seconds until `stop`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(
                (
                    "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {ANNOUNCED_BODY}\r\n\r\n"
                ).encode()
            )
            for _ in range(ANNOUNCED_BODY - 1):
                if stop.wait(BYTE_EVERY):
                    return
                connection.sendall(b"a")
    except OSError:
        return  # the server closed it: that is allowed


def measure(port: int, slow_clients: int) -> Figures:
    """Open the slow clients, time GET /login for WINDOW seconds, then let the clients go."""
    stop = threading.Event()
    clients = [
        threading.Thread(target=slow_client, args=(port, stop), daemon=True)
        for _ in range(slow_clients)
    ]
    for client in clients:
        client.start()
    time.sleep(1.0)  # their headers are in: the bodies are trickling
    figures = Figures()
    ends = time.monotonic() + WINDOW
    while time.monotonic() < ends:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/login", timeout=GET_TIMEOUT
            ) as page:
                page.read()
            figures.seconds.append(time.monotonic() - started)
        except OSError:  # timed out (URLError is an OSError too)
            figures.unanswered += 1
        time.sleep(max(0.0, GET_EVERY - (time.monotonic() - started)))
    stop.set()
    for client in clients:
        client.join(timeout=5)
    return figures


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop a server process, killing it if it does not stop."""
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def gunicorn_sync(port: int) -> None:
    """Serve the app as `tempcheck serve` did before: gunicorn, 2 sync workers, timeout 30 s."""
    from gunicorn.app.base import BaseApplication

    from forms import create_app

    settings = Settings.from_env(dotenv_path=None)

    class Sync(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": 2,
                "worker_class": "sync",
                "timeout": 30,
                "accesslog": None,
                "errorlog": "-",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> object:
            return create_app(settings)

    Sync().run()


def main() -> None:
    """Measure the old way and the new way; print the figures."""
    if len(sys.argv) == 3 and sys.argv[1] == "--gunicorn-sync":
        gunicorn_sync(int(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory(prefix="tempcheck-bench-slow-") as tmp:
        folder = Path(tmp)
        settings = Settings(
            database_url=f"sqlite:///{folder / 'slow.db'}", instance_path=str(folder)
        )
        engine = db.make_engine(settings)
        db.upgrade(engine)
        engine.dispose()
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url or "",
            "TEMPCHECK_INSTANCE": str(folder),
            "SECRET_KEY": secrets.token_hex(32),
        }
        tempcheck = Path(sys.executable).with_name("tempcheck")
        old = [sys.executable, __file__, "--gunicorn-sync"]
        new = [str(tempcheck), "serve", "--port"]
        ways = [
            ("old: gunicorn, 2 sync workers", old, SLOW_CLIENTS),
            ("new: tempcheck serve (waitress)", new, SLOW_CLIENTS),
            ("new: tempcheck serve (waitress)", new, MANY_SLOW_CLIENTS),
        ]
        results: dict[str, Figures] = {}
        for way, command, clients in ways:
            name = f"{way}, {clients} slow clients"
            port = free_port()
            print(f"{name}: GETs for {WINDOW:.0f} s...", flush=True)
            with (folder / "server.log").open("ab") as log:
                server = subprocess.Popen(
                    [*command, str(port)], env=env, cwd=folder, stdout=log, stderr=log
                )
            try:
                wait_until_up(port)
                results[name] = measure(port, clients)
            finally:
                stop_server(server)
    print()
    print(
        f"GET /login every {GET_EVERY} s for {WINDOW:.0f} s while slow clients send a POST body "
        f"one byte every {BYTE_EVERY:.0f} s (loopback, {os.cpu_count()} CPUs)"
    )
    for name, figures in results.items():
        print(f"  {name:53} {figures.line()}")


if __name__ == "__main__":
    main()
