"""A league's (or the whole region's) overrides of a care module's policy section."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class CarePolicyRow(Base):
    """One league's (or, for the province code, the whole region's) overrides of one section."""

    __tablename__ = "care_policies"
    __table_args__ = (UniqueConstraint("league_code", "section"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    league_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    section: Mapped[str] = mapped_column(String(30))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
