"""Backups: where they are kept, and the newest one.

A stand-in with only what `tempcheck status` needs (issue 21's health check); the backup and
restore commands replace this module with the full one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collector.config import Settings


def backup_folder(settings: Settings) -> Path:
    """Give the folder of BACKUP_DIR, or `backups` in the instance folder."""
    return (
        Path(settings.backup_dir)
        if settings.backup_dir
        else Path(settings.instance_path) / "backups"
    )


def last_backup(settings: Settings) -> tuple[datetime, Path] | None:
    """Give the newest file in the backup folder and when it was written, or None."""
    folder = backup_folder(settings)
    if not folder.is_dir():
        return None
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    if not files:
        return None
    newest = max(files, key=lambda p: p.stat().st_mtime)
    return datetime.fromtimestamp(newest.stat().st_mtime, UTC), newest
