"""`/healthz`: for a load balancer or an uptime monitor, without sign-in and without details.

200 "ok" when this process answers and its database is reachable; 503 "unavailable" when the
database is not. Staff see the details on the console's status page.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from collector import health
from forms import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Say whether the web server and its database answer: 200 or 503, nothing more."""
    found = services(current_app)
    ok = health.database_reachable(found.engine, found.settings)
    response = Response("ok\n" if ok else "unavailable\n", status=200 if ok else 503)
    response.mimetype = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return response
