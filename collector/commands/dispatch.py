"""`tempcheck dispatch`: (being built)."""

from __future__ import annotations

import click


@click.group()
def dispatch() -> None:
    """(being built)"""
