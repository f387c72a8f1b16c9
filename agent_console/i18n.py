"""A small message catalogue: one JSON file per language, Chinese first, English second.

Templates call ``t("key")``; scripts receive the active catalogue in the page so every label on
screen comes from the same files. A key missing in English falls back to Chinese, a key
missing everywhere shows the key itself so it is noticed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
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
