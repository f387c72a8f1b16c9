"""Past-tense events of alarms (published after commit; the console relays them)."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class AlarmRaised(DomainEvent):
    alarm_id: int
    device_id: int
    elder_id: int | None
    region_code: str
    alarm_type: str
    priority: int
    received_at: str
    unbound: bool = False
    reopened: bool = False


@dataclass(frozen=True)
class AlarmRepeated(DomainEvent):
    """Repeats folded into an open alarm (announced at most every alarm_repeat_notify_s)."""

    alarm_id: int
    region_code: str
    signal_count: int


@dataclass(frozen=True)
class AlarmRestored(DomainEvent):
    alarm_id: int
    region_code: str
    closed: bool


@dataclass(frozen=True)
class AlarmTaken(DomainEvent):
    alarm_id: int
    region_code: str
    user_id: int | None
    handler: str
    wait_s: float


@dataclass(frozen=True)
class AlarmStepRecorded(DomainEvent):
    alarm_id: int
    region_code: str
    step: str
    result: str
    seq: int
    handler_user_id: int | None


@dataclass(frozen=True)
class AlarmTimerExpired(DomainEvent):
    """A rung's timer ran out: ``level`` says who is prompted (the agent, then a supervisor)."""

    alarm_id: int
    region_code: str
    rung: str
    level: str
    handler_user_id: int | None
    waited_s: float  # since the alarm was received


@dataclass(frozen=True)
class AlarmClosed(DomainEvent):
    alarm_id: int
    region_code: str
    outcome: str
    closed_by: str


@dataclass(frozen=True)
class AlarmOffered(DomainEvent):
    """A waiting alarm is reserved for one agent's desk until ``expires_at``."""

    alarm_id: int
    offer_id: int
    region_code: str
    user_id: int
    agent_name: str
    alarm_type: str
    priority: int
    received_at: str
    expires_at: str
    unbound: bool = False
    assigned_by: str | None = None


@dataclass(frozen=True)
class AlarmOfferEnded(DomainEvent):
    """A reservation ended: ``taken``, ``lapsed`` (not taken in time: supervisors are told and
    the next agent is offered the alarm) or ``withdrawn`` (someone else took it, or it closed)."""

    alarm_id: int
    offer_id: int
    region_code: str
    user_id: int
    agent_name: str
    outcome: str
    waited_s: float  # since the alarm was raised


@dataclass(frozen=True)
class AlarmDispatchNeedsDecision(DomainEvent):
    """The alarm's emergency order found no provider within reach, or none accepted it: a
    person chooses (widen the radius, call 120, send the key holder)."""

    alarm_id: int
    region_code: str
    order_id: int | None
    issue: str
    handler_user_id: int | None
