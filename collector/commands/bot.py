"""`tempcheck bot`: run the Telegram bot (polling, or webhook mode when configured)."""

from __future__ import annotations

import click

from collector.commands.base import Context, pass_context, stop


@click.command("bot")
@pass_context
def bot(context: Context) -> None:
    """Run the Telegram bot."""
    stop("The Telegram bot is not built yet.")
