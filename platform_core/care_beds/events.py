"""Past-tense events of family care beds."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class CareBedStepTaken(DomainEvent):
    care_bed_id: int
    elder_id: int
    region_code: str
    action: str
    status: str
