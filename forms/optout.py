"""Opting out from an invitation's link: a group that no longer wants to be asked (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("optout", __name__)
