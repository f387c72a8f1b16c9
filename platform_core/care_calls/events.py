"""Past-tense events of proactive care calls."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class CareCampaignCreated(DomainEvent):
    region_code: str
    campaign_id: int
    name: str
    calls: int


@dataclass(frozen=True)
class CareCallAttempted(DomainEvent):
    region_code: str
    care_call_id: int
    elder_id: int
    attempt_no: int
    result: str
    campaign_id: int | None = None


@dataclass(frozen=True)
class CareHelpRequested(DomainEvent):
    """The elder pressed "I need help" (or said nothing): a person takes the call at once."""

    region_code: str
    care_call_id: int
    elder_id: int
    uniqueid: str | None
    campaign_id: int | None = None


@dataclass(frozen=True)
class CareCallUnreachable(DomainEvent):
    """Every attempt went unanswered: the first emergency contact is told and a visit ordered."""

    region_code: str
    care_call_id: int
    elder_id: int
    attempts: int
    visit_order_id: int | None
    notice_id: int | None
    campaign_id: int | None = None


@dataclass(frozen=True)
class CareCampaignFinished(DomainEvent):
    region_code: str
    campaign_id: int
    well: int
    needs_help: int
    unreachable: int
