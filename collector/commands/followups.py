"""Placement follow-ups and volunteer data protection: `tempcheck volunteers erase` and the
commands that run follow-ups and retention by hand (the dispatcher runs them on schedule)."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    """Add this module's commands to the `tempcheck` command groups."""
