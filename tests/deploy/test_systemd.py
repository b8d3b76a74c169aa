"""deploy/systemd/: the units, as shipped, checked by `systemd-analyze verify` (syntax, known
settings, the commands they run exist). Only the path of tempcheck's virtual environment is
changed, to this one's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SHIPPED_VENV = "/opt/tempcheck/.venv"


def test_every_unit_runs_tempcheck_from_the_shipped_place() -> None:
    services = sorted(UNITS.glob("*.service"))
    assert {p.name for p in services} == {
        "tempcheck-web.service",
        "tempcheck-dispatch.service",
        "tempcheck-bot.service",
        "tempcheck-backup.service",
    }
    for unit in services:
        starts = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
        assert starts and all(
            line.startswith(f"ExecStart={SHIPPED_VENV}/bin/tempcheck ") for line in starts
        ), unit.name


def test_systemd_analyze_verify_finds_nothing_wrong_with_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (Debian's systemd package has it)")
    venv = Path(sys.executable).parent.parent
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(SHIPPED_VENV, str(venv)))
    units = sorted(str(p) for p in tmp_path.iterdir())
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr

    # It does find faults: a setting it does not know and a command that is not there.
    broken = tmp_path / "tempcheck-web.service"
    broken.write_text(
        broken.read_text()
        .replace("Restart=on-failure", "Restart=sometimes")
        .replace(f"{venv}/bin/tempcheck", "/nonexistent/tempcheck")
    )
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(broken)], capture_output=True, text=True
    )
    assert "sometimes" in result.stderr and "/nonexistent/tempcheck" in result.stderr
