"""`tempcheck serve`: waitress with N threads (or the dev server); tokens kept out of logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from collector.cli import main
from collector.config import Settings
from forms.server import Server, Workers
from tests.conftest import _free_port
from tests.forms.test_respond import invite

SECRET = "serve-test-secret-key-0123456789"


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Give the environment of a `tempcheck` run on the test's database."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    return {
        "DATABASE_URL": database_url,
        "TEMPCHECK_INSTANCE": str(tmp_path / "instance"),
        "SECRET_KEY": SECRET,
    }


def test_serve_runs_waitress_with_the_threads_host_and_port_asked_for(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Server] = []
    monkeypatch.setattr(Server, "run", lambda self: started.append(self))

    result = CliRunner().invoke(
        main, ["serve", "--threads", "3", "--port", "8123", "--host", "0.0.0.0"], env=env
    )

    assert result.exit_code == 0, result.output
    [server] = started
    assert server.options["threads"] == 3
    assert server.workers == min(os.cpu_count() or 1, 4)  # one per core, at most 4
    assert (server.options["host"], server.options["port"]) == ("0.0.0.0", 8123)
    # X-Forwarded-* reach the app, which trusts them only from TRUSTED_PROXIES proxies.
    assert server.options["clear_untrusted_proxy_headers"] is False
    assert "http://0.0.0.0:8123/" in result.output


def test_serve_takes_the_workers_asked_for(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Server] = []
    monkeypatch.setattr(Server, "run", lambda self: started.append(self))

    result = CliRunner().invoke(main, ["serve", "--workers", "3"], env=env)
    assert result.exit_code == 0, result.output
    assert started[0].workers == 3

    refused = CliRunner().invoke(main, ["serve", "--workers", "0"], env=env)
    assert refused.exit_code == 2
    assert "Invalid value for '--workers'" in refused.output
    assert len(started) == 1


def test_serve_dev_runs_flask_s_development_server(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask import Flask

    ran: list[dict[str, Any]] = []
    monkeypatch.setattr(Flask, "run", lambda self, **kwargs: ran.append(kwargs))

    result = CliRunner().invoke(main, ["serve", "--dev", "--port", "8124"], env=env)

    assert result.exit_code == 0, result.output
    assert ran == [{"host": "127.0.0.1", "port": 8124, "debug": True}]


def test_serve_without_a_secret_key_says_how_to_make_one(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["serve"], env={**env, "SECRET_KEY": ""})
    assert result.exit_code == 1
    assert "SECRET_KEY is not set" in result.output
    assert "secrets.token_hex" in result.output


def test_serve_serves_the_pages_and_logs_tokens_redacted(
    env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    token = invite(session_factory)
    port = _free_port()
    tempcheck = Path(sys.executable).with_name("tempcheck")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(tempcheck), "serve", "--threads", "2", "--workers", "1", "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            body = _get_when_up(f"http://127.0.0.1:{port}/r/{token}")
            assert "Support from your CVS" in body
            # A referrer holding a token is logged cut short too.
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/login",
                headers={"Referer": f"http://127.0.0.1:{port}/r/{token}/q/1"},
            )
            with urllib.request.urlopen(request, timeout=5) as page:
                assert page.status == 200
            with pytest.raises(urllib.error.HTTPError) as bad:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/r/{'Z' * 32}", timeout=5)
            assert bad.value.code == 404
            bad.value.close()
        finally:
            server.terminate()
            server.wait(timeout=15)
    logged = log.read_text()
    assert f"/r/{token[:6]}…" in logged
    assert token not in logged
    assert "Z" * 32 not in logged
    assert f"Serving on http://127.0.0.1:{port}" in logged
    assert f'"GET /r/{token[:6]}… HTTP/1.1" 200' in logged
    assert (
        '"GET /login HTTP/1.1" 200' in logged
        and f'"http://127.0.0.1:{port}/r/{token[:6]}…' in logged
    )
    assert f'"GET /r/{"Z" * 6}… HTTP/1.1" 404' in logged


def _get_when_up(url: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as page:
                return str(page.read().decode())
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_server_builds_the_app() -> None:
    server = Server(Settings(secret_key="k" * 32), threads=2)
    assert server.load().name == "forms"


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _wait_for(condition: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)
    return value


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not serving.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_workers_share_the_port_replace_one_that_dies_and_stop_together(
    env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    token = invite(session_factory)
    port = _free_port()
    tempcheck = Path(sys.executable).with_name("tempcheck")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(tempcheck), "serve", "--workers", "2", "--threads", "2", "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}/r/{token}"
            assert "Support from your CVS" in _get_when_up(url)
            workers = _wait_for(lambda: len(_children(server.pid)) == 2 and _children(server.pid))
            killed = min(workers)
            os.kill(killed, signal.SIGKILL)
            replaced = _wait_for(
                lambda: len(now := _children(server.pid)) == 2 and killed not in now and now
            )
            for _ in range(10):  # every request is answered while and after one died
                assert "Support from your CVS" in _get_when_up(url)
            server.terminate()
            assert server.wait(timeout=15) == 0
            _wait_for(lambda: not any(_alive(pid) for pid in replaced))
        finally:
            if server.poll() is None:
                server.kill()
    logged = log.read_text()
    assert f"Serving on http://127.0.0.1:{port} with 2 workers" in logged
    assert "A web worker ended (exit -9): starting another" in logged


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_workers_stop_when_their_parent_is_killed(env: dict[str, str]) -> None:
    port = _free_port()
    tempcheck = Path(sys.executable).with_name("tempcheck")
    server = subprocess.Popen(
        [str(tempcheck), "serve", "--workers", "2", "--threads", "1", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _get_when_up(f"http://127.0.0.1:{port}/")
        workers = _wait_for(lambda: len(_children(server.pid)) == 2 and _children(server.pid))
    finally:
        server.kill()
        server.wait(timeout=15)
    _wait_for(lambda: not any(_alive(pid) for pid in workers))
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)


def test_workers_that_cannot_start_stop_the_server(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Any:
        raise RuntimeError("no database")

    workers = Workers(broken, {"threads": 1}, "127.0.0.1", _free_port(), 2)
    with pytest.raises(SystemExit) as stopped:
        workers.run()
    assert stopped.value.code == 1
    assert "Web workers keep dying as they start (exit 1): stopping" in caplog.text
    assert workers.children == {}
