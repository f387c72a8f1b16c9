"""Plain input shapes for the call services (built by callcenter from AMI messages)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

# Caller IDs that are no number at all.
NO_NUMBER = frozenset({"", "<unknown>", "unknown", "anonymous", "restricted", "unavailable"})


def shown_caller_id(value: str) -> str:
    """A caller id as a call records it: empty when the network withheld it."""
    return value if value.lower() not in NO_NUMBER else ""


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


class AgentLeg(TypedDict):
    """A queue member's leg of a call as the Agent* events name it (caller's channel, the
    member's channel, the queue, the member): what calls.service's record_agent_called,
    record_ring_no_answer, record_connect and record_complete take as keywords (``**leg``)."""

    chan: ChannelRef
    dest: ChannelRef
    queue: str
    interface: str
    member_name: str


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


@dataclass
class QueueStay:
    """One stay of a caller in one queue, as Asterisk's queue_log records it: entered, then
    connected to a member (and completed or transferred), abandoned, or timed out."""

    queue: str
    entered_at: datetime
    position: int = 0
    ended_at: datetime | None = None
    outcome: str | None = None  # answered, abandoned, timeout (left unanswered)
    member_name: str = ""  # the member who answered (queue_log names members by MemberName)
    member_uniqueid: str = ""  # the answering desk's leg
    hold_s: int | None = None
    talk_s: int | None = None
    complete_reason: str | None = None  # caller, agent, transfer (the talk is over)
    connected_at: datetime | None = None
    rang_out: list[tuple[str, int, datetime]] = field(default_factory=list)  # name, ms, when

    @property
    def closed(self) -> bool:
        """Nothing more will be written about this stay."""
        if self.outcome == "answered":
            return self.complete_reason is not None
        return self.outcome is not None


@dataclass
class QueueHistory:
    """What queue_log holds about one caller channel (its Uniqueid), in order."""

    uniqueid: str
    caller_number: str
    stays: list[QueueStay]
    last_at: datetime

    @property
    def first_at(self) -> datetime:
        return self.stays[0].entered_at

    @property
    def closed(self) -> bool:
        return bool(self.stays) and all(s.closed for s in self.stays)
