"""Past-tense events of home adaptation."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class AdaptationStepTaken(DomainEvent):
    case_id: int
    elder_id: int
    region_code: str
    action: str
    status: str
