"""Every colour pair of the console's style sheets reaches WCAG 2.1 AA (4.5:1 for text): agents
and supervisors read these screens for twelve hours, often on poor monitors.

The rules checked: a rule that paints a background also names its text colour (an inherited
near-black on the alarm red read 2.6:1), and that pair passes; a rule that only sets a text
colour passes on the background its selector sits on (the nearest ancestor part of the selector
with a background of its own), else on white and on the page's grey.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS_DIR = Path(__file__).resolve().parents[2] / "agent_console" / "static" / "css"
SHEETS = ("console.css", "provider.css", "care.css", "community.css", "family.css")
AA = 4.5
PAGE_BACKGROUNDS = ("#ffffff", "#f2f2f2")
NAMED = {"white": "#ffffff", "black": "#000000"}
NOT_A_COLOUR = {"none", "transparent", "inherit", "currentcolor"}


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rules(text: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every rule, keyframe steps and media blocks included."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out: list[tuple[str, dict[str, str]]] = []
    depth, start, selector_start = 0, 0, 0
    stack: list[str] = []
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(text[selector_start:i].strip())
            depth += 1
            start = i + 1
            selector_start = i + 1
        elif ch == "}":
            selector = stack.pop() if stack else ""
            body = text[start:i]
            if not selector.startswith("@") and "{" not in body:
                decls = {}
                for part in body.split(";"):
                    name, sep, value = part.partition(":")
                    if sep:
                        decls[name.strip().lower()] = value.strip()
                out.append((selector, decls))
            depth -= 1
            start = i + 1
            selector_start = i + 1
    return out


def _variables(rules: list[tuple[str, dict[str, str]]]) -> dict[str, str]:
    return {
        k: v
        for sel, decls in rules
        if sel == ":root"
        for k, v in decls.items()
        if k.startswith("--")
    }


def _colour(value: str, variables: dict[str, str]) -> str | None:
    """A solid colour as #rrggbb, None for no colour; anything else fails the test loudly."""
    value = value.strip().lower()
    for _ in range(5):
        m = re.fullmatch(r"var\((--[\w-]+)\)", value)
        if not m:
            break
        value = variables[m.group(1)].lower()
    if value in NOT_A_COLOUR:
        return None
    first = value.split()[0] if value else value
    if first in NAMED:
        return NAMED[first]
    m = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", first)
    if m:
        return first
    raise AssertionError(f"a colour the contrast test cannot read: {value!r}")


def _tokens(compound: str) -> set[str]:
    return set(re.findall(r"[.#:]?[\w-]+(?:\([^)]*\))?", compound))


def _ground(part: str, backgrounds: dict[str, str]) -> str | None:
    """The background a selector part stands on: the most specific background rule whose simple
    selector it matches (``.tile.level-red`` stands on ``.level-red``)."""
    mine = _tokens(part)
    found = [
        (len(_tokens(sel)), colour)
        for sel, colour in backgrounds.items()
        if " " not in sel and _tokens(sel) and _tokens(sel) <= mine
    ]
    return max(found)[1] if found else None


def _pairs() -> list[tuple[str, str, str, str]]:
    """(sheet and selector, text colour, background, why) of every pair the sheets produce; a
    background without a text colour has "" as its text colour."""
    rules = []
    for sheet in SHEETS:
        rules += [
            (sheet, sel, d) for sel, d in _rules((CSS_DIR / sheet).read_text(encoding="utf-8"))
        ]
    variables = _variables([(s, d) for _, s, d in rules])
    backgrounds: dict[str, str] = {}
    for _sheet, sel, decls in rules:
        bg = decls.get("background-color") or decls.get("background")
        if bg and _colour(bg, variables):
            for one in sel.split(","):
                backgrounds[one.strip()] = _colour(bg, variables)  # type: ignore[assignment]
    pairs = []
    for sheet, sel, decls in rules:
        if sel.startswith(":root"):
            continue
        bg_value = decls.get("background-color") or decls.get("background")
        bg = _colour(bg_value, variables) if bg_value else None
        fg = _colour(decls["color"], variables) if "color" in decls else None
        where = f"{sheet} {sel}"
        if bg is not None:
            pairs.append((where, fg or "", bg, "own background"))
        elif fg is not None:
            for one in sel.split(","):
                parts = one.split()
                context = [g for g in (_ground(p, backgrounds) for p in parts[:-1]) if g]
                for ground in context[-1:] or PAGE_BACKGROUNDS:
                    pairs.append((f"{sheet} {one.strip()}", fg, ground, "on its context"))
    return pairs


def test_the_reported_alarm_red_pair_fails_the_formula() -> None:
    # the finding: near-black text on the alarm red
    assert round(contrast("#111111", "#b00020"), 1) == 2.6
    assert contrast("#ffffff", "#b00020") > AA


@pytest.mark.parametrize("sheet", SHEETS)
def test_the_parser_sees_the_sheet(sheet: str) -> None:
    assert len(_rules((CSS_DIR / sheet).read_text(encoding="utf-8"))) > 20


def test_every_colour_pair_reaches_aa() -> None:
    pairs = _pairs()
    assert len(pairs) > 40
    failing = [
        f"{where}: paints {bg} without naming its text colour"
        if not fg
        else f"{where}: {fg} on {bg} is {contrast(fg, bg):.2f}:1 ({why})"
        for where, fg, bg, why in pairs
        if not fg or contrast(fg, bg) < AA
    ]
    assert not failing, "\n".join(failing)
