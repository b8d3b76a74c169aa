"""`tempcheck up`: the mail sink, dispatcher and web server, started and stopped together; a
child that crashes is started again, one that keeps crashing stops everything."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner

from collector import backup, db
from collector.cli import main
from collector.config import Settings
from tests.conftest import _free_port
from tests.factories import make_organisation, make_provider, make_round

pytestmark = pytest.mark.slow
T = TypeVar("T")


@dataclass
class Up:
    """A running `tempcheck up`, its ports, folders and output so far."""

    process: subprocess.Popen[bytes]
    port: int
    mail_port: int
    instance: Path
    log: Path
    token: str

    def output(self) -> str:
        """Give what `up` and its children have printed so far."""
        return self.log.read_text(errors="replace")

    def children(self) -> dict[str, int]:
        """Give the children's pids by name, as `up` prints them."""
        line = _wait_for(lambda: _line(self.output(), "  processes: "), "the processes line")
        named = {}
        for part in line.removeprefix("  processes: ").split(", "):
            name, _, pid = part.partition(" (pid ")
            named[name] = int(pid.rstrip(")"))
        return named


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    """Start `tempcheck up` on free ports, with a SQLite database holding one open round."""
    database = tmp_path / "tempcheck.db"
    settings = Settings(database_url=f"sqlite:///{database}")
    engine = db.make_engine(settings)
    db.upgrade(engine)
    with db.make_sessionmaker(engine)() as session, session.begin():
        provider = make_provider(session)
        organisation = make_organisation(session, provider)
        round_ = make_round(session, provider, audience={})
        [invitation] = round_.invitations
        assert invitation.organisation_id == organisation.id
        token = invitation.token
    engine.dispose()
    port, mail_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "TEMPCHECK_INSTANCE": str(tmp_path / "instance"),
        "SECRET_KEY": "up-test-secret-key-0123456789abcdef",
        # Whatever the machine has: this test wants the demo's own sink and default links.
        "SMTP_HOST": "",
        "BASE_URL": "",
    }
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("tempcheck")),
                "up",
                "--port",
                str(port),
                "--mail-port",
                str(mail_port),
                "--threads",
                "2",
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Up(process, port, mail_port, tmp_path / "instance", log, token)
    try:
        yield running
    finally:
        print(running.output())  # shown when the test fails
        if process.poll() is None:
            # As a user stops it, so that its children stop too; whatever is left, killed.
            family = set(_descendants(process.pid))
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for pid in family | set(_descendants(process.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_up_runs_sink_dispatcher_and_web_and_sigterm_stops_them_all(up: Up) -> None:
    assert _wait_for(lambda: _status(f"http://127.0.0.1:{up.port}/login"), "/login") == 200
    children = up.children()
    assert set(children) == {"mail sink", "dispatcher", "web server"}
    family = {pid for child in children.values() for pid in [child, *_descendants(child)]}
    assert len(family) >= 3
    assert _alive(children["dispatcher"])
    assert "dispatch" in _cmdline(children["dispatcher"])
    with smtplib.SMTP("127.0.0.1", up.mail_port, timeout=10) as smtp:
        assert smtp.noop()[0] == 250

    # The open round's invitation goes through the dispatcher to the sink, linking to this port.
    link = f"http://localhost:{up.port}/r/{up.token}"
    assert link in _wait_for(lambda: _email_with(up.instance / "mail", link), "the email")

    # The daily backup, taken as up starts, in the instance's backup folder, owner-only.
    said = _wait_for(
        lambda: next(
            (x for x in up.output().splitlines() if "up: Backed up the database" in x), None
        ),
        "the daily backup",
    )
    taken = backup.last_backup(Settings(instance_path=str(up.instance)))
    assert taken is not None and str(taken[1]) in said
    assert backup.verify_backup(taken[1]).counts["outbox"] == 1

    output = up.output()
    assert "  backups:  daily into " in output
    assert f"web:      http://127.0.0.1:{up.port}/" in output
    assert f"sign in:  http://127.0.0.1:{up.port}/login" in output
    assert f"local mail sink on 127.0.0.1:{up.mail_port}, saved as .eml files in" in output

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(timeout=60) == 0, up.output()
    assert [pid for pid in family if _alive(pid)] == []
    assert "Stopped the web server, the dispatcher and the mail sink." in up.output()


def test_a_child_that_dies_is_restarted_and_logged_and_sigterm_still_stops_all(up: Up) -> None:
    assert _wait_for(lambda: _status(f"http://127.0.0.1:{up.port}/login"), "/login") == 200
    children = up.children()
    os.kill(children["dispatcher"], signal.SIGKILL)
    os.kill(children["web server"], signal.SIGKILL)

    restarted = {
        name: int(_wait_for(lambda n=name: _restarted_pid(up.output(), n), f"{name} restart"))
        for name in ("dispatcher", "web server")
    }
    output = up.output()
    assert "up: The dispatcher stopped by itself (exit code -9): restarting it in 1 s" in output
    assert "up: The web server stopped by itself (exit code -9): restarting it in 1 s" in output
    assert up.process.poll() is None  # up itself carries on
    assert restarted["dispatcher"] != children["dispatcher"]
    assert _alive(restarted["dispatcher"]) and "dispatch" in _cmdline(restarted["dispatcher"])
    # Under the same name as before, so it takes back at once what the dead one had claimed.
    assert f"dispatch --name {socket.gethostname()}:up:{up.port}" in _cmdline(
        restarted["dispatcher"]
    )
    # The new web server answers on the same port; the new dispatcher delivers the invitation.
    assert _wait_for(lambda: _status(f"http://127.0.0.1:{up.port}/login"), "/login again") == 200
    link = f"http://localhost:{up.port}/r/{up.token}"
    assert link in _wait_for(lambda: _email_with(up.instance / "mail", link), "the email")

    family = {
        pid
        for child in [children["mail sink"], *restarted.values()]
        for pid in [child, *_descendants(child)]
    }
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(timeout=60) == 0, up.output()
    assert [pid for pid in family if _alive(pid)] == []
    assert "Stopped the web server, the dispatcher and the mail sink." in up.output()


def test_a_child_that_keeps_crashing_stops_up_with_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collector.cli import up as up_command

    # The mail sink exits at once with code 3 (the others wait to be stopped); pauses of 10,
    # 20, 40 ms; the third crash gives up.
    crash = "import sys, time; sys.exit(3) if 'mail-sink' in sys.argv else time.sleep(120)"
    monkeypatch.setattr(up_command, "tempcheck_command", lambda: [sys.executable, "-c", crash])
    monkeypatch.setattr(
        up_command, "RESTARTS", up_command.RestartPolicy(0.01, 0.04, crashes=3, window=60)
    )
    monkeypatch.chdir(tmp_path)
    env = {
        "TEMPCHECK_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'up.db'}",
        "SECRET_KEY": "k" * 32,
        "SMTP_HOST": "",
    }
    result = CliRunner().invoke(
        main, ["up", "--port", str(_free_port()), "--mail-port", str(_free_port())], env=env
    )

    assert result.exit_code == 1
    assert "The mail sink stopped by itself (exit code 3): restarting it in 0.01 s (1 of 3" in (
        result.output
    )
    assert "The mail sink stopped by itself (exit code 3): restarting it in 0.02 s (2 of 3" in (
        result.output
    )
    assert "The mail sink stopped by itself 3 times in 60 s (last exit code 3)" in result.output
    assert "stopped the others too" in result.output


def test_restart_pauses_double_up_to_a_limit() -> None:
    from collector.cli.up import RestartPolicy

    policy = RestartPolicy(first_pause=1, longest_pause=30)
    assert [policy.pause(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_up_refuses_a_port_in_use_and_a_missing_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"TEMPCHECK_INSTANCE": str(tmp_path / "instance"), "SMTP_HOST": ""}
    no_key = CliRunner().invoke(main, ["up"], env={**env, "SECRET_KEY": ""})
    assert no_key.exit_code == 1 and "SECRET_KEY is not set" in no_key.output
    with socket.socket() as taken, socket.socket() as free:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # A web port nobody holds, so the test does not depend on 5000 being free.
        free.bind(("127.0.0.1", 0))
        web_port = free.getsockname()[1]
        free.close()
        busy = CliRunner().invoke(
            main,
            ["up", "--port", str(web_port), "--mail-port", str(port)],
            env={**env, "SECRET_KEY": "k" * 32},
        )
    assert busy.exit_code == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in busy.output
    assert "choose another --mail-port" in busy.output


def _status(url: str) -> int | None:
    """Give the HTTP status of a GET, or None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as page:
            page.read()
            return int(page.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    except (ConnectionError, urllib.error.URLError):
        return None


def _wait_for(probe: Callable[[], T | None], what: str, seconds: float = 60) -> T:
    """Poll until `probe` gives something truthy (the deadline only stops a hung test)."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def _email_with(folder: Path, text: str) -> str | None:
    """Give the plain body of a saved email holding `text` (a file may be half written)."""
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        content = body.get_content() if isinstance(body, EmailMessage) else ""
        if text in content:
            return str(content)
    return None


def _restarted_pid(output: str, name: str) -> int | None:
    """Give the pid `up` says it restarted a child with, or None before it does."""
    for line in output.splitlines():
        _, found, rest = line.partition(f"up: Restarted the {name} (pid ")
        if found:
            return int(rest.rstrip(").").strip(")"))
    return None


def _line(text: str, prefix: str) -> str | None:
    return next((line for line in text.splitlines() if line.startswith(prefix)), None)


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may hold spaces: split after its closing one.
    return raw[raw.rindex(")") + 2 :].split()


def _alive(pid: int) -> bool:
    """Tell whether a process exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, p in parents.items() if p == parent]
        found += children
        frontier += children
    return found


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
