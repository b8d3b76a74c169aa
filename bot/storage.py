"""The bot's only state is in SQL: every handler runs its database work through `db`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction

T = TypeVar("T")


def _application(context_or_app: Any) -> Any:
    # A CallbackContext has .application; an Application has .bot_data itself.
    return getattr(context_or_app, "application", context_or_app)


def sessions_of(context_or_app: Any) -> sessionmaker[Session]:
    """Give the session factory stored in the application's bot_data."""
    factory: sessionmaker[Session] = _application(context_or_app).bot_data["sessions"]
    return factory


def _run(factory: sessionmaker[Session], fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    with transaction(factory) as session:
        return fn(session, *args)


async def db(context_or_app: Any, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(session, *args)` in one transaction in a worker thread and give its result.

    The transaction commits when `fn` returns and rolls back when it raises (the exception
    comes back here), so a handler never sees half-saved work. Database calls block, hence
    the thread: the event loop keeps serving other chats meanwhile.
    """
    return await asyncio.to_thread(_run, sessions_of(context_or_app), fn, args)
