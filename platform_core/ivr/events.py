"""Past-tense events of the IVR."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class IvrSessionEnded(DomainEvent):
    region_code: str
    session_id: int
    uniqueid: str
    linkedid: str
    script: str
    outcome: str
    elder_id: int | None
    intent: str | None
    queue: str | None
    priority: int | None


@dataclass(frozen=True)
class CallbackRequested(DomainEvent):
    region_code: str
    session_id: int
    linkedid: str
    caller_number: str
    elder_id: int | None
    queue: str | None
    recall_id: int


@dataclass(frozen=True)
class SurveyAnswered(DomainEvent):
    region_code: str
    linkedid: str
    agent_interface: str
    score: int
