"""The `tempcheck` command starts fast: importing it loads no heavy library and hashes nothing.

Every command, `tempcheck --help` included, pays for what `collector.cli` imports. The heavy
libraries are imported by the commands that use them, inside the command. Checked in a fresh
interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Libraries a command imports when it needs them, never at start-up.
HEAVY = ("pandas", "numpy", "matplotlib", "weasyprint", "openpyxl", "flask", "telegram", "zxcvbn")

IMPORT_THE_CLI = """
import hashlib, json, sys

hashed = []
real_scrypt = hashlib.scrypt


def counting_scrypt(*args, **kwargs):
    hashed.append(1)
    return real_scrypt(*args, **kwargs)


hashlib.scrypt = counting_scrypt
import collector.cli  # noqa: E402

print(json.dumps({"modules": sorted(sys.modules), "scrypt_calls": len(hashed)}))
"""


@pytest.fixture(scope="module")
def imported() -> dict[str, object]:
    """Import the CLI's entry point in a fresh interpreter; give what that loaded and did."""
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_CLI], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("library", HEAVY)
def test_importing_the_cli_does_not_import_heavy_libraries(
    imported: dict[str, object], library: str
) -> None:
    modules = imported["modules"]
    assert isinstance(modules, list)
    loaded = [m for m in modules if m == library or m.startswith(library + ".")]
    assert loaded == [], f"importing collector.cli imported {loaded[:5]}"


def test_importing_the_cli_computes_no_password_hash(imported: dict[str, object]) -> None:
    assert imported["scrypt_calls"] == 0


def test_the_sign_in_dummy_hash_takes_as_long_to_check_as_a_real_one() -> None:
    # Not timed: the same scrypt parameters and digest length mean the same work.
    from collector import users

    real = users.hash_password("correct horse battery staple")
    assert users._DUMMY_HASH.split("$")[:4] == real.split("$")[:4]
    assert len(users._DUMMY_HASH) == len(real)
    assert not users.check_password("correct horse battery staple", users._DUMMY_HASH)
