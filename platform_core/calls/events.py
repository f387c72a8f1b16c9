"""Domain events of calls, queues, agents and recalls: everything a wallboard or an agent's
screen shows, published after the unit of work that changed it commits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class CallQueued(DomainEvent):
    type_name: ClassVar[str] = "CallQueued"
    linkedid: str
    queue: str
    caller_number: str
    caller_name: str
    elder_id: int | None
    priority: int
    intent: str | None
    joined_at: str
    position: int
    region_code: str


@dataclass(frozen=True)
class CallRinging(DomainEvent):
    """The screen pop: an agent's phone rings for this caller. Both the screen-pop service and the
    writer publish it; the first publication of a ring is the only one."""

    type_name: ClassVar[str] = "CallRinging"
    linkedid: str
    uniqueid: str
    queue: str
    agent_interface: str
    member_name: str
    caller_number: str
    caller_name: str
    elder_id: int | None
    intent: str | None
    priority: int
    region_code: str
    ring_uniqueid: str  # the ringing leg's channel: one ring of this call at this desk

    def once(self) -> str | None:
        return f"CallRinging:{self.linkedid}:{self.ring_uniqueid}"


@dataclass(frozen=True)
class CallRingEnded(DomainEvent):
    """An agent's phone stopped ringing for this caller without that agent answering: it rang
    out (``rang_out``), app_queue stopped it because a colleague answered or the ring moved on
    (``cancelled``), or the caller hung up (``caller_left``). The agent's screen drops the call."""

    type_name: ClassVar[str] = "CallRingEnded"
    linkedid: str
    agent_interface: str
    reason: str
    region_code: str


@dataclass(frozen=True)
class CallAnswered(DomainEvent):
    type_name: ClassVar[str] = "CallAnswered"
    linkedid: str
    queue: str
    agent_interface: str
    member_name: str
    caller_number: str
    elder_id: int | None
    wait_s: float | None
    region_code: str


@dataclass(frozen=True)
class CallAbandoned(DomainEvent):
    type_name: ClassVar[str] = "CallAbandoned"
    linkedid: str
    queue: str
    caller_number: str
    elder_id: int | None
    wait_s: float | None
    region_code: str


@dataclass(frozen=True)
class CallEnded(DomainEvent):
    type_name: ClassVar[str] = "CallEnded"
    linkedid: str
    outcome: str | None
    queue: str | None
    agent_interface: str | None
    caller_number: str
    elder_id: int | None
    wait_s: float | None
    talk_s: int | None
    region_code: str


@dataclass(frozen=True)
class AgentStateChanged(DomainEvent):
    type_name: ClassVar[str] = "AgentStateChanged"
    interface: str
    member_name: str
    state: str
    reason: str | None
    since: str
    previous: str | None
    linkedid: str | None
    queues: list[str]
    region_code: str


@dataclass(frozen=True)
class QueueStatsChanged(DomainEvent):
    type_name: ClassVar[str] = "QueueStatsChanged"
    queue: str
    waiting: int
    oldest_joined_at: str | None
    region_code: str


@dataclass(frozen=True)
class RecallOpened(DomainEvent):
    type_name: ClassVar[str] = "RecallOpened"
    recall_id: int
    linkedid: str
    number: str
    elder_id: int | None
    reason: str
    queue: str | None
    region_code: str


@dataclass(frozen=True)
class RecallClosed(DomainEvent):
    type_name: ClassVar[str] = "RecallClosed"
    recall_id: int
    number: str
    elder_id: int | None
    closed_reason: str
    by_linkedid: str | None
    region_code: str


@dataclass(frozen=True)
class RecallAttempted(DomainEvent):
    type_name: ClassVar[str] = "RecallAttempted"
    recall_id: int
    result: str
    attempts: int
    region_code: str
