"""Every export of personal data says who exported it and when (a watermark on the file), and
the export itself is an audit record (GB/T 35273: exports are traceable to a person)."""

from __future__ import annotations

from platform_core import clock
from platform_core.actors import ROLE_LABELS, Actor


def watermark(actor: Actor, tz: str = clock.DEFAULT_TIMEZONE) -> str:
    """``导出人 wangfang (坐席, 用户 7) 2026-12-06 21:40 北京时间 · 仅限工作使用, 不得外传``."""
    role = ROLE_LABELS.get(actor.role, actor.kind) if actor.role else actor.kind
    who = f"{actor.name} ({role}{f', 用户 {actor.user_id}' if actor.user_id else ''})"
    at = clock.local(clock.now(), tz).strftime("%Y-%m-%d %H:%M")
    return f"导出人 {who} {at} 北京时间 · 仅限工作使用, 不得外传 / exported by {actor.name}"
