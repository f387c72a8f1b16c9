"""Typed AMI events with Asterisk's names, built from the messages the adapter delivers.

Only the events callcenter acts on are typed; every other event is counted and dropped by the
reader before it costs anything more. A message that lacks a field an event needs, or holds one
no record can keep (a number that is no finite integer, out of a column's range; a queue or an
interface name longer than its column), raises :class:`MalformedEvent` (counted, logged, never
fatal). Text loses NUL characters (PostgreSQL refuses them), names are cut to their columns and
channel ids are fitted (:func:`platform_core.db.fit_channel_id`), so one odd caller
name never costs a call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from panoramisk.message import Message

from callcenter.ami import fields_of
from platform_core.calls.schemas import (
    HOTLINE_VARIABLES,
    INTERFACE_MAX,
    QUEUE_MAX,
    ChannelRef,
    MemberState,
)
from platform_core.db import fit_channel_id

# The widest integer column an event's number lands in (PostgreSQL's integer).
INT_MAX = 2**31 - 1


class MalformedEvent(ValueError):
    """An event without a field it must carry, or with one no record can hold."""


def _get(m: Message, key: str, default: str | None = None) -> str:
    value = m.get(key)
    if isinstance(value, list):
        value = value[-1]
    if value is None:
        if default is None:
            raise MalformedEvent(f"{m.get('Event')}: 缺少字段 {key} / missing field {key}")
        return default
    value = str(value)
    return value.replace("\x00", "") if "\x00" in value else value


def _name(m: Message, key: str, default: str | None = None, *, limit: int = QUEUE_MAX) -> str:
    """A queue or interface name: refused when longer than its column (it is no name of ours)."""
    value = _get(m, key, default)
    if len(value) > limit:
        raise MalformedEvent(
            f"{m.get('Event')}: {key} 超过 {limit} 字符 / longer than {limit} characters"
        )
    return value


def _int(m: Message, key: str, default: int | None = None) -> int:
    raw = _get(m, key, None if default is None else str(default)).strip()
    if not raw:
        return default or 0
    try:
        number = int(raw)
    except ValueError:
        try:
            real = float(raw)
        except ValueError:
            real = math.nan
        if not math.isfinite(real):
            raise MalformedEvent(
                f"{m.get('Event')}: {key}={raw[:40]!r} 不是数字 / not a finite number"
            ) from None
        number = int(real)
    if not -INT_MAX <= number <= INT_MAX:
        raise MalformedEvent(f"{m.get('Event')}: {key}={raw[:40]!r} 超出范围 / out of range")
    return number


def event_time(m: Message, received_at: float) -> datetime:
    """Asterisk's own Timestamp (timestampevents=yes) when present, else when it was read."""
    raw = m.get("Timestamp")
    if raw and not isinstance(raw, list):
        try:
            return datetime.fromtimestamp(float(raw), UTC)
        except (ValueError, OverflowError):
            pass
    return datetime.fromtimestamp(received_at, UTC)


def chan_variables(m: Message, prefix: str = "") -> dict[str, str]:
    raw = m.get(prefix + "ChanVariable")
    if raw is None:
        return {}
    out: dict[str, str] = {}
    for item in raw if isinstance(raw, list) else [raw]:
        name, sep, value = str(item).partition("=")
        if sep and name in HOTLINE_VARIABLES and value:
            out[name] = value
    return out


def channel(m: Message, prefix: str = "") -> ChannelRef:
    uniqueid = fit_channel_id(_get(m, prefix + "Uniqueid"))
    # Asterisk 11 had no Linkedid
    linkedid = fit_channel_id(_get(m, prefix + "Linkedid", "")) or uniqueid
    return ChannelRef(
        channel=_get(m, prefix + "Channel", "")[:128],
        uniqueid=uniqueid,
        linkedid=linkedid,
        caller_number=_get(m, prefix + "CallerIDNum", "")[:40],
        caller_name=_get(m, prefix + "CallerIDName", "")[:80],
        context=_get(m, prefix + "Context", "")[:80],
        exten=_get(m, prefix + "Exten", "")[:80],
        variables=chan_variables(m, prefix),
    )


def member(m: Message) -> MemberState:
    return MemberState(
        queue=_name(m, "Queue"),
        interface=_name(m, "Interface", "", limit=INTERFACE_MAX)
        or _name(m, "Location", limit=INTERFACE_MAX),
        member_name=(_get(m, "MemberName", "") or _get(m, "Name", ""))[:80],
        status=_int(m, "Status", 0),
        paused=_get(m, "Paused", "0").strip() in ("1", "true", "yes"),
        paused_reason=_get(m, "PausedReason", "")[:40],
        in_call=_get(m, "InCall", "0").strip() == "1",
        penalty=_int(m, "Penalty", 0),
        calls_taken=_int(m, "CallsTaken", 0),
        membership=_get(m, "Membership", "dynamic")[:10],
        login_time=_int(m, "LoginTime", 0),
    )


@dataclass(frozen=True, slots=True)
class AmiEvent:
    name: ClassVar[str] = ""
    at: datetime

    @property
    def linkedid(self) -> str | None:
        chan = getattr(self, "chan", None)
        return chan.linkedid if chan is not None else None

    @property
    def interface(self) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class Newchannel(AmiEvent):
    name: ClassVar[str] = "Newchannel"
    chan: ChannelRef


@dataclass(frozen=True, slots=True)
class VarSet(AmiEvent):
    name: ClassVar[str] = "VarSet"
    chan: ChannelRef
    variable: str
    value: str


@dataclass(frozen=True, slots=True)
class Hangup(AmiEvent):
    name: ClassVar[str] = "Hangup"
    chan: ChannelRef
    cause: int


@dataclass(frozen=True, slots=True)
class _QueueCallerEvent(AmiEvent):
    # a caller joining or leaving a queue: Asterisk gives both events the same fields
    chan: ChannelRef
    queue: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerJoin(_QueueCallerEvent):
    name: ClassVar[str] = "QueueCallerJoin"


@dataclass(frozen=True, slots=True)
class QueueCallerLeave(_QueueCallerEvent):
    name: ClassVar[str] = "QueueCallerLeave"


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(AmiEvent):
    name: ClassVar[str] = "QueueCallerAbandon"
    chan: ChannelRef
    queue: str
    position: int
    original_position: int
    hold_time: int


@dataclass(frozen=True, slots=True)
class _AgentEvent(AmiEvent):
    chan: ChannelRef
    dest: ChannelRef
    queue: str
    member_interface: str
    member_name: str

    @property
    def interface(self) -> str | None:
        return self.member_interface


@dataclass(frozen=True, slots=True)
class AgentCalled(_AgentEvent):
    name: ClassVar[str] = "AgentCalled"


@dataclass(frozen=True, slots=True)
class AgentConnect(_AgentEvent):
    name: ClassVar[str] = "AgentConnect"
    hold_time: int = 0
    ring_time: int = 0  # seconds


@dataclass(frozen=True, slots=True)
class AgentComplete(_AgentEvent):
    name: ClassVar[str] = "AgentComplete"
    hold_time: int = 0
    talk_time: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(_AgentEvent):
    name: ClassVar[str] = "AgentRingNoAnswer"
    ring_time_ms: int = 0  # milliseconds on the wire, whatever the docs say


@dataclass(frozen=True, slots=True)
class _MemberEvent(AmiEvent):
    member: MemberState

    @property
    def interface(self) -> str | None:
        return self.member.interface


@dataclass(frozen=True, slots=True)
class QueueMemberStatus(_MemberEvent):
    name: ClassVar[str] = "QueueMemberStatus"


@dataclass(frozen=True, slots=True)
class QueueMemberPause(_MemberEvent):
    name: ClassVar[str] = "QueueMemberPause"


@dataclass(frozen=True, slots=True)
class QueueMemberAdded(_MemberEvent):
    name: ClassVar[str] = "QueueMemberAdded"


@dataclass(frozen=True, slots=True)
class QueueMemberRemoved(_MemberEvent):
    name: ClassVar[str] = "QueueMemberRemoved"


@dataclass(frozen=True, slots=True)
class DialEnd(AmiEvent):
    name: ClassVar[str] = "DialEnd"
    chan: ChannelRef
    dest: ChannelRef
    dial_status: str


def _agent_fields(m: Message) -> dict[str, Any]:
    return {
        "chan": channel(m),
        "dest": channel(m, "Dest"),
        "queue": _name(m, "Queue"),
        "member_interface": _name(m, "Interface", limit=INTERFACE_MAX),
        "member_name": _get(m, "MemberName", "")[:80],
    }


def _queue_caller_fields(m: Message) -> dict[str, Any]:
    return {
        "chan": channel(m),
        "queue": _name(m, "Queue"),
        "position": _int(m, "Position", 0),
        "count": _int(m, "Count", 0),
    }


_BUILDERS: dict[str, Callable[[Message, datetime], AmiEvent]] = {
    "Newchannel": lambda m, at: Newchannel(at=at, chan=channel(m)),
    "VarSet": lambda m, at: VarSet(
        at=at, chan=channel(m), variable=_get(m, "Variable"), value=_get(m, "Value", "")
    ),
    "Hangup": lambda m, at: Hangup(at=at, chan=channel(m), cause=_int(m, "Cause", 0)),
    "QueueCallerJoin": lambda m, at: QueueCallerJoin(at=at, **_queue_caller_fields(m)),
    "QueueCallerLeave": lambda m, at: QueueCallerLeave(at=at, **_queue_caller_fields(m)),
    "QueueCallerAbandon": lambda m, at: QueueCallerAbandon(
        at=at,
        chan=channel(m),
        queue=_name(m, "Queue"),
        position=_int(m, "Position", 0),
        original_position=_int(m, "OriginalPosition", 0),
        hold_time=_int(m, "HoldTime", 0),
    ),
    "AgentCalled": lambda m, at: AgentCalled(at=at, **_agent_fields(m)),
    "AgentConnect": lambda m, at: AgentConnect(
        at=at,
        **_agent_fields(m),
        hold_time=_int(m, "HoldTime", 0),
        ring_time=_int(m, "RingTime", 0),
    ),
    "AgentComplete": lambda m, at: AgentComplete(
        at=at,
        **_agent_fields(m),
        hold_time=_int(m, "HoldTime", 0),
        talk_time=_int(m, "TalkTime", 0),
        reason=_get(m, "Reason", "").strip().split(" ")[0],
    ),
    "AgentRingNoAnswer": lambda m, at: AgentRingNoAnswer(
        at=at, **_agent_fields(m), ring_time_ms=_int(m, "RingTime", 0)
    ),
    "QueueMemberStatus": lambda m, at: QueueMemberStatus(at=at, member=member(m)),
    "QueueMemberPause": lambda m, at: QueueMemberPause(at=at, member=member(m)),
    "QueueMemberAdded": lambda m, at: QueueMemberAdded(at=at, member=member(m)),
    "QueueMemberRemoved": lambda m, at: QueueMemberRemoved(at=at, member=member(m)),
    "DialEnd": lambda m, at: DialEnd(
        at=at, chan=channel(m), dest=channel(m, "Dest"), dial_status=_get(m, "DialStatus", "")
    ),
}

TYPED_EVENTS = frozenset(_BUILDERS)

# What callcenter's AMI reader parses at all: the typed events, what the adapter and commands
# wait for, and the items of the list actions the resync sends.
ACCEPTED_EVENTS = TYPED_EVENTS | {
    "UserEvent",
    "OriginateResponse",
    "FullyBooted",
    "Shutdown",
    "QueueParams",
    "QueueMember",
    "QueueEntry",
    "QueueStatusComplete",
    "QueueSummary",
    "QueueSummaryComplete",
    "CoreShowChannel",
    "CoreShowChannelsComplete",
}


def wanted(m: Message) -> bool:
    """Cheap test the reader makes before queueing: is this an event callcenter acts on?"""
    name = m.get("Event")
    if name not in _BUILDERS:
        return False
    if name == "VarSet":
        return m.get("Variable") in HOTLINE_VARIABLES
    return True


def parse_event(m: Message, received_at: float) -> AmiEvent:
    """The typed event for a wanted message (raises MalformedEvent)."""
    f = fields_of(m)
    name = str(f.get("Event"))
    return _BUILDERS[name](f, event_time(f, received_at))  # type: ignore[arg-type]
