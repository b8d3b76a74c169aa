"""Statistical disclosure control: which figures a funder may never see.

**Primary suppression.** A cell (the overall result, or one group of a breakdown) with fewer than
5 responses in its denominator shows nothing: no n, no numerator, no percentage, no interval, no
RAG status; just "fewer than 5 responses".

**Secondary suppression.** When the cells of a breakdown add up to a total that is shown (every
response is in exactly one group: type of organisation, income band, district, channel,
membership), a single hidden cell could be worked out by subtracting the others from the
total. So whenever a breakdown hides any cell, it also hides the next smallest cells until at
least two are hidden and together they hold at least 5 responses. Breakdowns whose groups
overlap (outcome areas: a group may work on several) do not add up to the total, and get
primary suppression only.

Not attempted: differencing across two different breakdowns of the same responses, or across
reports of overlapping rounds; with at least 5 responses behind every hidden total this
reveals no single small group.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

__all__ = ["SECONDARY_NOTE", "SUPPRESSED_NOTE", "SUPPRESS_BELOW", "cells_to_hide", "is_small"]

SUPPRESS_BELOW = 5
SUPPRESSED_NOTE = "fewer than 5 responses: not shown"
SECONDARY_NOTE = "not shown, so that a smaller group cannot be worked out from the total"

K = TypeVar("K", bound=Hashable)


def is_small(n: int) -> bool:
    """Tell whether a count of responses is too small to show (fewer than 5)."""
    return n < SUPPRESS_BELOW


def cells_to_hide(counts: Mapping[K, int], *, adds_up: bool = True) -> tuple[set[K], set[K]]:
    """Give the (primary, secondary) cells to hide, from each cell's number of responses.

    `adds_up` says whether the cells partition a total that is shown; only then is secondary
    suppression needed. Ties among the smallest cells are broken by their order in `counts`.
    """
    primary = {key for key, n in counts.items() if is_small(n)}
    secondary: set[K] = set()
    if not adds_up or not primary:
        return primary, secondary
    order = sorted(counts, key=lambda key: counts[key])  # stable: insertion order breaks ties
    hidden_n = sum(counts[key] for key in primary)
    for key in order:
        if len(primary) + len(secondary) >= 2 and not is_small(hidden_n):
            break
        if key in primary:
            continue
        secondary.add(key)
        hidden_n += counts[key]
    return primary, secondary
