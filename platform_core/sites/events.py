"""Past-tense events of the service-site registry and day care."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class SiteRegistered(DomainEvent):
    site_id: int
    region_code: str
    kind: str
    name: str


@dataclass(frozen=True)
class SiteUpdated(DomainEvent):
    site_id: int
    region_code: str
    fields: list[str]


@dataclass(frozen=True)
class SiteStatusChanged(DomainEvent):
    site_id: int
    region_code: str
    status: str
    reason: str


@dataclass(frozen=True)
class DayCareCheckedIn(DomainEvent):
    site_id: int
    region_code: str  # the site's: its room on the console follows the site
    attendance_id: int
    elder_id: int
    present: int
    capacity: int | None


@dataclass(frozen=True)
class DayCareCheckedOut(DomainEvent):
    site_id: int
    region_code: str
    attendance_id: int
    elder_id: int
    present: int
    capacity: int | None


@dataclass(frozen=True)
class DayCareCapacityWarning(DomainEvent):
    """The elders present reached the warning share of the site's places (``near``) or all
    of them (``full``); published when a check-in crosses the line."""

    site_id: int
    region_code: str
    level: str
    present: int
    capacity: int
