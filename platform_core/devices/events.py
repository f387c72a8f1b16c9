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
