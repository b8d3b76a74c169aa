"""Serving the web app with gunicorn, configured in code (`tempcheck serve`)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from collector.config import Settings
from forms import create_app
from forms.logs import RedactTokens, redact


class RedactingLogger(Logger):
    """gunicorn's logger, with invitation tokens cut short in the access and error logs."""

    def setup(self, cfg: Any) -> None:
        """Set up the logs as gunicorn does, then filter tokens out of the error log."""
        super().setup(cfg)
        self.error_log.addFilter(RedactTokens())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """Give the access-log fields with tokens redacted (request line, path, referrer, ...)."""
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}


class Server(BaseApplication):  # type: ignore[misc]
    """gunicorn running tempcheck's web app: `Server(settings, workers=2).run()`."""

    def __init__(
        self, settings: Settings, *, host: str = "127.0.0.1", port: int = 5000, workers: int = 2
    ) -> None:
        self.settings = settings
        self.options: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "sync",
            "timeout": 30,
            "graceful_timeout": 10,
            "accesslog": "-",
            "errorlog": "-",
            "logger_class": RedactingLogger,
            # Each worker builds its own app (and database engine) after the fork.
            "preload_app": False,
            "proc_name": "tempcheck-web",
        }
        if settings.trusted_proxies:
            # Behind a proxy, take its X-Forwarded-Proto too (ProxyFix in the app does the rest).
            self.options["forwarded_allow_ips"] = "*"
        super().__init__()

    def load_config(self) -> None:
        """Apply the options to gunicorn's configuration."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Build the app in a worker."""
        return create_app(self.settings)
