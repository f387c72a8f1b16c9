"""Past-tense events of social work."""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class SocialCaseReferred(DomainEvent):
    case_id: int
    case_no: str
    region_code: str
    elder_id: int
    source: str
    urgency: str


@dataclass(frozen=True)
class SocialCaseAssigned(DomainEvent):
    case_id: int
    case_no: str
    region_code: str
    worker_id: int
    worker_user_id: int


@dataclass(frozen=True)
class SocialCaseStepTaken(DomainEvent):
    case_id: int
    case_no: str
    region_code: str
    action: str
    status: str
    worker_user_id: int | None


@dataclass(frozen=True)
class SocialVisitOverdue(DomainEvent):
    """A case in service whose next visit is past due (the daily check, once a day)."""

    case_id: int
    case_no: str
    region_code: str
    worker_user_id: int | None
    due: str
    days_late: int
