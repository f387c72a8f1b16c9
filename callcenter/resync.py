"""Read what Asterisk has now and make the records agree: after every (re)connect, after the
database comes back from an outage, and on a period.

Panoramisk never resyncs; here CoreShowChannels and QueueStatus are read and handed to
``calls.resync.resync`` through the pipeline, behind every event already queued, with the
calls and agents that newer events touched meanwhile left alone. Each list item is read on its
own: an item or a field that cannot be read is logged, counted and left out, and the rest of
the resync still applies.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from panoramisk.message import Message
from sqlalchemy import event as sa_event

from callcenter.ami import AmiClient, ListResponse, fields_of
from callcenter.events import member
from callcenter.pipeline import EventPipeline
from callcenter.queue_log import QueueLogFollower
from platform_core import clock
from platform_core.calls import resync as calls_resync
from platform_core.calls.schemas import (
    LiveChannel,
    MemberState,
    QueueParams,
    WaitingCaller,
)
from platform_core.db import fit_channel_id

log = logging.getLogger(__name__)

# Largest count or duration a QueueStatus field may carry into an integer column.
_INT_MAX = 2**31 - 1


class ResyncStats(Counter[str]):
    """Items and fields a resync could not read (left out, never fatal)."""


def _text(m: Any, key: str, limit: int | None = 128) -> str:
    value = m.get(key)
    if isinstance(value, list):
        value = value[-1]
    return "" if value is None else str(value).replace("\x00", "")[:limit]


def _number(m: Any, key: str, stats: ResyncStats, kind: str) -> int | None:
    """An integer field, or None (counted) when it holds something else."""
    raw = _text(m, key).strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not -_INT_MAX <= value <= _INT_MAX:
        stats[f"{kind}.{key}"] += 1
        log.warning(
            "重新同步: %s 的 %s=%.40r 无法读取, 略去 / resync: unreadable field", kind, key, raw
        )
        return None
    return value


def _duration(value: str) -> int:
    """CoreShowChannel's ``HH:MM:SS``."""
    try:
        h, m, s = (int(x) for x in value.split(":"))
    except ValueError:
        return 0
    return max(0, h * 3600 + m * 60 + s)


def _live_channel(m: Any) -> LiveChannel:
    uniqueid = fit_channel_id(_text(m, "Uniqueid", None))
    return LiveChannel(
        channel=_text(m, "Channel"),
        uniqueid=uniqueid,
        linkedid=fit_channel_id(_text(m, "Linkedid", None)) or uniqueid,
        application=_text(m, "Application", 80),
        bridge_id=_text(m, "BridgeId", 80),
        caller_number=_text(m, "CallerIDNum", 40),
        caller_name=_text(m, "CallerIDName", 80),
        context=_text(m, "Context", 80),
        duration_s=_duration(_text(m, "Duration")),
    )


def _waiting(m: Any, stats: ResyncStats) -> WaitingCaller:
    return WaitingCaller(
        queue=_text(m, "Queue", 64),
        position=_number(m, "Position", stats, "QueueEntry") or 0,
        channel=_text(m, "Channel"),
        uniqueid=fit_channel_id(_text(m, "Uniqueid", None)),
        caller_number=_text(m, "CallerIDNum", 40),
        caller_name=_text(m, "CallerIDName", 80),
        wait_s=_number(m, "Wait", stats, "QueueEntry") or 0,
        priority=_number(m, "Priority", stats, "QueueEntry") or 0,
    )


def _queue_params(m: Any, stats: ResyncStats) -> QueueParams:
    strategy = _text(m, "Strategy", 20)
    return QueueParams(
        name=_text(m, "Queue", 64),
        strategy=strategy or None,
        weight=_number(m, "Weight", stats, "QueueParams"),
        service_level_s=_number(m, "ServiceLevel", stats, "QueueParams"),
    )


def read_lists(chans: Any, status: Any, stats: ResyncStats) -> dict[str, Any]:
    """The typed content of CoreShowChannels and QueueStatus; what cannot be read is left out."""
    channels: list[LiveChannel] = []
    waiting: list[WaitingCaller] = []
    members: list[MemberState] = []
    queues: list[QueueParams] = []
    for m in _items(chans):
        if m.get("Event") != "CoreShowChannel":
            continue
        item = _read(_live_channel, m, stats)
        if item is not None and item.uniqueid:
            channels.append(item)
    for m in _items(status):
        kind = m.get("Event")
        if kind == "QueueEntry":
            entry = _read(lambda x: _waiting(x, stats), m, stats)
            if entry is not None and entry.uniqueid and entry.queue:
                waiting.append(entry)
        elif kind == "QueueMember":
            state = _read(member, fields_of(m), stats)
            if state is not None:
                members.append(state)
        elif kind == "QueueParams":
            params = _read(lambda x: _queue_params(x, stats), m, stats)
            if params is not None and params.name:
                queues.append(params)
    return {"channels": channels, "waiting": waiting, "members": members, "queues": queues}


def _read(parse: Any, m: Any, stats: ResyncStats) -> Any:
    try:
        return parse(m)
    except Exception as exc:  # noqa: BLE001 - one unreadable item never costs the others
        stats[f"{m.get('Event')}.unreadable"] += 1
        log.warning(
            "重新同步: 无法读取的 %s, 略去 / resync: unreadable item: %s", m.get("Event"), exc
        )
        return None


async def resync(
    ami: AmiClient,
    pipeline: EventPipeline,
    stats: ResyncStats | None = None,
    *,
    on_applied: Callable[[dict[str, int]], None] | None = None,
    queue_log: QueueLogFollower | None = None,
) -> dict[str, int]:
    """Read the live state (and what ``queue_log`` gained since the last read) and queue the
    resync behind everything received so far; ``on_applied`` runs on the writer thread with
    its counts once it is applied.

    Raises what the actions raise (AmiActionTimeout, AmiConnectionLost, AmiNotConnected)."""
    stats = stats if stats is not None else ResyncStats()
    window = pipeline.open_window()
    try:
        lists_at = clock.now()
        chans = await ami.send_action(
            {"Action": "CoreShowChannels"}, timeout=max(ami.action_timeout, 10)
        )
        status = await ami.send_action(
            {"Action": "QueueStatus"}, timeout=max(ami.action_timeout, 10)
        )
        lists = read_lists(chans, status, stats)
        # after the lists: a caller gone from them has every queue_log line of theirs written
        histories = (
            await asyncio.to_thread(queue_log.read_histories) if queue_log is not None else []
        )
    except BaseException:
        pipeline.close_window(window)
        raise
    result: dict[str, int] = {}

    def apply(session: Any) -> None:
        pipeline.close_window(window)
        settled: set[str] = set()
        result.update(
            calls_resync.resync(
                session,
                at=clock.now(),
                exempt_linkedids=window.linkedids,
                exempt_interfaces=window.interfaces,
                histories=histories,
                lists_at=lists_at,
                settled=settled,
                **lists,
            )
        )
        if queue_log is not None:
            # once committed: a unit of work rolled back (its session is dropped) settles nothing
            sa_event.listen(
                session, "after_commit", lambda _s: queue_log.settled(settled), once=True
            )
        log.info("AMI 重新同步完成 / resynced: %s", result)
        if on_applied is not None:
            on_applied(result)

    pipeline.submit_marker(apply)
    return result


def _items(resp: Any) -> list[Message]:
    return resp.items if isinstance(resp, ListResponse) else []
