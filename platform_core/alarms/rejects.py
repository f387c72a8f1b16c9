"""Rejected device messages as the support desk reads them: how many of what, and the latest.

The intake stores them (callcenter/alarm_intake/rejects.py): a sample of each reason and vendor
in full, the rest of a flood on one row whose ``count`` says how many it stands for, so the
totals here are sums of ``count``, not numbers of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.alarms.models import RejectedDeviceMessage
from platform_core.audit import service as audit


@dataclass(frozen=True)
class RejectTotal:
    reason: str
    vendor: str
    messages: int  # rejected messages (a flood's summary row counts for all it stands for)
    rows: int  # rows kept
    last_at: datetime


def reject_totals(
    session: Session, *, since: datetime, until: datetime | None = None
) -> list[RejectTotal]:
    """Rejected messages by reason and vendor since ``since``, the most frequent first."""
    query = (
        select(
            RejectedDeviceMessage.reason,
            RejectedDeviceMessage.vendor,
            func.sum(RejectedDeviceMessage.count),
            func.count(),
            func.max(RejectedDeviceMessage.received_at),
        )
        .where(RejectedDeviceMessage.received_at >= since)
        .group_by(RejectedDeviceMessage.reason, RejectedDeviceMessage.vendor)
        .order_by(func.sum(RejectedDeviceMessage.count).desc(), RejectedDeviceMessage.reason)
    )
    if until is not None:
        query = query.where(RejectedDeviceMessage.received_at < until)
    return [
        RejectTotal(r, v, int(n), int(rows), last) for r, v, n, rows, last in session.execute(query)
    ]


def latest_rejects(
    session: Session,
    *,
    since: datetime,
    actor: Actor,
    reason: str | None = None,
    vendor: str | None = None,
    limit: int = 20,
    with_raw: bool = False,
) -> list[dict[str, Any]]:
    """The latest rejected messages, newest first. Their raw text (it may carry an elder's
    position) only ``with_raw``, and that reading is audited."""
    query = (
        select(RejectedDeviceMessage)
        .where(RejectedDeviceMessage.received_at >= since)
        .order_by(RejectedDeviceMessage.received_at.desc(), RejectedDeviceMessage.id.desc())
        .limit(limit)
    )
    if reason:
        query = query.where(RejectedDeviceMessage.reason == reason)
    if vendor:
        query = query.where(RejectedDeviceMessage.vendor == vendor)
    rows = list(session.scalars(query))
    if with_raw and rows:
        audit.record(
            session,
            actor=actor,
            action="view_rejected_raw",
            target_type="rejected_device_messages",
            detail={"ids": [r.id for r in rows]},
        )
    return [
        {
            "id": r.id,
            "received_at": r.received_at.isoformat(),
            "reason": r.reason,
            "vendor": r.vendor,
            "transport": r.transport,
            "source": r.source,
            "detail": r.detail,
            "count": r.count,
            **({"raw": r.raw} if with_raw else {}),
        }
        for r in rows
    ]
