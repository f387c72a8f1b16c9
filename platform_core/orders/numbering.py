"""Human-readable order numbers: ``GD`` + local date + a per-day sequence (GD20250314-00017).

The counter row of the day is bumped with an atomic upsert, so concurrent openings on several
processes never hand out the same number. On PostgreSQL the upsert commits on a connection of its
own: inside the opening's transaction the day's row would stay locked until that commits, and
every opening in the region would wait for the one before it (a burst of openings then queues for
seconds). The price is a gap where an opening rolls back, as with any database sequence; numbers
are unique and rising, not gapless. SQLite has one writer at a time anyway and keeps the upsert in
the opening's transaction.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from platform_core.db import insert_or_else
from platform_core.orders.models import OrderNumberCounter
from platform_core.runtime import settings_of

PREFIX = "GD"  # 工单


def local_day(session: Session, at: datetime) -> str:
    return at.astimezone(ZoneInfo(settings_of(session).timezone)).strftime("%Y%m%d")


def next_order_no(session: Session, at: datetime) -> str:
    day = local_day(session, at)
    upsert = (
        insert_or_else(session, OrderNumberCounter)
        .values(day=day, last=1)
        .on_conflict_do_update(
            index_elements=[OrderNumberCounter.day], set_={"last": OrderNumberCounter.last + 1}
        )
        .returning(OrderNumberCounter.last)
    )
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and isinstance(bind, Engine):
        with bind.connect() as own:
            seq = own.execute(upsert).scalar_one()
            own.commit()
    else:
        seq = session.execute(upsert).scalar_one()
    return f"{PREFIX}{day}-{seq:05d}"
