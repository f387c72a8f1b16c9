"""Human-readable order numbers: ``GD`` + local date + a per-day sequence (GD20250314-00017).

The counter row of the day is bumped with an atomic upsert, so concurrent openings on several
processes never hand out the same number; on PostgreSQL the row stays locked until the opening
transaction commits, which orders the numbers as the orders are committed.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from platform_core.orders.models import OrderNumberCounter
from platform_core.settings import Settings

PREFIX = "GD"  # 工单


def local_day(session: Session, at: datetime) -> str:
    settings: Settings = session.info.get("settings") or Settings()
    return at.astimezone(ZoneInfo(settings.timezone)).strftime("%Y%m%d")


def next_order_no(session: Session, at: datetime) -> str:
    day = local_day(session, at)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = (
        insert(OrderNumberCounter)
        .values(day=day, last=1)
        .on_conflict_do_update(
            index_elements=[OrderNumberCounter.day], set_={"last": OrderNumberCounter.last + 1}
        )
        .returning(OrderNumberCounter.last)
    )
    seq = session.execute(upsert).scalar_one()
    return f"{PREFIX}{day}-{seq:05d}"
