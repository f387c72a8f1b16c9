"""Past-tense events of the elder profile (published after commit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class ElderRegistered(DomainEvent):
    elder_id: int
    region_code: str


@dataclass(frozen=True)
class ElderUpdated(DomainEvent):
    elder_id: int
    region_code: str
    fields: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class EmergencyContactAdded(DomainEvent):
    elder_id: int
    region_code: str
    contact_id: int


@dataclass(frozen=True)
class ElderMoved(DomainEvent):
    elder_id: int
    region_code: str
    moved_on: date


@dataclass(frozen=True)
class ElderDeceased(DomainEvent):
    """Services stop and the elder's devices are to be deactivated and recovered."""

    elder_id: int
    region_code: str
    died_on: date
