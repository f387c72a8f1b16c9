"""Feed a file of raw AMI messages through the live handlers: rebuild records after an outage,
or check what a captured stream means.

The file is what was on the wire (CRLF or LF, messages separated by a blank line); action
blocks and responses a capture may contain are skipped. Times come from each event's
``Timestamp`` (timestampevents=yes); without it, from the moment of the replay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panoramisk.message import Message
from sqlalchemy import select

from callcenter.ami import AmiStats, parse_block, split_stream
from callcenter.pipeline import EventPipeline
from platform_core.calls.kpi import CallFacts, compute_kpis
from platform_core.calls.models import Call
from platform_core.runtime import Runtime


@dataclass
class ReplayResult:
    calls: list[dict[str, Any]]
    kpi: dict[str, Any]
    stats: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "kpi": self.kpi}


def read_messages(text: str, stats: AmiStats | None = None) -> list[Message]:
    out: list[Message] = []
    for block in split_stream(text):
        first = block.lstrip().split("\n", 1)[0]
        if first.lower().startswith("action:") or first.startswith("Asterisk Call Manager/"):
            continue
        out.extend(m for m in parse_block(block, stats) if "Event" in m)
    return out


def _linkedids(messages: list[Message]) -> list[str]:
    seen: dict[str, None] = {}
    for m in messages:
        linkedid = m.get("Linkedid") or m.get("Uniqueid")
        if linkedid and not isinstance(linkedid, list):
            seen.setdefault(str(linkedid))
    return list(seen)


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(float(value), 1)


def replay_file(runtime: Runtime, path: str | Path, *, batch: int = 500) -> ReplayResult:
    ami_stats = AmiStats()
    messages = read_messages(Path(path).read_text(encoding="utf-8", errors="replace"), ami_stats)
    pipeline = EventPipeline(runtime)
    now = time.time()
    try:
        for i in range(0, len(messages), batch):
            pipeline.process([(m, now, None) for m in messages[i : i + batch]])
    finally:
        pipeline.close()
    wanted = _linkedids(messages)
    with runtime.session() as s:
        rows = {c.linkedid: c for c in s.scalars(select(Call).where(Call.linkedid.in_(wanted)))}
        calls = [rows[x] for x in wanted if x in rows and rows[x].direction == "inbound"]
        out = [
            {
                "linkedid": c.linkedid,
                "caller": c.caller_number,
                "elder_id": c.elder_id,
                "queue": c.answered_queue or c.first_queue,
                "agent": c.member_name or c.agent_interface,
                "outcome": c.outcome,
                "wait_s": _number(c.wait_s),
                "talk_s": _number(c.talk_s),
            }
            for c in calls
        ]
        facts = [
            CallFacts(
                c.linkedid, c.queued_at, c.first_queue, c.outcome, c.wait_s, c.agent_interface
            )
            for c in calls
            if c.queued_at is not None
        ]
    settings = runtime.settings
    fig = compute_kpis(
        facts, service_level_s=settings.service_level_s, short_abandon_s=settings.short_abandon_s
    )
    kpi = {
        "offered": fig.offered,
        "answered": fig.answered,
        "abandoned": fig.abandoned,
        "answer_rate": fig.answer_rate,
        "service_level": fig.service_level,
        "asa_s": fig.asa_s,
    }
    stats = {
        "messages": len(messages),
        "ami": ami_stats.as_dict(),
        "pipeline": pipeline.stats.as_dict(),
    }
    return ReplayResult(calls=out, kpi=kpi, stats=stats)
