"""Past-tense events of providers and their staff."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class ProviderRegistered(DomainEvent):
    provider_id: int
    region_code: str
    name: str
    service_type_codes: list[str]
    coverage_codes: list[str]


@dataclass(frozen=True)
class ProviderUpdated(DomainEvent):
    provider_id: int
    region_code: str
    fields: list[str]


@dataclass(frozen=True)
class ProviderStatusChanged(DomainEvent):
    provider_id: int
    region_code: str
    from_status: str
    to_status: str
    reason: str
    by: str


@dataclass(frozen=True)
class StaffAdded(DomainEvent):
    staff_id: int
    provider_id: int
    region_code: str
    name: str
    skills: list[str]


@dataclass(frozen=True)
class StaffUpdated(DomainEvent):
    staff_id: int
    provider_id: int
    region_code: str
    active: bool
    skills: list[str]
