"""A small message catalogue: one JSON file per language, Chinese first, English second.

Templates call ``t("key")``; scripts receive the active catalogue in the page so every label on
screen comes from the same files. A key missing in English falls back to Chinese, a key
missing everywhere shows the key itself so it is noticed.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
LANG_COOKIE = "hotline_lang"
_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_DIR = Path(__file__).parent / "translations"


@cache
def catalogue(lang: str) -> dict[str, str]:
    path = _DIR / f"{lang if lang in LANGUAGES else DEFAULT}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def translate(lang: str, key: str, **values: Any) -> str:
    text = catalogue(lang).get(key) or catalogue(DEFAULT).get(key) or key
    return text.format(**values) if values else text


def pick_language(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT


def localize(lang: str, text: str) -> str:
    """One language of a domain message written "中文 / English": a Chinese screen shows the
    Chinese half only, an English one the English half. The English half is what follows the
    first " / " with no Chinese after it; a message in one language is returned as it is."""
    start = 0
    while (at := text.find(" / ", start)) != -1:
        head, tail = text[:at].rstrip(), text[at + 3 :].strip()
        if tail and _CHINESE.search(head) and not _CHINESE.search(tail):
            return tail if lang == "en" else head
        start = at + 3
    return text


def current_language() -> str:
    """The language of the request (or of the Socket.IO connection's handshake)."""
    from flask import g, has_request_context, request

    if not has_request_context():
        return DEFAULT
    return str(g.get("lang") or pick_language(request.cookies.get(LANG_COOKIE)))


def error_dict(err: Any) -> dict[str, Any]:
    """A domain error as a client receives it: its message in the user's language only."""
    data: dict[str, Any] = err.to_dict()
    data["message"] = localize(current_language(), str(data.get("message", "")))
    return data
