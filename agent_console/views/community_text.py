"""The words of the community pages (service sites, day care, social work, volunteers, the
online channel): their own catalogue (``templates/community/{zh,en}.json``) laid over the
console's, so ``t(...)`` in their templates and scripts finds both."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, g

from agent_console import i18n

_DIR = Path(__file__).resolve().parents[1] / "templates" / "community"


@cache
def messages(lang: str) -> dict[str, str]:
    name = lang if lang in i18n.LANGUAGES else i18n.DEFAULT
    zh: dict[str, str] = json.loads((_DIR / "zh.json").read_text(encoding="utf-8"))
    own = (
        zh
        if name == "zh"
        else {**zh, **json.loads((_DIR / f"{name}.json").read_text(encoding="utf-8"))}
    )
    return {**i18n.catalogue(name), **own}


def install(bp: Blueprint) -> None:
    """Templates rendered by ``bp`` read the community catalogue through ``t``."""

    @bp.context_processor
    def community_messages() -> dict[str, Any]:
        catalogue = messages(g.get("lang", i18n.DEFAULT))

        def t(key: str, **values: Any) -> str:
            text = catalogue.get(key) or messages(i18n.DEFAULT).get(key) or key
            return text.format(**values) if values else text

        return {"t": t, "catalogue": catalogue}
