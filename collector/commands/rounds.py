"""`tempcheck rounds`: (being built)."""

from __future__ import annotations

import click


@click.group()
def rounds() -> None:
    """(being built)"""
