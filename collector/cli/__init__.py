"""The `tempcheck` command: the composition root (one module per command group, the demo,
the terminal answerer, the mail sink)."""

from collector.cli.root import main

__all__ = ["main"]
