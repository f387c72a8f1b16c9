"""The online channel's KPIs, its own channel beside calls and alarms (never mixed into the
voice 接通率 of DOMAIN.md section 8, which counts calls only), pinned down here:

- Offered = conversations opened in the period (each asked for a person). One still waiting and
  younger than the answer target is not counted yet (its fate is unknown), as a caller still
  waiting is not.
- Answered = taken by an agent; answered within target = taken within ``chat_answer_target_s``
  of opening / counted (strict: one still waiting past the target, or withdrawn, is not).
- Abandoned = withdrawn by the sender before anyone took it / counted.
- Time to answer = from opening to being taken: mean, median and 90th percentile.
"""

from __future__ import annotations

from typing import Any, Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.chats.models import Chat
from platform_core.db import utcnow
from platform_core.kpi import ReportSpan, durations
from platform_core.regions.service import within
from platform_core.runtime import settings_of


def kpi(session: Session, **span: Unpack[ReportSpan]) -> dict[str, Any]:
    """The channel's KPIs of ``region_code`` and below for conversations opened in [start, end)."""
    start, end, region_code = span["start"], span["end"], span["region_code"]
    now = span.get("now") or utcnow()
    target = settings_of(session).chat_answer_target_s
    rows = session.execute(
        select(Chat.status, Chat.opened_at, Chat.taken_at).where(
            Chat.opened_at >= start, Chat.opened_at < end, within(Chat.region_code, region_code)
        )
    ).all()
    offered = pending = waiting_now = answered = within_target = abandoned = 0
    waits: list[float] = []
    for status, opened, taken in rows:
        offered += 1
        if status == "waiting":
            waiting_now += 1
            if (now - opened).total_seconds() < target:
                pending += 1
                continue
        if taken is not None:
            answered += 1
            wait = (taken - opened).total_seconds()
            waits.append(wait)
            if wait <= target:
                within_target += 1
        elif status == "abandoned":
            abandoned += 1
    counted = offered - pending

    def share(n: int) -> float | None:
        return round(n / counted, 4) if counted else None

    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "region_code": region_code,
        "target_s": target,
        "offered": offered,
        "pending": pending,
        "counted": counted,
        "waiting_now": waiting_now,
        "answered": answered,
        "answered_within_target": within_target,
        "abandoned": abandoned,
        "answer_rate": share(answered),
        "within_target_rate": share(within_target),
        "abandon_rate": share(abandoned),
        "time_to_answer": durations(waits),
    }
