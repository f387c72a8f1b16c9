"""Alarm KPIs beside the call KPIs (DOMAIN.md section 8), pinned down here:

- Counted: alarms a person must answer (every type but low battery and link fault, which go to
  maintenance), received in the period, not suppressed. An alarm still waiting and younger than
  the longest threshold is not counted yet (its fate is unknown), as a caller still waiting is not.
- Answered within T = first handled by a person (taken) within T seconds of our receiving it
  / counted. Strict: an alarm nobody took, or closed by the system, is not answered.
  Targets from ``alarm_answer_targets`` (97.5 % within 60 s, 99 % within 180 s).
- Time to answer, to first action (the first step of the ladder or a family SMS) and to on-site
  arrival (a person recorded on site, or the emergency order's check-in, whichever came first),
  each from the alarm's receipt: mean, median and 90th percentile over the alarms that have one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.alarms.config import answer_targets
from platform_core.alarms.models import Alarm
from platform_core.alarms.vocabulary import NEEDS_PERSON, AlarmStatus
from platform_core.db import utcnow
from platform_core.kpi import ReportSpan, durations
from platform_core.orders.models import ServiceOrder
from platform_core.regions.service import within
from platform_core.runtime import settings_of


@dataclass
class AlarmKpi:
    start: datetime
    end: datetime
    region_code: str
    targets: list[tuple[int, float]]
    raised: int = 0
    technical: int = 0
    suppressed: int = 0
    pending: int = 0
    counted: int = 0
    answered: dict[int, int] = field(default_factory=dict)
    to_answer: list[float] = field(default_factory=list)
    to_first_action: list[float] = field(default_factory=list)
    to_on_site: list[float] = field(default_factory=list)
    by_type: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    waiting_now: int = 0

    def share(self, threshold: int) -> float | None:
        return self.answered.get(threshold, 0) / self.counted if self.counted else None

    def as_dict(self) -> dict[str, Any]:
        within_ = []
        for threshold, target in self.targets:
            share = self.share(threshold)
            within_.append(
                {
                    "seconds": threshold,
                    "answered": self.answered.get(threshold, 0),
                    "share": None if share is None else round(share, 4),
                    "target": target,
                    "met": None if share is None else share >= target,
                }
            )
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "region_code": self.region_code,
            "raised": self.raised,
            "counted": self.counted,
            "pending": self.pending,
            "technical": self.technical,
            "suppressed": self.suppressed,
            "waiting_now": self.waiting_now,
            "answered_within": within_,
            "time_to_answer": durations(self.to_answer),
            "time_to_first_action": durations(self.to_first_action),
            "time_to_on_site": durations(self.to_on_site),
            "by_type": dict(sorted(self.by_type.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
        }


def kpi(session: Session, **span: Unpack[ReportSpan]) -> dict[str, Any]:
    """The alarm KPIs of ``region_code`` and below for alarms received in [start, end)."""
    return compute(session, **span).as_dict()


def compute(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    region_code: str,
    now: datetime | None = None,
) -> AlarmKpi:
    now = now or utcnow()
    targets = answer_targets(settings_of(session))
    longest = max((t for t, _ in targets), default=180)
    report = AlarmKpi(start, end, region_code, targets)
    rows = session.execute(
        select(
            Alarm.alarm_type,
            Alarm.status,
            Alarm.received_at,
            Alarm.taken_at,
            Alarm.first_action_at,
            Alarm.on_site_at,
            Alarm.outcome,
            ServiceOrder.checked_in_at,
        )
        .outerjoin(ServiceOrder, ServiceOrder.id == Alarm.order_id)
        .where(
            Alarm.received_at >= start,
            Alarm.received_at < end,
            within(Alarm.region_code, region_code),
        )
    ).all()
    for alarm_type, status, received, taken, first_action, on_site, outcome, checked_in in rows:
        if status == AlarmStatus.SUPPRESSED:
            report.suppressed += 1
            continue
        report.raised += 1
        report.by_type[alarm_type] += 1
        if outcome:
            report.outcomes[outcome] += 1
        if alarm_type not in NEEDS_PERSON:
            report.technical += 1
            continue
        if status == AlarmStatus.WAITING:
            report.waiting_now += 1
            if (now - received).total_seconds() < longest:
                report.pending += 1
                continue
        report.counted += 1
        if taken is not None:
            wait = (taken - received).total_seconds()
            report.to_answer.append(wait)
            for threshold, _target in targets:
                if wait <= threshold:
                    report.answered[threshold] = report.answered.get(threshold, 0) + 1
        if first_action is not None:
            report.to_first_action.append((first_action - received).total_seconds())
        arrivals = [t for t in (on_site, checked_in) if t is not None]
        if arrivals:
            report.to_on_site.append((min(arrivals) - received).total_seconds())
    return report
