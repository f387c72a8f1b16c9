"""The device registry: every smart device, its SIM, its elder and its status history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    changes: Mapped[list[DeviceStatusChange]] = relationship(
        back_populates="device", cascade="all, delete-orphan", order_by="DeviceStatusChange.id"
    )


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
