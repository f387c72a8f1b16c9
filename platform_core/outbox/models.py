"""The transactional outbox: work a transaction starts later, written in that transaction.

A row is either one job (a dotted function path, its arguments, its deterministic job id and
queue, and when it is due) or the domain events of one transaction. It is handed on after the
commit (platform_core.outbox.relay) and deleted once its work is safely elsewhere: events once
published; jobs once queued in-process, or, on RQ, once the job ran to an end (until then the row
remembers when it was handed, so a job lost with a killed worker or a Redis restart runs again).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class EntryKind(StrEnum):
    JOB = "job"
    EVENTS = "events"


class OutboxEntry(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # what the relay looks for: not yet handed on, and its turn has come
        Index(
            "ix_outbox_waiting",
            "relay_after",
            postgresql_where=text("handed_at IS NULL"),
            sqlite_where=text("handed_at IS NULL"),
        ),
        Index(
            "ix_outbox_handed",
            "handed_at",
            postgresql_where=text("handed_at IS NOT NULL"),
            sqlite_where=text("handed_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    # jobs: the function ("platform_core.dispatch.jobs:dispatch_order"), its id and queue
    func_path: Mapped[str | None] = mapped_column(String(120))
    job_id: Mapped[str | None] = mapped_column(String(160))
    queue: Mapped[str | None] = mapped_column(String(40))
    # jobs: the positional arguments; events: the envelopes, in the order they were published
    payload: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # a job that must not run before this time (a timer); None: as soon as committed
    due_at: Mapped[datetime | None]
    # when the relay may take the row: the due time, or a grace after the commit in which the
    # committing process hands it on itself
    relay_after: Mapped[datetime]
    # an RQ job queued at this time and not yet seen to end
    handed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
