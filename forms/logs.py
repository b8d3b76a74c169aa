"""Logs never hold a whole invitation token: a token in a path is cut to its first characters."""

from __future__ import annotations

import logging
import re

from flask import Flask

from collector.rounds import redact_token

# A token already cut short (followed by "…") is left as it is, so redacting twice is harmless.
_TOKEN_IN_PATH = re.compile(r"(/r/)([A-Za-z0-9_-]++)(?!…)")


def redact(text: str) -> str:
    """Shorten every invitation token that appears in a URL path in `text`."""
    return _TOKEN_IN_PATH.sub(lambda m: m.group(1) + redact_token(m.group(2)), text)


class RedactTokens(logging.Filter):
    """A logging filter that shortens tokens in the message (Flask logs the path of a 500)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def init_app(app: Flask) -> None:
    """Redact tokens in the app's log and the development server's request log."""
    for logger in (app.logger, logging.getLogger("werkzeug")):
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
