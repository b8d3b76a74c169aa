"""The README: its quick start is still the two commands, and its pictures are there, made by
`make screenshots`, and small."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
IMAGES = ROOT / "docs" / "images"
# Each picture at most this big (they are quantised to 256 colours).
MOST_BYTES = 200_000


def test_the_quick_start_is_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


# The Telegram section's two pictures of moving between channels: taken by the switch test
# (tests/e2e/test_telegram_switch.py, saved under artifacts/screenshots/ as the second name)
# and copied here by hand; not yet made by `make screenshots`.
BY_THE_SWITCH_TEST = {
    "email-answer-in-telegram.png": "email-telegram-phone.png",
    "chat-after-switch.png": "chat-after-switch-phone.png",
}


def test_every_picture_is_shown_made_by_make_screenshots_and_small() -> None:
    shown = set(re.findall(r'src="(docs/images/[^"]+)"', README))
    shown |= set(re.findall(r"\]\((docs/images/[^)]+)\)", README))
    made = {f"docs/images/{p.name}" for p in IMAGES.glob("*.png")}
    assert shown == made, f"shown, not made: {shown - made}; made, not shown: {made - shown}"
    script = (ROOT / "tests" / "e2e" / "screenshots.py").read_text()
    switch = (ROOT / "tests" / "e2e" / "test_telegram_switch.py").read_text()
    for path in sorted(made):
        name = Path(path).name
        if name in BY_THE_SWITCH_TEST:
            assert f'"{BY_THE_SWITCH_TEST[name]}"' in switch, f"{name} is made by no test"
        else:
            assert f'"{name}"' in script, f"{name} is not made by make screenshots"
        data = (ROOT / path).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert len(data) <= MOST_BYTES, f"{name} is {len(data)} bytes"
    assert len(made) == 5 + len(BY_THE_SWITCH_TEST)
    assert "screenshots:" in (ROOT / "Makefile").read_text()
