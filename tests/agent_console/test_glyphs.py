"""Every character the console shows has a glyph in the fonts a Debian desk has (the Chinese
font the PDFs use, fonts-wqy-microhei, and DejaVu Sans): an emoji such as 🔑 or 🚨 is drawn as an
empty box there, so symbols are words or inline SVG instead."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fontTools.ttLib import TTFont

from platform_core.assessment.pdf import find_font

CONSOLE = Path(__file__).resolve().parents[2] / "agent_console"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _covered() -> set[int]:
    covered: set[int] = set()
    for path in (find_font(), DEJAVU):
        if path.is_file():
            font = TTFont(str(path), fontNumber=0, lazy=True)
            covered |= set(font.getBestCmap())
    return covered


def _shown_text() -> dict[str, str]:
    """The text of every template, script, style sheet and message catalogue of the console."""
    files = [
        *CONSOLE.glob("templates/**/*.html"),
        *CONSOLE.glob("templates/**/*.json"),
        *CONSOLE.glob("translations/*.json"),
        *CONSOLE.glob("static/js/*.js"),
        *CONSOLE.glob("static/css/*.css"),
    ]
    out = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            text = "\n".join(str(v) for v in json.loads(text).values())
        out[str(path.relative_to(CONSOLE))] = text
    return out


def test_every_character_has_a_glyph() -> None:
    covered = _covered()
    assert ord("急") in covered and ord("A") in covered
    missing = {
        f"{name}: {ch!r} U+{ord(ch):04X}"
        for name, text in _shown_text().items()
        for ch in set(text)
        if ord(ch) > 0x7E and not ch.isspace() and ord(ch) not in covered
    }
    assert not missing, "\n".join(sorted(missing))


def test_the_scan_sees_an_emoji() -> None:
    assert re.search("[\U0001f300-\U0001faff]", "钥匙 🔑") and ord("🔑") not in _covered()
