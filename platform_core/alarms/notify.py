"""Text messages about alarms and devices: the one place that knows how an SMS goes out.

Until the platform's notification service takes SMS over, messages wait in the alarm outbox
(:class:`AlarmNotice`); swapping this module's body is all it takes to switch.
"""

from __future__ import annotations

import logging

from sqlalchemy import insert
from sqlalchemy.orm import Session

from platform_core.alarms.models import AlarmNotice

log = logging.getLogger(__name__)


def send_sms(
    session: Session,
    *,
    to_number: str,
    text: str,
    kind: str,
    region_code: str,
    to_name: str = "",
    alarm_id: int | None = None,
    elder_id: int | None = None,
) -> AlarmNotice:
    """Queue one SMS (flushed with the caller's unit of work)."""
    notice = AlarmNotice(
        alarm_id=alarm_id,
        elder_id=elder_id,
        region_code=region_code,
        kind=kind,
        to_number=to_number,
        to_name=to_name,
        text=text,
    )
    session.add(notice)
    session.flush()
    return notice


def send_many(session: Session, *, messages: list[dict[str, object]]) -> int:
    """Queue many SMS in one statement (an alarm burst). Each dict has send_sms's fields."""
    if not messages:
        return 0
    session.connection().execute(
        insert(AlarmNotice.__table__), [{"status": "queued", **m} for m in messages]
    )
    return len(messages)
