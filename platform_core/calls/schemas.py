"""Plain input shapes for the call services (built by callcenter from AMI messages)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Caller IDs that are no number at all.
NO_NUMBER = frozenset({"", "<unknown>", "unknown", "anonymous", "restricted", "unavailable"})

QUEUE_MAX = 64
INTERFACE_MAX = 80


# Channel variables the IVR sets and the dialplan reads (asterisk_conf/extensions.conf).
HOTLINE_VARIABLES = frozenset(
    {
        "HOTLINE_ELDER_ID",
        "HOTLINE_INTENT",
        "HOTLINE_PRIORITY",
        "HOTLINE_QUEUE",
        "HOTLINE_RECALL_ID",
        "HOTLINE_AFTER_HOURS",
        "HOTLINE_IVR_SESSION",
        "QUEUESTATUS",
    }
)


@dataclass(frozen=True)
class ChannelRef:
    """A channel as an AMI snapshot block describes it."""

    channel: str
    uniqueid: str
    linkedid: str
    caller_number: str = ""
    caller_name: str = ""
    context: str = ""
    exten: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberState:
    """One member of one queue, as QueueMemberStatus / QueueMember print it."""

    queue: str
    interface: str
    member_name: str = ""
    status: int = 0
    paused: bool = False
    paused_reason: str = ""
    in_call: bool = False
    penalty: int = 0
    calls_taken: int = 0
    membership: str = "dynamic"
    login_time: int = 0


@dataclass(frozen=True)
class WaitingCaller:
    """A QueueEntry item of QueueStatus."""

    queue: str
    position: int
    channel: str
    uniqueid: str
    caller_number: str
    caller_name: str
    wait_s: int
    priority: int


@dataclass(frozen=True)
class LiveChannel:
    """A CoreShowChannel item."""

    channel: str
    uniqueid: str
    linkedid: str
    application: str
    bridge_id: str
    caller_number: str = ""
    caller_name: str = ""
    context: str = ""
    duration_s: int = 0


@dataclass(frozen=True)
class QueueParams:
    """A QueueParams item of QueueStatus (a field that could not be read is None)."""

    name: str
    strategy: str | None = None
    weight: int | None = None
    service_level_s: int | None = None
