"""`tempcheck users`: (being built)."""

from __future__ import annotations

import click


@click.group()
def users() -> None:
    """(being built)"""
