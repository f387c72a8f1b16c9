"""After every (re)connect: read what Asterisk has now and make the records agree.

Panoramisk never resyncs; here CoreShowChannels and QueueStatus are read right after login and
handed to ``calls.service.resync`` through the pipeline, behind every event already queued, with
the calls and agents that newer events touched meanwhile left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from panoramisk.message import Message

from callcenter.ami import AmiClient, ListResponse
from callcenter.events import member
from callcenter.pipeline import EventPipeline
from platform_core import clock
from platform_core.calls import service as calls
from platform_core.calls.schemas import LiveChannel, MemberState, WaitingCaller

log = logging.getLogger(__name__)


def _live_channel(m: Message) -> LiveChannel:
    uniqueid = str(m.get("Uniqueid", ""))
    return LiveChannel(
        channel=str(m.get("Channel", "")),
        uniqueid=uniqueid,
        linkedid=str(m.get("Linkedid") or uniqueid),
        application=str(m.get("Application", "")),
        bridge_id=str(m.get("BridgeId", "")),
        caller_number=str(m.get("CallerIDNum", "")),
        caller_name=str(m.get("CallerIDName", "")),
        context=str(m.get("Context", "")),
        duration_s=_duration(str(m.get("Duration", ""))),
    )


def _duration(value: str) -> int:
    """CoreShowChannel's ``HH:MM:SS``."""
    try:
        h, m, s = (int(x) for x in value.split(":"))
    except ValueError:
        return 0
    return h * 3600 + m * 60 + s


def _waiting(m: Message) -> WaitingCaller:
    def num(key: str) -> int:
        try:
            return int(str(m.get(key) or 0))
        except ValueError:
            return 0

    return WaitingCaller(
        queue=str(m.get("Queue", "")),
        position=num("Position"),
        channel=str(m.get("Channel", "")),
        uniqueid=str(m.get("Uniqueid", "")),
        caller_number=str(m.get("CallerIDNum", "")),
        caller_name=str(m.get("CallerIDName", "")),
        wait_s=num("Wait"),
        priority=num("Priority"),
    )


async def resync(ami: AmiClient, pipeline: EventPipeline) -> dict[str, int]:
    """Read the live state and queue the resync behind everything received so far."""
    window = pipeline.open_window()
    try:
        chans = await ami.send_action(
            {"Action": "CoreShowChannels"}, timeout=max(ami.action_timeout, 10)
        )
        status = await ami.send_action(
            {"Action": "QueueStatus"}, timeout=max(ami.action_timeout, 10)
        )
    except Exception:
        pipeline.close_window(window)
        raise
    channels = [_live_channel(m) for m in _items(chans) if m.get("Event") == "CoreShowChannel"]
    waiting: list[WaitingCaller] = []
    members: list[MemberState] = []
    queues: dict[str, dict[str, Any]] = {}
    for m in _items(status):
        kind = m.get("Event")
        if kind == "QueueEntry":
            waiting.append(_waiting(m))
        elif kind == "QueueMember":
            try:
                members.append(member(m))
            except ValueError:
                log.warning("无法解析的 QueueMember / unreadable QueueMember: %r", m)
        elif kind == "QueueParams":
            queues[str(m.get("Queue"))] = {
                "strategy": m.get("Strategy"),
                "weight": m.get("Weight"),
                "service_level": m.get("ServiceLevel"),
            }
    result: dict[str, int] = {}

    def apply(session: Any) -> None:
        pipeline.close_window(window)
        result.update(
            calls.resync(
                session,
                channels=channels,
                waiting=waiting,
                members=members,
                at=clock.now(),
                exempt_linkedids=window.linkedids,
                exempt_interfaces=window.interfaces,
                queues=queues,
            )
        )
        log.info("AMI 重新同步完成 / resynced: %s", result)

    pipeline.submit_marker(apply)
    return result


def _items(resp: Any) -> list[Message]:
    return resp.items if isinstance(resp, ListResponse) else []
