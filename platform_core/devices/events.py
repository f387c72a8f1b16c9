"""Past-tense events of the device registry."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class DeviceRegistered(DomainEvent):
    device_id: int
    device_type: str
    region_code: str | None = None


@dataclass(frozen=True)
class DeviceBound(DomainEvent):
    device_id: int
    elder_id: int
    region_code: str


@dataclass(frozen=True)
class DeviceUnbound(DomainEvent):
    device_id: int
    elder_id: int
    region_code: str
    status: str


@dataclass(frozen=True)
class DeviceStatusChanged(DomainEvent):
    device_id: int
    region_code: str | None
    from_status: str
    to_status: str
    elder_id: int | None = None


@dataclass(frozen=True)
class MaintenanceTicketOpened(DomainEvent):
    """Maintenance staff are told: a repair with its on-site deadline, or a recovery."""

    ticket_id: int
    kind: str
    device_id: int
    region_code: str
    on_site_due_at: str


@dataclass(frozen=True)
class MaintenanceTicketOverdue(DomainEvent):
    ticket_id: int
    region_code: str
    on_site_due_at: str
    escalations: int


@dataclass(frozen=True)
class MaintenanceTicketResolved(DomainEvent):
    ticket_id: int
    region_code: str
    resolution: str
    free_of_charge: bool | None
