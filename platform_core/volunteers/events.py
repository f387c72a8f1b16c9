"""Past-tense events of volunteering."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class VolunteerRegistered(DomainEvent):
    volunteer_id: int
    region_code: str
    site_id: int


@dataclass(frozen=True)
class ActivityPublished(DomainEvent):
    activity_id: int
    region_code: str
    site_id: int
    title: str


@dataclass(frozen=True)
class VolunteerSignedUp(DomainEvent):
    activity_id: int
    region_code: str
    site_id: int
    volunteer_id: int


@dataclass(frozen=True)
class HoursConfirmed(DomainEvent):
    signup_id: int
    region_code: str
    site_id: int
    volunteer_id: int
    hours: str


@dataclass(frozen=True)
class VolunteerCheckedIn(DomainEvent):
    activity_id: int
    region_code: str
    site_id: int
    volunteer_id: int
    distance_m: int | None
