"""Signing in and out for staff and funders, and the decorators that guard their pages
(being built)."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    """Set up sign-in for the app."""
