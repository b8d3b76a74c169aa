"""`tempcheck volunteers`, `tempcheck placements` and `tempcheck enquiries`: a volunteer
centre's records, from which placement follow-ups are sent and VAL 24-28 are counted."""

from __future__ import annotations

import click


@click.group()
def volunteers() -> None:
    """Import, list and erase volunteers."""


@click.group()
def placements() -> None:
    """Add, import and list placements of volunteers with host groups."""


@click.group()
def enquiries() -> None:
    """Import and list volunteer enquiries."""
