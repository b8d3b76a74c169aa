"""The staff console and the funder pages (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")
funder_bp = Blueprint("funder", __name__, url_prefix="/funder")
