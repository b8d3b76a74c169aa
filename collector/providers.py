"""Providers: the CVSs and volunteer centres that run rounds (each with its own staff and list)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import models
from collector.errors import CollectorError

KINDS = ("cvs", "volunteer_centre", "other")
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# Words the console's own addresses use next to /console/<provider slug>/.
RESERVED_SLUGS = frozenset({"admin", "audit", "login", "logout", "new", "static"})


class ProviderError(CollectorError):
    """A provider cannot be added as asked."""

    code = "bad_provider"


def create_provider(
    session: Session, *, slug: str, name: str, kind: str = "cvs", district: str | None = None
) -> models.Provider:
    """Add a provider; its slug names it in addresses and commands (e.g. harlow-cvs)."""
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug):
        raise ProviderError(
            f"{slug!r} cannot be a slug: use 2 to 63 lower-case letters, digits and hyphens, "
            "e.g. harlow-cvs"
        )
    if slug in RESERVED_SLUGS:
        raise ProviderError(f"{slug!r} is a word the console uses: choose another slug")
    if kind not in KINDS:
        raise ProviderError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if not name.strip():
        raise ProviderError("Give the provider a name")
    taken = session.scalar(select(models.Provider.id).where(models.Provider.slug == slug))
    if taken is not None:
        raise ProviderError(f"There is already a provider called {slug!r}")
    provider = models.Provider(
        slug=slug, name=name.strip(), kind=kind, district=(district or "").strip() or None
    )
    session.add(provider)
    session.flush()
    return provider
