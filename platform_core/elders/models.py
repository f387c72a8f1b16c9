"""The elder profile (DOMAIN.md section 4) and its child tables.

The ID number is stored only sealed (AES-GCM) with a keyed blind index for equality lookup and
its masked display form; health details are sealed as one JSON document. Phone numbers of the
elder and of the emergency contacts are stored as canonical digits (``phones.normalize_phone``)
and indexed, because caller identification looks them up on every ringing phone.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow


class Elder(Base):
    __tablename__ = "elders"
    __table_args__ = (
        # ``regions.service.within`` scopes by code prefix (LIKE '1501%'): needs pattern ops on PostgreSQL.
        Index(
            "ix_elders_region_prefix",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    id_number_sealed: Mapped[str] = mapped_column(Text)
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    sex: Mapped[str] = mapped_column(String(6))
    birth_date: Mapped[date] = mapped_column(Date)
    ethnicity_code: Mapped[str] = mapped_column(String(2), default="01")
    photo_path: Mapped[str | None] = mapped_column(String(255))

    household_address: Mapped[str | None] = mapped_column(String(255))
    household_region_code: Mapped[str | None] = mapped_column(String(12))
    address: Mapped[str] = mapped_column(String(255))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]

    living_arrangement: Mapped[str] = mapped_column(String(20))
    ability_grade: Mapped[str | None] = mapped_column(String(20))
    ability_assessed_on: Mapped[date | None] = mapped_column(Date)
    # {"chronic_illnesses": [...], "allergies": [...], "medications": [...], "disabilities": [...],
    #  "notes": "..."} sealed: health data is sensitive personal information (GB/T 35273).
    health_sealed: Mapped[str | None] = mapped_column(Text)

    housing_floor: Mapped[int | None]
    housing_has_elevator: Mapped[bool | None] = mapped_column(Boolean)
    housing_bathroom: Mapped[str | None] = mapped_column(String(40))
    housing_risks: Mapped[list[str]] = mapped_column(JSON, default=list)

    ivr_language: Mapped[str] = mapped_column(String(2), default="zh")
    risk_level: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    deceased_on: Mapped[date | None] = mapped_column(Date)
    moved_on: Mapped[date | None] = mapped_column(Date)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    phones: Mapped[list[ElderPhone]] = relationship(
        back_populates="elder", cascade="all, delete-orphan", order_by="ElderPhone.id"
    )
    contacts: Mapped[list[EmergencyContact]] = relationship(
        back_populates="elder",
        cascade="all, delete-orphan",
        order_by="[EmergencyContact.priority, EmergencyContact.id]",
    )
    categories: Mapped[list[ElderCategory]] = relationship(
        back_populates="elder", cascade="all, delete-orphan", order_by="ElderCategory.id"
    )
    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="elder", cascade="all, delete-orphan", order_by="ConsentRecord.id"
    )
    provenance: Mapped[list[FieldProvenance]] = relationship(
        back_populates="elder", cascade="all, delete-orphan", order_by="FieldProvenance.field"
    )


class ElderPhone(Base):
    __tablename__ = "elder_phones"
    __table_args__ = (UniqueConstraint("elder_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # PhoneUse: home / mobile

    elder: Mapped[Elder] = relationship(back_populates="phones")


class EmergencyContact(Base):
    __tablename__ = "emergency_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[int] = mapped_column(default=1)
    holds_key: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(255))

    elder: Mapped[Elder] = relationship(back_populates="contacts")


class ElderCategory(Base):
    __tablename__ = "elder_categories"
    __table_args__ = (UniqueConstraint("elder_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(30), index=True)
    subtype: Mapped[str | None] = mapped_column(String(20))
    grade: Mapped[int | None]
    certified_on: Mapped[date | None] = mapped_column(Date)

    elder: Mapped[Elder] = relationship(back_populates="categories")


class ConsentRecord(Base):
    """Consent to collect and use personal data; a guardian's where capacity is limited."""

    __tablename__ = "elder_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    consenter_name: Mapped[str] = mapped_column(String(64))
    consenter_relation: Mapped[str] = mapped_column(String(20))  # 本人, 子女, 配偶, 监护人 ...
    by_guardian: Mapped[bool] = mapped_column(Boolean, default=False)
    scope: Mapped[list[str]] = mapped_column(JSON, default=list)
    consented_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    elder: Mapped[Elder] = relationship(back_populates="consents")


class FieldProvenance(Base):
    """Where an imported field's current value came from (one row per elder and field)."""

    __tablename__ = "elder_field_provenance"
    __table_args__ = (UniqueConstraint("elder_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    source_department: Mapped[str] = mapped_column(String(60))
    batch: Mapped[str] = mapped_column(String(60))
    imported_at: Mapped[datetime]

    elder: Mapped[Elder] = relationship(back_populates="provenance")
