"""The device registry: every smart device, its SIM, its elder and its status history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_type: Mapped[str] = mapped_column(String(20), index=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    imei: Mapped[str | None] = mapped_column(String(15), unique=True)
    # Canonical digits (phones.normalize_phone): caller identification matches the SIM on it.
    sim_number: Mapped[str | None] = mapped_column(String(20), index=True)
    vendor: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(20), default="in_stock", index=True)
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    heartbeat_interval_s: Mapped[int | None]
    last_heartbeat_at: Mapped[datetime | None]
    battery_pct: Mapped[int | None]
    bound_at: Mapped[datetime | None]
    installed_at: Mapped[datetime | None]
    # End of the service period: repairs and replacements before it are free of charge.
    service_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    changes: Mapped[list[DeviceStatusChange]] = relationship(
        back_populates="device", cascade="all, delete-orphan", order_by="DeviceStatusChange.id"
    )


class HeartbeatHour(Base):
    """A device's heartbeats of one hour, folded: how many, when the first and last came, and the
    battery they told (lowest, highest, last). Heartbeats can come every few minutes from ten
    thousand devices, so the history is one row per device and hour, kept
    ``device_heartbeat_history_days``; the device row holds only the latest."""

    __tablename__ = "device_heartbeat_hours"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    hour_start: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    beats: Mapped[int]
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    battery_min: Mapped[int | None]
    battery_max: Mapped[int | None]
    battery_last: Mapped[int | None]
    # When the row was last written (beats may come in late, for an hour long past): the
    # warehouse reads the rows written since its last pass.
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DeviceStatusChange(Base):
    """Every status change with who, when and why."""

    __tablename__ = "device_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    elder_id: Mapped[int | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(255), default="")

    device: Mapped[Device] = relationship(back_populates="changes")


class MaintenanceTicket(Base):
    """A repair (报修) or a recovery after death, with its on-site deadline and how it ended.

    One ticket of each kind per device is open at a time (``open_key`` is unique while open):
    a second fault report of the same device folds into it.
    """

    __tablename__ = "device_maintenance_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # repair / recovery
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)  # open, on_site, resolved
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(String(10))  # device, agent, alarm, death
    fault: Mapped[str] = mapped_column(String(500), default="")
    fault_code: Mapped[str] = mapped_column(String(20), default="")
    reports: Mapped[int] = mapped_column(default=1)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(64))
    on_site_due_at: Mapped[datetime] = mapped_column(index=True)
    technician: Mapped[str | None] = mapped_column(String(64))
    assigned_at: Mapped[datetime | None]
    on_site_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    escalations: Mapped[int] = mapped_column(default=0)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(
        String(12)
    )  # repaired, replaced, recovered, no_fault
    within_service_period: Mapped[bool | None]
    free_of_charge: Mapped[bool | None]
    replacement_device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    note: Mapped[str] = mapped_column(String(1000), default="")


class DeviceReturnVisit(Base):
    """A periodic return visit (回访) about how an elder gets on with their devices."""

    __tablename__ = "device_return_visits"
    __table_args__ = (UniqueConstraint("elder_id", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(
        String(10), default="scheduled"
    )  # scheduled, done, cancelled
    result: Mapped[str | None] = mapped_column(String(20))
    # {"device_id": "working" | "not_used" | "problem", ...} as the elder or family said
    devices: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(String(1000), default="")
    visited_at: Mapped[datetime | None]
    visited_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
