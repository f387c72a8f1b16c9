from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[int]
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    # Landline area code of the 盟市 (0471 ...), used to complete local numbers.
    area_code: Mapped[str | None] = mapped_column(String(5))
    dictionary_version: Mapped[str] = mapped_column(String(40))


class RegionAlias(Base):
    """An old code still met in data and the code it means today."""

    __tablename__ = "region_aliases"

    old_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    note: Mapped[str] = mapped_column(String(120), default="")
    dictionary_version: Mapped[str] = mapped_column(String(40))
