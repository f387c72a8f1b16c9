"""Past-tense events of SLA timers: the supervisor's alert."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class SlaBreached(DomainEvent):
    order_id: int
    order_no: str
    region_code: str
    service_type_code: str
    urgency: str
    kind: str  # response / arrival
    due_at: str
    provider_id: int | None
    status: str
    escalated: bool
    redispatched: bool
