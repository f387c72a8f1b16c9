"""Past-tense events of assessments (published after commit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class AssessmentRecorded(DomainEvent):
    assessment_id: int
    elder_id: int
    region_code: str
    final_grade: str  # AbilityGrade key: intact, mild, moderate, severe, complete
    previous_grade: str | None
    legacy: bool = False


@dataclass(frozen=True)
class ReassessmentDue(DomainEvent):
    assessment_id: int
    elder_id: int
    region_code: str
    due_on: date


@dataclass(frozen=True)
class AssessmentRequested(DomainEvent):
    request_id: int
    elder_id: int
    region_code: str
    reason: str
    source: str


@dataclass(frozen=True)
class AssessmentRequestClosed(DomainEvent):
    request_id: int
    elder_id: int
    region_code: str
    status: str  # done, cancelled
    assessment_id: int | None
