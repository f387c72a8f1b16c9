"""What a 盟市 configures about assessments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy.orm import Session

from platform_core.care_policy.service import policy_for
from platform_core.runtime import settings_of


@dataclass(frozen=True)
class AssessmentPolicy:
    section: ClassVar[str] = "assessment"

    # Months until the next routine assessment (default: HOTLINE_ASSESSMENT_INTERVAL_MONTHS).
    interval_months: int = 12
    # Records under MZ/T 039-2013 were due again after 6 months; they keep that rhythm.
    legacy_interval_months: int = 6
    reminder_lead_days: int = 30


def assessment_policy(session: Session, *, region_code: str) -> AssessmentPolicy:
    settings = settings_of(session)
    base = AssessmentPolicy(
        interval_months=settings.assessment_interval_months,
        reminder_lead_days=settings.assessment_reminder_lead_days,
    )
    return policy_for(session, AssessmentPolicy, region_code=region_code, base=base)
