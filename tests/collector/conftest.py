"""Fixtures for the collector's tests: running the `tempcheck` command as a user would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from collector.cli import main

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Give a function that runs `tempcheck ARGS` on the test's database."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "TEMPCHECK_INSTANCE": str(tmp_path / "instance")}

    def invoke(*args: str, input: str | None = None) -> Result:  # noqa: A002
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke
