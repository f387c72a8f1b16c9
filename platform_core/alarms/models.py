"""Alarms, every device signal behind them, the steps taken, and rejected device messages.

One alarm per device and type stays open at a time (``open_key`` is unique while the alarm is
open and NULL once it closes, which PostgreSQL and SQLite both allow many times): repeats fold
into it. Every signal is kept, once: ``(device_id, msg_key)`` is unique, so a message the broker
or a vendor delivers twice is recognised and counted, never recorded again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow

# the tables the foreign keys below name, registered with the metadata in any process
from platform_core.devices import models as _devices  # noqa: F401, E402
from platform_core.elders import models as _elders  # noqa: F401, E402
from platform_core.orders import models as _orders  # noqa: F401, E402

_BIGID = BigInteger().with_variant(Integer(), "sqlite")


class Alarm(Base):
    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_status_priority", "status", "priority", "received_at"),
        Index(
            "ix_alarms_region_prefix",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"), index=True)
    # The elder's region (the device's when it serves nobody): it scopes who sees the alarm.
    region_code: Mapped[str] = mapped_column(String(12))
    alarm_type: Mapped[str] = mapped_column(String(20))
    alarm_class: Mapped[str] = mapped_column(String(12))
    priority: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), index=True)
    # "<device_id>:<type>" while open, NULL when closed or suppressed.
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    # The condition the device reports is present (False after its restore).
    active: Mapped[bool] = mapped_column(default=True)
    event_code: Mapped[str] = mapped_column(String(20), default="")
    vendor: Mapped[str] = mapped_column(String(20), default="")
    protocol: Mapped[str] = mapped_column(String(20), default="")
    unbound: Mapped[bool] = mapped_column(default=False)  # the device serves no elder
    suppressed_reason: Mapped[str | None] = mapped_column(String(40))

    occurred_at: Mapped[datetime]  # the device's clock
    received_at: Mapped[datetime] = mapped_column(index=True)  # ours: the alarm's clock starts here
    last_signal_at: Mapped[datetime]
    signal_count: Mapped[int] = mapped_column(default=1)
    reopen_count: Mapped[int] = mapped_column(default=0)
    announced_at: Mapped[datetime | None]  # the last repeat announced to the consoles
    restored_at: Mapped[datetime | None]

    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    position_accuracy_m: Mapped[float | None]
    position_source: Mapped[str | None] = mapped_column(String(10))

    taken_at: Mapped[datetime | None]  # first handled by a person
    taken_by_user_id: Mapped[int | None]
    taken_by: Mapped[str | None] = mapped_column(String(64))
    handler_user_id: Mapped[int | None] = mapped_column(index=True)
    handler_name: Mapped[str | None] = mapped_column(String(64))
    first_action_at: Mapped[datetime | None]
    on_site_at: Mapped[datetime | None]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("service_orders.id"))
    # The emergency order needs a person's decision (nobody within reach, or nobody accepted):
    # what happened, since when, and what the dispatch found; cleared once a provider accepts.
    dispatch_issue: Mapped[str | None] = mapped_column(String(20))
    dispatch_issue_at: Mapped[datetime | None]
    dispatch_issue_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # The running timer: which rung it watches, when it runs out, and a sequence number that
    # every step bumps so a timer job that fires late knows it was overtaken.
    timer_rung: Mapped[str | None] = mapped_column(String(20))
    timer_due_at: Mapped[datetime | None]
    timer_seq: Mapped[int] = mapped_column(default=0)
    timer_level: Mapped[str | None] = mapped_column(String(12))  # agent / supervisor once prompted

    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    steps: Mapped[list[AlarmStep]] = relationship(
        back_populates="alarm", cascade="all, delete-orphan", order_by="AlarmStep.seq"
    )


_OPEN_OFFER = text("status = 'offered'")


class AlarmOffer(Base):
    """One reservation of a waiting alarm for one agent's desk (a task router's reservation).

    At most one open reservation per alarm and one per agent, whichever process routes: the two
    partial unique indexes hold it in the database. A reservation ends once: ``taken`` (the agent
    took the alarm), ``lapsed`` (not taken in time: the next agent is offered it, supervisors
    are told) or ``withdrawn`` (someone else took it, or it closed). ``desk_paused_at`` and
    ``desk_released_at`` record that the router sent the desk's pause for the offer and its
    release after a withdrawal, so each is sent once by one process.
    """

    __tablename__ = "alarm_offers"
    __table_args__ = (
        Index(
            "uq_alarm_offers_open_alarm",
            "alarm_id",
            unique=True,
            postgresql_where=_OPEN_OFFER,
            sqlite_where=_OPEN_OFFER,
        ),
        Index(
            "uq_alarm_offers_open_user",
            "user_id",
            unique=True,
            postgresql_where=_OPEN_OFFER,
            sqlite_where=_OPEN_OFFER,
        ),
        Index("ix_alarm_offers_status_expires", "status", "expires_at"),
        Index("ix_alarm_offers_user_ended", "user_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int]
    interface: Mapped[str] = mapped_column(String(80))
    agent_name: Mapped[str] = mapped_column(String(64), default="")
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="offered")
    ended_at: Mapped[datetime | None]
    assigned_by: Mapped[str | None] = mapped_column(String(64))  # a supervisor's assignment
    desk_paused_at: Mapped[datetime | None]
    desk_released_at: Mapped[datetime | None]


class AlarmSignal(Base):
    """One alarm or restore message as received, linked to the alarm it raised or touched."""

    __tablename__ = "alarm_signals"
    __table_args__ = (UniqueConstraint("device_id", "msg_key"),)

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), index=True)
    msg_key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(8))  # alarm / restore
    alarm_type: Mapped[str] = mapped_column(String(20))
    event_code: Mapped[str] = mapped_column(String(20), default="")
    result: Mapped[str] = mapped_column(String(20))  # raised, folded, restored, ...
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(index=True)
    transport: Mapped[str] = mapped_column(String(6))
    vendor: Mapped[str] = mapped_column(String(20))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    raw: Mapped[str] = mapped_column(Text, default="")


class AlarmStep(Base):
    """Who did what on an alarm, when, and how it went. Never updated."""

    __tablename__ = "alarm_steps"
    __table_args__ = (UniqueConstraint("alarm_id", "seq"),)

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"))
    seq: Mapped[int]
    step: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(12))
    contact_id: Mapped[int | None]
    order_id: Mapped[int | None]
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    alarm: Mapped[Alarm] = relationship(back_populates="steps")


class RejectedDeviceMessage(Base):
    """A device message the intake could not use (malformed, unsigned, unknown device), kept
    for the vendor's support desk; a flood is sampled, its size is counted."""

    __tablename__ = "rejected_device_messages"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    transport: Mapped[str] = mapped_column(String(6))
    vendor: Mapped[str] = mapped_column(String(20), default="")
    source: Mapped[str] = mapped_column(String(200), default="")  # topic or remote address
    reason: Mapped[str] = mapped_column(String(30), index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")
    raw: Mapped[str] = mapped_column(Text, default="")
    # How many rejects of the same reason and vendor this row stands for (the sampled flood).
    count: Mapped[int] = mapped_column(default=1)
