"""Serving the web app with waitress, configured in code (`tempcheck serve`).

waitress reads each request, body included, on its one event-loop thread and hands only whole
requests to its pool of worker threads. A client that sends its body slowly holds a socket,
not a thread: a few slow clients cannot stop the site answering everyone else (gunicorn's sync
workers each waited on one such body until their 30-second timeout; `bench/bench_slow_clients.py`
measures both). Behind a reverse proxy (nginx, Caddy) the proxy buffers too; see the README.

One process runs Python on one core at a time. `workers` > 1 runs that many processes on one
listening socket, each with its own threads and database connections, under a parent that
starts another when one dies and stops them all on SIGTERM or Ctrl-C (pre-forking, as gunicorn
does): one per core keeps a busy site's pages quick.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from flask import Flask
from werkzeug.wsgi import ClosingIterator

from collector.config import Settings
from forms import MAX_REQUEST_BYTES, create_app
from forms.logs import RedactTokens, redact

# WSGI's own types, loosely: waitress and Flask check them.
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

access_log = logging.getLogger("tempcheck.access")

# waitress refuses a body larger than this itself (413) before reading it all; the app refuses
# anything over MAX_REQUEST_BYTES with its own page, so this only bounds what is buffered.
BUFFERED_BODY_BYTES = 16 * MAX_REQUEST_BYTES
# An idle connection (a keep-alive, or a client that stopped sending) is closed after this.
IDLE_SECONDS = 60
# At most this many open connections; beyond, new ones wait in the listen queue.
CONNECTION_LIMIT = 200
# A worker that dies this soon after starting, this many times running, stops the server: it
# cannot start (a broken database, say), and restarting it for ever would hide that.
QUICK_DEATH_SECONDS = 2.0
QUICK_DEATHS = 5
# How often a worker checks that its parent is still there.
ORPHAN_CHECK_SECONDS = 0.2


class AccessLog:
    """WSGI middleware: one line per request, in the combined log format, tokens cut short."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Serve the request, and log it when its response has been sent."""
        started = time.monotonic()
        response: dict[str, str] = {}

        def recording(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            response["status"] = status.split(" ", 1)[0]
            response["length"] = next((v for k, v in headers if k.lower() == "content-length"), "-")
            return start_response(status, headers, *args)

        def log() -> None:
            access_log.info(
                "%s",
                redact(
                    _combined_line(
                        environ,
                        response.get("status", "-"),
                        response.get("length", "-"),
                        time.monotonic() - started,
                    )
                ),
            )

        return ClosingIterator(self.app(environ, recording), [log])


def _combined_line(environ: Environ, status: str, length: str, seconds: float) -> str:
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING")
    target = f"{path}?{query}" if query else path
    when = time.strftime("%d/%b/%Y:%H:%M:%S %z")
    return (
        f"{environ.get('REMOTE_ADDR', '-')} - - [{when}] "
        f'"{environ.get("REQUEST_METHOD", "-")} {target} {environ.get("SERVER_PROTOCOL", "-")}" '
        f"{status} {length} "
        f'"{environ.get("HTTP_REFERER", "-")}" "{environ.get("HTTP_USER_AGENT", "-")}" '
        f"{seconds:.3f}s"
    )


def configure_logging() -> None:
    """Access lines to stdout, everything else (waitress, the app) to stderr, tokens cut short."""
    redacting = RedactTokens()
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(logging.Formatter("%(message)s"))
    out.addFilter(redacting)
    access_log.addHandler(out)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # On the handler, so that it covers every logger that reaches it (waitress's "Exception
    # while serving /r/...", the app's own), not only those that have the filter.
    err.addFilter(redacting)
    root = logging.getLogger()
    root.addHandler(err)
    root.setLevel(logging.WARNING)
    logging.getLogger("waitress").setLevel(logging.INFO)


class Server:
    """waitress running tempcheck's web app: `Server(settings, threads=8, workers=2).run()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = 5000,
        threads: int = 8,
        workers: int = 1,
    ) -> None:
        self.settings = settings
        self.host, self.port, self.workers = host, port, workers
        self.options: dict[str, Any] = {
            "host": host,
            "port": port,
            "threads": threads,
            "ident": "tempcheck",
            "connection_limit": CONNECTION_LIMIT,
            "channel_timeout": IDLE_SECONDS,
            "max_request_body_size": BUFFERED_BODY_BYTES,
            # The app trusts X-Forwarded-* itself, from TRUSTED_PROXIES proxies (ProxyFix):
            # waitress must pass them on rather than clear them.
            "clear_untrusted_proxy_headers": False,
        }

    def load(self) -> Flask:
        """Build the app."""
        return create_app(self.settings)

    def run(self) -> None:
        """Serve until SIGTERM or Ctrl-C, then finish the requests in hand (a few seconds)."""
        configure_logging()
        if self.workers == 1:
            serve_one(lambda: AccessLog(self.load()), self.options)
            return
        options = {k: v for k, v in self.options.items() if k not in ("host", "port")}
        Workers(lambda: AccessLog(self.load()), options, self.host, self.port, self.workers).run()


def serve_one(make_app: Callable[[], WsgiApp], options: dict[str, Any]) -> None:
    """Run one waitress server until SIGTERM or Ctrl-C."""
    from waitress.server import create_server

    server = create_server(make_app(), **options)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)  # waitress's loop closes the server on SystemExit

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        if "sockets" not in options:
            server.print_listen("Serving on http://{}:{}")
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind host:port for workers to share. The first worker to have built its app listens
    (waitress does): until then a client is refused, and tries again, rather than waiting."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def _stop_when_orphaned(parent: int) -> None:
    """Stop this worker (as SIGTERM does) if its parent dies without stopping it (SIGKILL)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


class Workers:
    """Several processes serving one app on one socket, kept running by this parent.

    `make_app` runs in each worker, after the fork: each has its own database engine. The parent
    imports the app's modules but opens nothing a worker could share by mistake.
    """

    def __init__(
        self,
        make_app: Callable[[], WsgiApp],
        options: dict[str, Any],
        host: str,
        port: int,
        count: int,
    ) -> None:
        self.make_app, self.options, self.count = make_app, options, count
        self.sock = listening_socket(host, port)
        self.children: dict[int, float] = {}  # pid: when it started
        self.stopping = False
        self.log = logging.getLogger("tempcheck.workers")

    def run(self) -> None:
        """Start the workers; replace any that dies; stop them all on SIGTERM or Ctrl-C."""
        bound_host, bound_port = self.sock.getsockname()[:2]
        print(f"Serving on http://{bound_host}:{bound_port} with {self.count} workers", flush=True)
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        quick_deaths, gave_up = 0, False
        try:
            for _ in range(self.count):
                self._start()
            while self.children:
                pid, status = os.wait()
                started = self.children.pop(pid, None)
                if started is None or self.stopping:
                    continue
                code = os.waitstatus_to_exitcode(status)
                quick_deaths = (
                    quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH_SECONDS else 0
                )
                if quick_deaths >= QUICK_DEATHS:
                    self.log.error("Web workers keep dying as they start (exit %s): stopping", code)
                    self._stop(signal.SIGTERM, None)
                    gave_up = True
                    continue
                self.log.warning("A web worker ended (exit %s): starting another", code)
                self._start()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.sock.close()
        if gave_up:
            raise SystemExit(1)

    def _start(self) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent says when to stop
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                _stop_when_orphaned(os.getppid())
                serve_one(self.make_app, {**self.options, "sockets": [self.sock]})
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            except BaseException:
                self.log.exception("A web worker failed")
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = time.monotonic()

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        """Ask every worker to finish the requests in hand and stop."""
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
