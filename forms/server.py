"""Serving the web app with waitress, configured in code (`tempcheck serve`).

waitress reads each request, body included, on its one event-loop thread and hands only whole
requests to its pool of worker threads. A client that sends its body slowly holds a socket,
not a thread: a few slow clients cannot stop the site answering everyone else (gunicorn's sync
workers each waited on one such body until their 30-second timeout; `bench/bench_slow_clients.py`
measures both). Behind a reverse proxy (nginx, Caddy) the proxy buffers too; see the README.
"""

from __future__ import annotations

import logging
import signal
import sys
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
    """waitress running tempcheck's web app: `Server(settings, threads=8).run()`."""

    def __init__(
        self, settings: Settings, *, host: str = "127.0.0.1", port: int = 5000, threads: int = 8
    ) -> None:
        self.settings = settings
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
        from waitress.server import create_server

        configure_logging()
        server = create_server(AccessLog(self.load()), **self.options)

        def stop(_signum: int, _frame: FrameType | None) -> None:
            raise SystemExit(0)  # waitress's loop closes the server on SystemExit

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            server.print_listen("Serving on http://{}:{}")
            server.run()
        finally:
            signal.signal(signal.SIGTERM, previous)
